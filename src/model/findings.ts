/**
 * The leak model's output types: a ScanReport of Findings. Renderers (table, JSON, quiet) are
 * views of these; nothing here is formatted for a terminal.
 */
import type { OrderMember, PinnedRecord } from "../helper/protocol.js";
import type { DaemonFoundBy } from "./daemon.js";
import type { Holder } from "./holders.js";
import type { Engine } from "./inventory.js";
import type { CauseFacts } from "./propagation.js";
import type { Resource, Target } from "./resources.js";

export type { Holder, HolderOwner, HolderProcess } from "./holders.js";
export type {
  BlocksRemoval,
  CauseFacts,
  HolderKind,
  MountPropagation,
  PropagationCut,
} from "./propagation.js";
export type { Resource, Target } from "./resources.js";

/**
 * - leaked: the owner is stopped, dead or removed (or the volume unused) and a copy is held;
 * - stale: the daemon's own namespace still holds a stopped container's mount, or a mount
 *   below a volume's _data (it blocks `docker volume rm`);
 * - pinned: a detached filesystem kept alive by open files (--deep);
 * - captured: the owner runs and a foreign namespace holds a copy that will leak when it stops.
 */
export type Severity = "leaked" | "stale" | "pinned" | "captured";

/** Most to least urgent. */
export const SEVERITIES: readonly Severity[] = ["leaked", "stale", "pinned", "captured"];

/** Whether a finding makes `scan` exit 3 (a captured copy is shown but is not a leak yet). */
export function isLeak(severity: Severity): boolean {
  return severity !== "captured";
}

export interface MountRef {
  mountId: number;
  parentId: number;
  /** As the holder's reading process sees it, decoded */
  mountPoint: string;
  /** As printed by the kernel (escaped): what an unmount order carries */
  mountPointRaw: string;
  root: string;
  fstype: string;
  source: string;
  /** major:minor */
  dev: string;
  propagation: "shared" | "slave" | "private" | "unbindable";
  /** shared:N */
  peerGroup: number | null;
  /** master:N */
  masterGroup: number | null;
  /**
   * Ancestors of this mount among the namespace's reported mounts: unmount deeper mounts
   * first (a mount stacked on or below another must go before it).
   */
  depth: number;
}

/** A file that keeps a detached filesystem alive: the helper's pinned record, as reported. */
export type PinnedFile = Pick<PinnedRecord, "pid" | "kind" | "fd" | "mountId" | "dev" | "ino" | "path">;

/**
 * One order for the helper's `umount` verb: the mount, pinned by its ID and the fingerprint of
 * its line, in the namespace, entered through one of its members as the scan saw them (PID and
 * start time; a PID reused since is refused by the helper).
 */
export interface UnmountOrder {
  /** Inode of the holder's mount namespace */
  namespace: number;
  /** Members to enter it through, in order; the first is the one whose mountinfo was read */
  members: OrderMember[];
  mountId: number;
  /** Raw (escaped) mount point as those members see it */
  mountPoint: string;
  /** FNV-1a of the whole mountinfo line seen at scan time (mount IDs are reused by the kernel) */
  fingerprint: string;
}

export interface Explanation {
  /** One line for the table */
  short: string;
  /** Sentences for JSON and --no-trunc readers */
  full: string;
}

/** The cause: its words, and the kernel's facts they were made from (for monitoring). */
export interface Cause extends Explanation {
  facts: CauseFacts;
}

export interface Cure {
  short: string;
  full: string;
  /** A command that releases it now, when there is one */
  immediate: string | null;
}

export interface Finding {
  severity: Severity;
  target: Target;
  resource: Resource;
  holder: Holder;
  /** The held mount; null for pinned findings */
  mount: MountRef | null;
  /** The files that pin a detached filesystem; empty for mount findings */
  pinned: PinnedFile[];
  cause: Cause;
  cure: Cure;
  /** How `--force-unmount` releases it; null when nothing is mounted (pinned) */
  unmount: UnmountOrder | null;
}

/** A pinned file that could not be tied to a container or volume (not a finding). */
export interface DetachedFile extends PinnedFile {
  mntns: number;
  comm: string | null;
}

export interface SkippedProcess {
  pid: number;
  comm: string;
  what: string;
  errno: string;
  message: string;
}

export interface ScanReport {
  /** ISO time of the scan when the caller passed a clock */
  scannedAt: string | null;
  daemon: {
    /** The engine behind the API: "docker" or "podman" */
    engine: Engine;
    rootDir: string;
    /** Docker's exec root; Podman's run root */
    execRoot: string | null;
    /** Inode of the daemon's mount namespace */
    namespace: number | null;
    pid: number | null;
    foundBy: DaemonFoundBy;
  };
  findings: Finding[];
  /** --deep: files on detached filesystems not tied to Docker (see the leak model's notes) */
  detached: DetachedFile[];
  stats: {
    /** Processes inspected */
    processes: number;
    /** Mount namespaces scanned */
    namespaces: number;
    /** Namespaces whose mountinfo could not be read from any member */
    namespacesUnreadable: number;
    /** Processes that could not be inspected at all (no process record) */
    skippedProcesses: number;
    /** --deep: processes whose cwd/root/exe/fds could not be checked */
    notDeepChecked: number;
    pinnedRecords: number;
    /** Mounts that look like Docker's by their paths but are not the daemon's (ignored) */
    lookAlikes: number;
    bySeverity: Record<Severity, number>;
  };
  skipped: SkippedProcess[];
  /** Things the model could not make sense of (malformed mountinfo lines …) */
  warnings: string[];
}
