/**
 * Planning the release of a target's leaked mounts (pure): which unmount orders, in which order,
 * and how to read the daemon's "device or resource busy" errors. Only mounts the leak model
 * identified as the target's own resources are ever ordered.
 */
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
