/**
 * What `watch` reports (pure data): records of findings as they appear, go and are released, and
 * the counters its metrics are made from. The watch workflow is src/core/watch.ts.
 */
import type { Finding } from "./findings.js";
import { isActive, type Target } from "./resources.js";

/** What made a scan: a daemon event, or the watch itself (start, interval, reconnect). */
export interface WatchCause {
  type: string;
  action: string;
  /** The container's ID or volume's name (daemon events) */
  id: string | null;
  /** The container's name, when the event carries it */
  name: string | null;
  time: Date;
}

export type WatchRecord =
  | { kind: "finding"; time: Date; cause: WatchCause; finding: Finding }
  | { kind: "released"; time: Date; cause: WatchCause; finding: Finding }
  | { kind: "release"; time: Date; cause: WatchCause; finding: Finding; action: ReleaseAction }
  | { kind: "error"; time: Date; cause: WatchCause | null; message: string };

export interface ReleaseAction {
  /**
   * dry-run: what --release would do; gone: the copy went by itself before the unmount (a
   * netns file Docker removed, and the kernel with it every copy of it)
   */
  result: "released" | "gone" | "failed" | "dry-run";
  /** Why it failed */
  message: string | null;
}

/** What a status line on stderr says (connected, reconnecting): not part of the record stream. */
export type WatchStatus =
  | { kind: "connected"; again: boolean }
  | { kind: "disconnected"; message: string; retryInMs: number };

/** Counters and gauges after each scan (for the metrics file). */
export interface WatchStats {
  scans: { ok: number; failed: number };
  /** Sum and last of the scans' durations, seconds */
  scanSecondsTotal: number;
  lastScanSeconds: number;
  lastSuccess: Date | null;
  releases: { done: number; failed: number };
  daemonReachable: boolean;
  /** The findings known now */
  findings: readonly Finding[];
  /** Helper runs started (scans and unmounts) */
  helperRuns: number;
  /** Daemon events received */
  events: number;
}

/** Before the first scan: nothing counted, the daemon not yet reached. */
export function emptyWatchStats(): WatchStats {
  return {
    scans: { ok: 0, failed: 0 },
    scanSecondsTotal: 0,
    lastScanSeconds: 0,
    lastSuccess: null,
    releases: { done: 0, failed: 0 },
    daemonReachable: false,
    findings: [],
    helperRuns: 0,
    events: 0,
  };
}

export function targetKeyOf(t: Target): string {
  return t.kind === "volume" ? `volume:${t.name}` : `container:${t.id}`;
}

/** One finding's identity across scans: target, holder namespace and mount. */
export function findingKey(f: Finding): string {
  const place = f.mount ? `${f.mount.mountId}:${f.mount.mountPoint}` : `pinned:${f.resource.path}`;
  return `${targetKeyOf(f.target)}|${f.holder.namespace}|${place}`;
}

/** Whether --release may release this finding: a leaked copy of a stopped/removed container or an unused volume. */
export function isReleasable(f: Finding): boolean {
  if (f.severity !== "leaked" || f.unmount === null || f.mount === null) return false;
  const t = f.target;
  if (t.kind === "container") return !isActive(t.status);
  return t.status === "unused" || t.status === "removed";
}
