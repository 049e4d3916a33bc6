/**
 * Planning the release of a target's leaked mounts (pure): which unmount orders, in which order,
 * and how to read the daemon's "device or resource busy" errors. Only mounts the leak model
 * identified as the target's own resources are ever ordered.
 */

import type { UmountResultRecord } from "../helper/protocol.js";
import { holderPhrase } from "./explain.js";
import type { Finding, UnmountOrder } from "./findings.js";

export interface PlannedUnmount {
  finding: Finding;
  order: UnmountOrder;
}

/** The unmount plan for findings that all belong to the targets being removed; deepest mounts first. */
export function planUnmounts(
  findings: readonly Finding[],
  isTarget: (f: Finding) => boolean,
): PlannedUnmount[] {
  return findings
    .filter((f) => isTarget(f) && f.unmount !== null && f.mount !== null)
    .sort(
      (a, b) =>
        a.holder.namespace - b.holder.namespace ||
        (b.mount?.depth ?? 0) - (a.mount?.depth ?? 0) ||
        (b.mount?.mountId ?? 0) - (a.mount?.mountId ?? 0),
    )
    .map((finding) => ({ finding, order: finding.unmount! }));
}

const BUSY = /device or resource busy/i;

export function isBusyError(message: string): boolean {
  return BUSY.test(message);
}

/**
 * The path the daemon could not remove, from its error text, e.g.
 * `… unlinkat /var/lib/docker/containers/<id>/mounts/shm: device or resource busy` or
 * `driver "devicemapper" failed to remove root filesystem for <id>: remove /var/lib/docker/devicemapper/mnt/<hash>: device or resource busy`.
 */
export function busyPathFromError(message: string): string | null {
  const m =
    /(?:unlinkat|remove|rmdir|unlink|unmount|rename|lstat)\s+(\/[^:\n]*?):\s*device or resource busy/i.exec(
      message,
    );
  return m ? m[1]!.trim() : null;
}

/** Findings of the targets whose mount lies at or below `path` (as the daemon sees it). */
export function findingsAtOrBelow(findings: readonly Finding[], path: string): Finding[] {
  const under = (p: string) => p === path || p.startsWith(`${path}/`) || path.startsWith(`${p}/`);
  return findings.filter((f) => under(f.resource.path));
}

export function describeFinding(f: Finding): string {
  return `${f.resource.kind} held by ${holderPhrase(f.holder)} (mount ${f.mount?.mountId ?? "-"} in mnt:[${f.holder.namespace}])`;
}

// ------------------------------------------------------------------------------------------
// What a removal did (or, in a dry run, would do): the data its renderings are made from

/** One unmount order as planned or done, with whom it concerns (for the plan table and JSON). */
export interface OrderReport {
  finding: Finding;
  /** The helper's answer (real runs); null in a plan */
  result: UmountResultRecord | null;
}

export type TargetStatus =
  /** Removed (with its leaked mounts released, when there were any) */
  | "removed"
  /** Dry run: the real run would remove it (releasing `orders` first) */
  | "would-remove"
  /** Mounts of it are held elsewhere and were not (or could not all be) released */
  | "held"
  /** Not touched: running without -f, a volume in use, or refused by the daemon */
  | "refused";

export interface TargetReport {
  /** What the user typed */
  ref: string;
  kind: "container" | "volume";
  /** The container's full ID; null for volumes */
  id: string | null;
  name: string;
  status: TargetStatus;
  /** Whether this run stopped it (-f); in a dry run, whether the real run would */
  stopped: boolean;
  /** Held: whether the target itself is gone (held copies may outlive it) */
  removed: boolean;
  /** Unmounts ordered for it (done, or planned in a dry run) */
  orders: OrderReport[];
  /** Mounts released in holders' namespaces */
  released: number;
  /**
   * Locked mounts of user-namespace holders that could not be unmounted but went when the
   * removal deleted their mount point in the daemon's namespace (the kernel then detaches every
   * copy of it)
   */
  detached: number;
  /** Held: its mounts still held elsewhere */
  remaining: Finding[];
  /** Why something failed, one line each */
  failures: string[];
  /** Refused: why */
  reason: string | null;
}

export interface RemovalReport {
  kind: "container" | "volume";
  dryRun: boolean;
  forceUnmount: boolean;
  targets: TargetReport[];
  /** Holder containers restarted (--restart-holders), full IDs */
  restarted: string[];
  /** From the scans and the daemon's support check */
  warnings: string[];
}
