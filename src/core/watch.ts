/**
 * `watch`: follows the daemon's events and scans after those that can give birth to a leak (a
 * container dies, stops or is removed; a volume is unmounted or removed; the daemon reloads).
 * Events are debounced into batches, so that a burst of stops costs a few helper runs; one helper
 * runs at a time. Each finding is reported once (keyed by target, holder namespace and mount),
 * again if its severity changes, and `released` once it is gone. Optional: a periodic full scan,
 * and (`release`) leaked copies released at once through the same unmount orders as
 * `rm --force-unmount`. The stream is followed again with backoff when it breaks, and everything
 * is scanned once after, since events were missed meanwhile. Returns when `deps.signal` aborts.
 */
import type { DaemonEvent, EventStream } from "../docker/client.js";
import { LABEL_HELPER } from "../docker/helper-image.js";
import { InterruptedError } from "../errors.js";
import type { UmountResultRecord } from "../helper/protocol.js";
import { analyze } from "../model/analyze.js";
import { scanFilters } from "../model/daemon.js";
import type { Finding, ScanReport } from "../model/findings.js";
import type { Inventory } from "../model/inventory.js";
import { planUnmounts } from "../model/removal.js";
import {
  emptyWatchStats,
  findingKey,
  isReleasable,
  targetKeyOf,
  type WatchCause,
  type WatchRecord,
  type WatchStats,
  type WatchStatus,
} from "../model/watch.js";
import type { CoreDeps } from "./deps.js";
import { unmountFailure } from "./removal.js";
import { HelperSession, startLookup } from "./session.js";
import { takeSurvey } from "./survey.js";

/** The events that can reveal a leak, as `docker events --filter` takes them. */
export const WATCHED_EVENTS: Readonly<Record<string, string[]>> = {
  type: ["container", "volume", "daemon"],
  event: ["die", "stop", "destroy", "unmount", "reload"],
};

export interface WatchOptions {
  /** A full scan this often (ms); 0: only after events */
  intervalMs: number;
  /** Release leaked copies of stopped/removed containers and unused volumes */
  release: boolean;
  /** With release: only say what would be released */
  dryRun: boolean;
  /** Quiet time after the last event before a batch is scanned (ms) */
  debounceMs?: number;
  /** Longest a batch waits once its first event arrived (ms) */
  maxDelayMs?: number;
  /** First and longest wait before following the stream again, or retrying a failed scan (ms) */
  backoffMs?: { first: number; max: number };
}

export type { ReleaseAction, WatchCause, WatchRecord, WatchStats, WatchStatus } from "../model/watch.js";
export { findingKey, isReleasable, targetKeyOf } from "../model/watch.js";

export interface WatchSink {
  record(r: WatchRecord): void;
  status?(s: WatchStatus): void;
  /** After every scan, successful or not. */
  scanned?(stats: WatchStats): void;
}

interface Batch {
  /** Targets to report on, by key, with the first event that named them */
  targets: Map<string, WatchCause>;
  /** Set: report on every target (start, interval, reconnect, daemon reload) */
  full: WatchCause | null;
}

