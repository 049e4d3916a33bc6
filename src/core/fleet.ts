/**
 * `scan` over many daemons (contexts): each daemon is scanned by its own runScan, with its own
 * helper on its own daemon, at most `parallel` at a time. A daemon that fails (cannot be reached,
 * refuses the helper, times out) is reported in its entry while the others go on; an interrupt
 * stops every scan in flight (each removes its helper in its own `finally`) and starts no more.
 * Each daemon's whole scan has a deadline: past it, that scan alone is stopped the way an
 * interrupt stops it, so that a daemon that accepts connections but never answers cannot hold
 * the fleet.
 */
import { formatDuration } from "../docker/helper-runner.js";
import { InterruptedError, LeakError } from "../errors.js";
import type { ScanReport } from "../model/findings.js";
import type { CoreDeps, ProgressEvent } from "./deps.js";
import { runScan, type ScanOptions } from "./scan.js";

export interface FleetMember {
  /** The context's name. */
  context: string;
  /** Where its daemon is (for the output), e.g. ssh://root@node-1. */
  endpoint: string;
  /** The member's dependencies, made when its turn comes (connecting may fail: a failed entry). */
  connect: () => CoreDeps;
}

export type DaemonState = "waiting" | "scanning" | "done" | "failed";

export interface DaemonResult {
  context: string;
  endpoint: string;
  status: "ok" | "error";
  report?: ScanReport;
  error?: unknown;
}

export interface FleetOptions {
  scan: ScanOptions;
  /** Daemons scanned at the same time. */
  parallel: number;
  signal?: AbortSignal;
  /** Bound of each daemon's whole scan, from its start (0 or absent: none). */
  deadlineMs?: number;
  /**
   * How long a stopped scan (deadline or interrupt) is awaited to remove its helper before its
   * entry is given up on (a daemon that never answers never confirms anything). Default 15 s.
   */
  stopGraceMs?: number;
  /** Calls `fire` after `ms` unless the returned cancel is called first (tests pass their own). */
  setTimer?: (ms: number, fire: () => void) => () => void;
  /** A daemon's state changed, or its scan reported progress. */
  onState?: (context: string, state: DaemonState, event?: ProgressEvent) => void;
}

/** A daemon whose scan did not end within the deadline; it was stopped. */
export class DaemonTimeoutError extends LeakError {
  override name = "DaemonTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(
      `timed out after ${formatDuration(timeoutMs)}: the scan of this daemon was stopped`,
      "A daemon that does not answer, or answers slowly, can cause this; --timeout allows longer.",
    );
  }
}

const defaultTimer = (ms: number, fire: () => void) => {
  const timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
};

/** Results in the members' order. Throws InterruptedError when the signal stopped it. */
export async function runFleetScan(
  members: readonly FleetMember[],
  opts: FleetOptions,
): Promise<DaemonResult[]> {
  const results: DaemonResult[] = new Array(members.length);
  for (const m of members) opts.onState?.(m.context, "waiting");
  let next = 0;
  const setTimer = opts.setTimer ?? defaultTimer;
  const scanOne = async (m: FleetMember): Promise<DaemonResult> => {
    const base = { context: m.context, endpoint: m.endpoint };
    opts.onState?.(m.context, "scanning");
    // This daemon's own stop: the fleet's interrupt, or its deadline.
    const stop = new AbortController();
    let timedOut = false;
    let helperStarted = false;
    const scanning = (async () => {
      const deps = m.connect();
      const onProgress = (e: ProgressEvent) => {
        if (e.kind === "scan") helperStarted = true;
        deps.onProgress?.(e);
        opts.onState?.(m.context, "scanning", e);
      };
      return runScan({ ...deps, signal: stop.signal, onProgress }, opts.scan);
    })();
    // A stopped scan removes its helper and ends; one whose daemon never answers does not, so it
    // is awaited only for a while after the stop, and not at all before its helper was started.
    const stopped = new Promise<never>((_, reject) => {
      const giveUp = () => reject(new InterruptedError("SIGINT"));
      stop.signal.addEventListener(
        "abort",
        () => {
          if (!helperStarted) return giveUp();
          const cancel = setTimer(opts.stopGraceMs ?? 15_000, giveUp);
          scanning.then(cancel, cancel);
        },
        { once: true },
      );
    });
    stopped.catch(() => undefined);
    const onInterrupt = () => stop.abort();
    opts.signal?.addEventListener("abort", onInterrupt, { once: true });
    if (opts.signal?.aborted) stop.abort();
    const cancelDeadline = opts.deadlineMs
      ? setTimer(opts.deadlineMs, () => {
          timedOut = true;
          stop.abort();
        })
      : () => undefined;
    try {
      const report = await Promise.race([scanning, stopped]);
      if (timedOut) throw new DaemonTimeoutError(opts.deadlineMs!);
      opts.onState?.(m.context, "done");
      return { ...base, status: "ok", report };
    } catch (caught) {
      const error = timedOut ? new DaemonTimeoutError(opts.deadlineMs!) : caught;
      opts.onState?.(m.context, "failed");
      return { ...base, status: "error", error };
    } finally {
      cancelDeadline();
      opts.signal?.removeEventListener("abort", onInterrupt);
    }
  };
  const worker = async () => {
    while (next < members.length && !opts.signal?.aborted) {
      const i = next++;
      results[i] = await scanOne(members[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel, members.length)) }, worker));
  if (opts.signal?.aborted) throw new InterruptedError("SIGINT");
  return results;
}
