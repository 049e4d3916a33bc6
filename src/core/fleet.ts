/**
 * `scan` over many daemons (contexts): each daemon is scanned by its own runScan, with its own
 * helper on its own daemon, at most `parallel` at a time. A daemon that fails (cannot be reached,
 * refuses the helper, times out) is reported in its entry while the others go on; an interrupt
 * stops every scan in flight (each removes its helper in its own `finally`) and starts no more.
 */
import { InterruptedError } from "../errors.js";
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
  /** A daemon's state changed, or its scan reported progress. */
  onState?: (context: string, state: DaemonState, event?: ProgressEvent) => void;
}

/** Results in the members' order. Throws InterruptedError when the signal stopped it. */
export async function runFleetScan(
  members: readonly FleetMember[],
  opts: FleetOptions,
): Promise<DaemonResult[]> {
  const results: DaemonResult[] = new Array(members.length);
  for (const m of members) opts.onState?.(m.context, "waiting");
  let next = 0;
  const scanOne = async (m: FleetMember): Promise<DaemonResult> => {
    const base = { context: m.context, endpoint: m.endpoint };
    opts.onState?.(m.context, "scanning");
    try {
      const deps = m.connect();
      const onProgress = (e: ProgressEvent) => {
        deps.onProgress?.(e);
        opts.onState?.(m.context, "scanning", e);
      };
      const report = await runScan({ ...deps, onProgress }, opts.scan);
      opts.onState?.(m.context, "done");
      return { ...base, status: "ok", report };
    } catch (error) {
      opts.onState?.(m.context, "failed");
      return { ...base, status: "error", error };
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
