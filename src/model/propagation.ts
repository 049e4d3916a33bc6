/**
 * Why a copy did not follow Docker's unmount, as facts of the kernel's mount propagation.
 *
 * An unmount propagates from the mount it is made *on*: when Docker unmounts a container's shm,
 * the kernel looks at the mount the shm is attached on in the daemon's namespace (the original's
 * parent) and unmounts the mounts at the same place on that parent's peers (`shared:N`) and on
 * its slaves (`master:N`, and their slaves in turn). A copy follows only if the mount *it* is
 * attached on (the copy's parent) is one of those:
 *
 *     daemon's namespace                        holder's namespace
 *     /var/lib/docker        shared:1  ──────▶  /rootfs/var/lib/docker   master:1   (a bind, rslave)
 *       └ containers/X/mounts/shm                 └ …/containers/X/mounts/shm        (the copy)
 *
 * The chain breaks in one of three places, and each has its own cure:
 * - the original's parent is not shared (`/` is private without systemd; Docker shares only its
 *   data root, so its exec root's network namespaces live on a private `/run`): no unmount
 *   leaves the daemon's namespace, whatever the holder does;
 * - a container's bind is private (`-v` defaults to rprivate);
 * - the holder made its namespace private (`unshare -m`'s default, MS_PRIVATE, systemd's
 *   MountFlags=private, a pod's hostPath without HostToContainer);
 * or the copy's parent follows some other peer group (copied from elsewhere, or before the
 * daemon's side was shared).
 *
 * Pure: the caller finds the mounts; this decides what they mean.
 */
import type { Resource } from "./resources.js";

export type PropagationMode = "shared" | "slave" | "private" | "unbindable";

/** One mount's propagation as the kernel shows it. */
export interface MountPropagation {
  mountId: number;
  mountPoint: string;
  propagation: PropagationMode;
  /** shared:N */
  peerGroup: number | null;
  /** master:N */
  masterGroup: number | null;
}

/**
 * How the holder's namespace came to be: a container's own namespace (made by its runtime from
 * the runtime's), a process that made one inside a container, a pod's container, a systemd
 * unit's, a host process's, or the daemon's own namespace.
 */
export type HolderKind = "container" | "container-process" | "pod" | "unit" | "process" | "daemon";

/**
 * Where the chain from Docker's unmount to the copy is cut:
 * - original: the daemon's mount the original is attached on is not shared;
 * - bind: a container's bind that brings the path in is private in the kernel;
 * - namespace: the holder's namespace is private at the copy's parent;
 * - group: the copy's parent follows a peer group that Docker's unmounts do not reach;
 * - none: the copy's parent does receive Docker's unmounts (a copy that stayed anyway was
 *   mounted on, or locked by a user namespace);
 * - unknown: the daemon's namespace or one of the two parents could not be seen.
 */
export type PropagationCut = "original" | "bind" | "namespace" | "group" | "none" | "unknown";

/** Whether the finding makes `docker rm` / `docker volume rm` of its target fail on this kernel. */
export type BlocksRemoval = "yes" | "no" | "unknown";

export interface CauseFacts {
  resource: Resource["kind"];
  holder: HolderKind;
  /** The mount the holder has; null for pinned files (nothing is mounted) */
  copy: MountPropagation | null;
  /** The mount the copy is attached on, in the holder's namespace */
  copyParent: MountPropagation | null;
  /** The daemon's own mount of the resource, while it is mounted there */
  original: MountPropagation | null;
  /** The daemon's mount the original is (or was) attached on: Docker's unmounts propagate from it */
  originalParent: MountPropagation | null;
  /**
   * The holder container's bind of the host path the resource lies in: as configured
   * (`mode`, "" for Docker's default, rprivate) and its mount in the holder's namespace
   */
  bind: {
    source: string;
    destination: string;
    mode: string;
    mount: MountPropagation | null;
    /**
     * The daemon's mount that holds the source: Docker makes an rslave bind only of a shared
     * or slave source, and falls back to private for a source that contains its data root
     */
    sourceMount: MountPropagation | null;
  } | null;
  /** Whether an unmount in the daemon's namespace reaches the copy; null when unknown */
  receivesUnmounts: boolean | null;
  /**
   * Whether any of the holder namespace's mounts receives events from one of the daemon's peer
   * groups (the namespace was made as a slave or a peer); null when the daemon has none
   */
  namespaceReceives: boolean | null;
  cut: PropagationCut | null;
  /** Whether the daemon's namespace is PID 1's (the host's); null when unknown */
  daemonInHostNamespace: boolean | null;
  /** Which removal this concerns and whether this finding blocks it on the daemon's kernel */
  removal: { command: "docker rm" | "docker volume rm"; blocks: BlocksRemoval; kernel: string } | null;
}