/** The scan target a daemon event names, or null (a full scan), or undefined (not ours to watch). */
export function eventTarget(e: DaemonEvent): string | null | undefined {
  if (e.type === "container") {
    // Our own helper containers come and go with every scan: never a reason for one.
    if (e.attributes[LABEL_HELPER] !== undefined) return undefined;
    return ["die", "stop", "destroy"].includes(e.action) && e.id ? `container:${e.id}` : undefined;
  }
  if (e.type === "volume")
    return ["unmount", "destroy"].includes(e.action) && e.id ? `volume:${e.id}` : undefined;
  if (e.type === "daemon") return e.action === "reload" ? null : undefined;
  return undefined;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

export async function runWatch(deps: CoreDeps, opts: WatchOptions, sink: WatchSink): Promise<void> {
  await new Watcher(deps, opts, sink).run();
}

class Watcher {
  private readonly known = new Map<string, Finding>();
  /** Findings whose release failed (or was shown, in a dry run): not tried again while they last */
  private readonly releaseTried = new Set<string>();
  private pending: Batch = { targets: new Map(), full: null };
  private firstPendingAt = 0;
  private lastEventAt = 0;
  private wake: (() => void) | null = null;
  /** When the next periodic full scan is due (ms since the epoch) */
  private intervalDue = Number.POSITIVE_INFINITY;
  private stream: EventStream | null = null;
  private readonly stats: WatchStats = emptyWatchStats();
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly backoff: { first: number; max: number };
  private readonly stop: AbortSignal;
  private readonly stopController = new AbortController();

  constructor(
    private readonly deps: CoreDeps,
    private readonly opts: WatchOptions,
    private readonly sink: WatchSink,
  ) {
    this.debounceMs = opts.debounceMs ?? 300;
    this.maxDelayMs = opts.maxDelayMs ?? 2000;
    this.backoff = opts.backoffMs ?? { first: 500, max: 30_000 };
    this.stop = deps.signal ?? this.stopController.signal;
    this.stop.addEventListener("abort", () => {
      this.stream?.close();
      this.poke();
    });
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** A scan the watch itself asks for: at the start, after reconnecting, every --interval. */
  private ownCause(action: "start" | "reconnect" | "interval"): WatchCause {
    return { type: "watch", action, id: null, name: null, time: this.now() };
  }

  async run(): Promise<void> {
    if (this.stop.aborted) return;
    await Promise.all([this.follow(), this.scanLoop()]);
  }

  private poke(): void {
    this.wake?.();
  }

  private requestFull(cause: WatchCause): void {
    if (!this.pending.full) this.pending.full = cause;
    this.markPending();
  }

  private markPending(): void {
    const t = Date.now();
    if (!this.firstPendingAt) this.firstPendingAt = t;
    this.lastEventAt = t;
    this.poke();
  }

  /** Follows the event stream; on a break, waits (backoff) and follows again, then asks for a full scan. */
  private async follow(): Promise<void> {
    let wait = this.backoff.first;
    let connectedBefore = false;
    while (!this.stop.aborted) {
      try {
        this.stream = await this.deps.docker.events({ ...WATCHED_EVENTS });
        if (this.stop.aborted) {
          this.stream.close();
          break;
        }
        this.stats.daemonReachable = true;
        this.sink.status?.({ kind: "connected", again: connectedBefore });
        this.requestFull(this.ownCause(connectedBefore ? "reconnect" : "start"));
        connectedBefore = true;
        wait = this.backoff.first;
        for await (const e of this.stream) this.onEvent(e);
        if (this.stop.aborted) break;
        throw new Error("the daemon's event stream ended");
      } catch (err) {
        if (this.stop.aborted) break;
        this.stats.daemonReachable = false;
        const message = err instanceof Error ? err.message : String(err);
        this.sink.status?.({ kind: "disconnected", message, retryInMs: wait });
        await sleep(wait, this.stop);
        wait = Math.min(wait * 2, this.backoff.max);
      } finally {
        this.stream = null;
      }
    }
  }

  private onEvent(e: DaemonEvent): void {
    this.stats.events++;
    const target = eventTarget(e);
    if (target === undefined) return;
    const cause: WatchCause = {
      type: e.type,
      action: e.action,
      id: e.id || null,
      name: e.attributes.name ?? null,
      time: new Date(e.timeMs || Date.now()),
    };
    if (target === null) this.requestFull(cause);
    else {
      if (!this.pending.targets.has(target)) this.pending.targets.set(target, cause);
      this.markPending();
    }
  }

  private hasPending(): boolean {
    return this.pending.full !== null || this.pending.targets.size > 0;
  }

  /** Waits until a batch is due (debounced), or the interval's full scan; false when stopping. */
  private async nextBatch(): Promise<Batch | null> {
    while (!this.stop.aborted) {
      const t = Date.now();
      if (t >= this.intervalDue) {
        this.requestFull(this.ownCause("interval"));
        this.intervalDue = Number.POSITIVE_INFINITY;
        continue;
      }
      let due = this.intervalDue;
      if (this.hasPending()) {
        due = Math.min(this.lastEventAt + this.debounceMs, this.firstPendingAt + this.maxDelayMs);
        if (t >= due) {
          const batch = this.pending;
          this.pending = { targets: new Map(), full: null };
          // Every full scan restarts the interval, whatever asked for it.
          if (batch.full && this.opts.intervalMs > 0) this.intervalDue = t + this.opts.intervalMs;
          this.firstPendingAt = 0;
          return batch;
        }
      }
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(due) ? setTimeout(resolve, Math.max(0, due - t)) : null;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    return null;
  }

  private async scanLoop(): Promise<void> {
    let retry = this.backoff.first;
    for (;;) {
      const batch = await this.nextBatch();
      if (!batch) return;
      const ok = await this.scanBatch(batch);
      if (this.stop.aborted) return;
      if (ok) {
        retry = this.backoff.first;
        continue;
      }
      // Retried later: the batch goes back, merged with what arrived meanwhile.
      await sleep(retry, this.stop);
      retry = Math.min(retry * 2, this.backoff.max);
      if (batch.full) this.requestFull(batch.full);
      for (const [k, c] of batch.targets) if (!this.pending.targets.has(k)) this.pending.targets.set(k, c);
      this.markPending();
    }
  }

  /** One scan (one helper run), the diff against what is known, and the releases. */
  private async scanBatch(batch: Batch): Promise<boolean> {
    const started = performance.now();
    const scope = (f: Finding): WatchCause | null => batch.targets.get(targetKeyOf(f.target)) ?? batch.full;
    let ok = false;
    try {
      await this.scanOnce(async (report, session) => {
        const time = this.now();
        const seen = new Set<string>();
        for (const f of report.findings) {
          const cause = scope(f);
          if (!cause) continue; // not a target of this batch: reported by the scan that names it
          const key = findingKey(f);
          seen.add(key);
          const before = this.known.get(key);
          this.known.set(key, f);
          if (!before || before.severity !== f.severity)
            this.sink.record({ kind: "finding", time, cause, finding: f });
        }
        for (const [key, f] of this.known) {
          const cause = scope(f);
          if (!cause || seen.has(key)) continue;
          this.known.delete(key);
          this.releaseTried.delete(key);
          this.sink.record({ kind: "released", time, cause, finding: f });
        }
        if (this.opts.release) await this.release(report, session, scope);
      });
      ok = true;
      this.stats.scans.ok++;
      this.stats.lastSuccess = this.now();
    } catch (err) {
      if (this.stop.aborted || err instanceof InterruptedError) return false;
      this.stats.scans.failed++;
      const message = err instanceof Error ? err.message : String(err);
      this.sink.record({
        kind: "error",
        time: this.now(),
        cause: batch.full ?? firstOf(batch.targets),
        message,
      });
    }
    const seconds = (performance.now() - started) / 1000;
    this.stats.lastScanSeconds = seconds;
    this.stats.scanSecondsTotal += seconds;
    this.stats.findings = [...this.known.values()];
    this.sink.scanned?.({
      ...this.stats,
      scans: { ...this.stats.scans },
      releases: { ...this.stats.releases },
    });
    return ok;
  }

  /** Like runScan on every target, with the session kept open for the releases. */
  private async scanOnce(use: (report: ScanReport, session: HelperSession) => Promise<void>): Promise<void> {
    const { deps } = this;
    const lookup = startLookup(deps);
    const survey = await takeSurvey(deps.docker);
    const session = await HelperSession.open(deps, survey.daemon, lookup);
    try {
      this.stats.helperRuns++;
      const run = session.scan({ filters: scanFilters(survey), deep: false });
      const [scan, containers] = await Promise.all([run.scan, survey.containers]);
      // One helper at a time: this one is gone before another (an unmount) starts.
      await run.finished;
      const inventory: Inventory = { daemon: survey.daemon, volumes: survey.volumes, containers };
      const report = analyze({
        inventory,
        scan,
        now: this.now(),
        helperContainers: session.helperContainers(containers),
      });
      await use(report, session);
    } finally {
      await session.close();
    }
  }

  private async release(
    report: ScanReport,
    session: HelperSession,
    scope: (f: Finding) => WatchCause | null,
  ): Promise<void> {
    // Nothing can be proven to be a target's when the daemon's own namespace is unknown.
    if (report.daemon.foundBy === "none") return;
    const plan = planUnmounts(
      report.findings,
      (f) => isReleasable(f) && scope(f) !== null && !this.releaseTried.has(findingKey(f)),
    );
    if (!plan.length) return;
    if (this.opts.dryRun) {
      const time = this.now();
      for (const p of plan) {
        const key = findingKey(p.finding);
        this.releaseTried.add(key); // said once
        this.sink.record({
          kind: "release",
          time,
          cause: scope(p.finding)!,
          finding: p.finding,
          action: { result: "dry-run", message: null },
        });
      }
      return;
    }
    this.stats.helperRuns++;
    const results: (UmountResultRecord | undefined)[] = [];
    await session.unmount(
      plan.map((p) => p.order),
      (r) => {
        results[r.index] = r;
      },
    );
    plan.forEach((p, i) => {
      const r = results[i];
      const key = findingKey(p.finding);
      const cause = scope(p.finding)!;
      // Docker removes a stopped container's netns file a while after the stop, and the kernel
      // drops every copy of it: a mount point that no longer resolves is a copy already gone.
      const gone =
        r?.ok === false &&
        r.stage === "resolve" &&
        r.errno === "ENOENT" &&
        p.finding.resource.kind === "netns";
      const ok = r?.ok === true || gone;
      if (r?.ok === true) this.stats.releases.done++;
      else if (!gone) this.stats.releases.failed++;
      const message = ok
        ? null
        : r
          ? unmountFailure(r, p.finding)
          : "the helper gave no result for this order";
      this.sink.record({
        kind: "release",
        time: this.now(),
        cause,
        finding: p.finding,
        action: { result: gone ? "gone" : ok ? "released" : "failed", message },
      });
      if (ok) {
        this.known.delete(key);
        this.sink.record({ kind: "released", time: this.now(), cause, finding: p.finding });
      } else this.releaseTried.add(key);
    });
  }
}

function firstOf(targets: Map<string, WatchCause>): WatchCause | null {
  for (const c of targets.values()) return c;
  return null;
}