/** Facts about a finding that involves no mount (or none known yet): every mount fact null. */
export function noMountFacts(resource: CauseFacts["resource"], holder: HolderKind): CauseFacts {
  return {
    resource,
    holder,
    copy: null,
    copyParent: null,
    original: null,
    originalParent: null,
    bind: null,
    receivesUnmounts: null,
    namespaceReceives: null,
    cut: null,
    daemonInHostNamespace: null,
    removal: null,
  };
}

/** Master links between peer groups, learned from every scanned mount with both tags. */
export class PeerGroups {
  private readonly masterOf = new Map<number, number>();

  learn(p: { shared: number | null; master: number | null }): void {
    if (p.shared !== null && p.master !== null) this.masterOf.set(p.shared, p.master);
  }

  /** Whether events on any of these peer groups reach a mount with this propagation. */
  reachesAny(
    groups: ReadonlySet<number>,
    m: { peerGroup: number | null; masterGroup: number | null },
  ): boolean {
    if (m.peerGroup !== null && groups.has(m.peerGroup)) return true;
    const seen = new Set<number>();
    let g = m.masterGroup;
    while (g !== null && !seen.has(g)) {
      if (groups.has(g)) return true;
      seen.add(g);
      g = this.masterOf.get(g) ?? null;
    }
    return false;
  }

  /**
   * Whether events on a mount of peer group `group` reach a mount with this propagation: it is
   * a peer, or a slave of the group, or a slave of a slave of it, and so on.
   */
  reaches(group: number, m: { peerGroup: number | null; masterGroup: number | null }): boolean {
    return this.reachesAny(new Set([group]), m);
  }
}

/** Where the chain is cut, from the two parents (and the holder's bind, for containers). */
export function propagationCut(
  groups: PeerGroups,
  originalParent: MountPropagation | null,
  copyParent: MountPropagation | null,
  bind: CauseFacts["bind"],
  holder: HolderKind,
): { receives: boolean | null; cut: PropagationCut } {
  if (!originalParent || !copyParent) return { receives: null, cut: "unknown" };
  if (originalParent.peerGroup === null) return { receives: false, cut: "original" };
  if (groups.reaches(originalParent.peerGroup, copyParent)) return { receives: true, cut: "none" };
  if (copyParent.propagation === "shared" || copyParent.propagation === "slave") {
    return { receives: false, cut: "group" };
  }
  // The copy's parent is private: cut where the namespace's own tree stops receiving. A
  // container's bind that is private is the cut when the container's namespace is the holder's
  // (its runtime made the rest a slave); a process that made its own namespace cut it itself.
  const bindPrivate =
    bind?.mount !== null &&
    bind?.mount !== undefined &&
    bind.mount.propagation !== "shared" &&
    bind.mount.propagation !== "slave";
  if ((holder === "container" || holder === "pod") && bindPrivate) return { receives: false, cut: "bind" };
  return { receives: false, cut: "namespace" };
}

/** "6.18.0-1-amd64" → [6, 18]; null when it does not start with two numbers. */
export function kernelRelease(version: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * Whether a copy of a mount held in another namespace makes the removal of its directory fail.
 * Since Linux 3.18 rmdir/unlink of a mount point in one namespace detaches the mounts on it in
 * the others (d_invalidate → detach_mounts), so Docker's removal succeeds and the copy goes; RHEL
 * and CentOS 7 (3.10) backported it behind fs.may_detach_mounts, which this cannot read.
 */
export function foreignCopyBlocks(kernel: string): BlocksRemoval {
  const r = kernelRelease(kernel);
  if (!r) return "unknown";
  const [major, minor] = r;
  if (major > 3 || (major === 3 && minor >= 18)) return "no";
  return /\.el7/.test(kernel) ? "unknown" : "yes";
}
