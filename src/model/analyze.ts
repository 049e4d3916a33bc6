/**
 * The leak model: from the daemon's inventory and one helper scan to a ScanReport. Pure code:
 * no I/O, no clock (pass `now`), no daemon.
 *
 * 1. The daemon's namespace (daemon.ts): the namespace of the helper's parent (the runtime shim
 *    that started the helper container), confirmed by holding the helper's own root filesystem.
 *    The helper's own namespace never holds anything, unless it is the daemon's.
 * 2. Resources (resources.ts), by kernel facts only: each mountinfo line of each namespace is
 *    placed (the device and path within it of the directory it is attached to, mount-table.ts)
 *    and is a resource when it is attached at a resource's place as the daemon's own table
 *    resolves it (rootfs at MergedDir/Mountpoint/devicemapper mnt, netns at an exclusive
 *    SandboxKey, a volume at its Mountpoint), inside a container's directory (shm, other mounts)
 *    or below a volume's _data; or when its content is the resource's (a bind of a container's
 *    file or a volume's _data on the daemon's filesystem, any mount of a filesystem that is
 *    exclusively one resource's). First every line by place (so that copies proven by place
 *    teach which filesystems are whose), then by place or content. Lines whose paths merely look
 *    like Docker's are look-alikes: counted, never findings. Mounts of docker leak's own helper
 *    containers are ignored.
 * 3. Legitimate presence — no finding:
 *    a. the daemon's namespace while the owner is running, paused or restarting (a volume's own
 *       mount there is Docker's business and never a finding);
 *    b. a namespace whose root process provably belongs to the running owner container itself;
 *    c. `--ipc container:X` (by name, ID or ID prefix) holding X's shm; `--network container:X`
 *       (or HostsPath/ResolvConfPath/HostnamePath in X's directory) holding X's files;
 *    d. a container that declares the volume (a mount naming it, a bind of its _data or below)
 *       or gets it through --volumes-from (followed transitively);
 *    e. a copy that follows the daemon's unmounts (propagation.ts): the original is mounted and
 *       the copy's parent is a peer or (transitively) a slave of the original parent's peer
 *       group, so the kernel unmounts it with the original. (When a parent is not in the tables,
 *       the copy's own `master:N`/`shared:N` against the daemon's groups stands in.) Docker binds
 *       its root (or a parent) rslave by default, so those containers are this case;
 *    f. a copy of a running container's overlay root filesystem, on kernels that detach mounts
 *       on rmdir (3.18+): Docker removes the merged directory when the container stops, and the
 *       kernel detaches every copy then (measured: scripts/measure-removal.sh). A copy still
 *       busy then is kept alive by its files, which `--deep` reports as pinned.
 *    Everything else is a finding.
 * 4. Severity: in the daemon's namespace, a mount of a container that is not running is
 *    `stale`, and so is anything mounted below a volume's _data (docker volume rm fails with
 *    EBUSY). Elsewhere a copy is `captured` while the owner runs (a volume: while a running
 *    container uses it) and `leaked` once it is stopped, dead, created, removing or removed
 *    (a volume: unused). With `deep`, a pinned file (its mount is attached nowhere, says the
 *    helper) is tied to a resource by its device (a filesystem that is exclusively a
 *    resource's) or, for a detached overlay, by its root directory's inode being a container's
 *    upper directory (the helper's layer records); never by its link text, which on a detached
 *    mount is whatever the holder made it. It is `pinned` when the owner is gone and `captured`
 *    while it runs; other pinned files are listed in `detached`, not reported.
 * 5. Holders (holders.ts): per holding namespace all its PIDs, and the owner of its root
 *    process (the member whose parent is outside it): a container of this daemon only when its
 *    cgroup is where this daemon puts that container and it descends from the container's init
 *    or shim; otherwise a claim (a plain process with `claimedContainer`), a container of another
 *    runtime, a Kubernetes pod, a systemd unit, or a plain host process (these from cgroups, for
 *    information only). Pinned files are held by the processes that pin them.
 * 6. Cause and cure (explain.ts) per finding, made from its facts (`cause.facts`: the copy's
 *    and the original's parents and propagation, the holder's bind, whether it blocks the
 *    target's removal on this kernel), short for the table and full for JSON; the unmount
 *    order names the namespace, its members by PID and start time, the mount ID and the
 *    fingerprint of its line.
 */
import type { HelperScan, NamespaceRecord, PinnedRecord, ProcessRecord } from "../helper/protocol.js";
import { mountLineFingerprint } from "../helper/protocol.js";
import { type DaemonLocation, locateDaemon } from "./daemon.js";
import { type ExplainContext, explain } from "./explain.js";
import {
  type DetachedFile,
  type Finding,
  type MountRef,
  type PinnedFile,
  type ScanReport,
  SEVERITIES,
  type Severity,
  type SkippedProcess,
  type UnmountOrder,
} from "./findings.js";
import { type Holder, HolderAttribution } from "./holders.js";
import type { ContainerInfo, Inventory } from "./inventory.js";
import { MountTable } from "./mount-table.js";
import {
  escapeMountinfoPath,
  type MountinfoEntry,
  MountinfoSyntaxError,
  parseMountinfoLine,
  propagationMode,
} from "./mountinfo.js";
import {
  type BlocksRemoval,
  type CauseFacts,
  foreignCopyBlocks,
  type HolderKind,
  type MountPropagation,
  noMountFacts,
  PeerGroups,
  propagationCut,
} from "./propagation.js";
import {
  type Identification,
  isActive,
  isVolumeResource,
  normalizeHostPath,
  type Resource,
  ResourceIndex,
  type Target,
} from "./resources.js";

export interface AnalyzeInput {
  inventory: Inventory;
  scan: HelperScan;
  /** Whether pinned records are analysed (`--deep`) */
  deep?: boolean;
  /** Clock of the caller; only used to stamp the report */
  now?: Date;
  /** docker leak's own helper containers (of this and concurrent runs): never targets */
  helperContainers?: ReadonlySet<string>;
}

interface ScannedMount {
  entry: MountinfoEntry;
  /** The line as the helper reported it: its fingerprint travels with unmount orders */
  line: string;
  resource: Resource | null;
  depth: number;
}

interface ScannedNamespace {
  record: NamespaceRecord;
  table: MountTable;
  lines: string[];
  mounts: ScannedMount[];
}

/** Skipped records about these files mean the process itself could not be inspected. */
const PROCESS_LEVEL_SKIPS = new Set(["stat", "ns/mnt", "root", "cgroup", "comm", "status"]);
/** At most this many members are offered to the helper per unmount order. */
const ORDER_MEMBERS = 16;
/** Look-alike mounts named in the warnings (the rest are counted). */
const LOOK_ALIKES_NAMED = 5;

export function analyze({
  inventory,
  scan,
  deep = false,
  now,
  helperContainers = new Set(),
}: AnalyzeInput): ScanReport {
  const warnings: string[] = [];
  const processes = new Map<number, ProcessRecord>(scan.processes.map((p) => [p.pid, p]));
  const namespaces = scan.namespaces.map((record) => parseNamespace(record, warnings));
  const byNamespace = new Map(namespaces.map((ns) => [ns.record.mntns, ns]));

  const daemon = locateDaemon(inventory, scan.self, processes, (mntns, dev) =>
    (byNamespace.get(mntns)?.table.entries ?? []).some((e) => e.dev === dev),
  );
  const daemonNs = daemon.namespace === null ? undefined : byNamespace.get(daemon.namespace);
  if (daemon.foundBy === "none") {
    warnings.push(
      "the Docker daemon's mount namespace could not be identified (the helper's parent process is not visible); nothing can be tied to Docker",
    );
  } else if (daemon.foundBy === "runtime-unconfirmed") {
    warnings.push(
      `took mount namespace ${daemon.namespace} (of the runtime that started the helper, PID ${scan.self.ppid}) as the daemon's; it could not be confirmed by the helper's own root filesystem`,
    );
  }
  const index = new ResourceIndex(inventory, daemonNs ? daemonNs.table : null, helperContainers);
  if (daemonNs && !index.anchored) {
    warnings.push(
      `the daemon's root ${index.rootDir} could not be placed in its mount namespace ${daemonNs.record.mntns}; nothing can be tied to Docker`,
    );
  }
  const lookAlikes = identifyAll(namespaces, index, daemon, scan.self.mntns);
  if (lookAlikes.length) {
    const named = lookAlikes
      .slice(0, LOOK_ALIKES_NAMED)
      .map(({ ns, entry }) => `mount ${entry.mountId} at ${entry.mountPoint} in mnt:[${ns}]`)
      .join("; ");
    warnings.push(
      `${lookAlikes.length} mount${lookAlikes.length === 1 ? " looks" : "s look"} like Docker's by path but ${lookAlikes.length === 1 ? "is" : "are"} not the daemon's (look-alikes, ignored): ${named}${lookAlikes.length > LOOK_ALIKES_NAMED ? "; …" : ""}`,
    );
  }

  const daemonPeerGroups = new Set(
    (daemonNs?.mounts ?? []).map((m) => m.entry.propagation.shared).filter((g): g is number => g !== null),
  );
  const holders = new HolderAttribution(index, processes, inventory);
  const volumes = new VolumeUsage(index, inventory.containers);
  // Docker's overlay drivers remove a container's merged directory when it stops; kernels that
  // detach mounts on rmdir then drop every copy of it (see 3f above).
  const rootfsDetachedOnStop =
    /^overlay2?$/.test(inventory.daemon.driver) && foreignCopyBlocks(inventory.daemon.kernelVersion) === "no";
  const facts = new FactFinder(namespaces, daemonNs, index, processes, inventory.daemon.kernelVersion);

  const findings: Finding[] = [];
  for (const ns of namespaces) {
    const isDaemon = ns.record.mntns === daemon.namespace;
    // The helper's own namespace holds nothing (unless the helper runs in the daemon's).
    if (ns.record.mntns === scan.self.mntns && !isDaemon) continue;
    let holder: Holder | undefined;
    for (const mount of ns.mounts) {
      const resource = mount.resource;
      if (!resource) continue;
      holder ??= holders.ofNamespace(ns.record.mntns, ns.record.pids, daemon);
      const target = targetOf(resource, index, volumes);
      const mountFacts = isDaemon
        ? facts.ofDaemonMount(mount, resource, holder, target)
        : facts.ofCopy(ns, mount, resource, holder, target);
      const severity = isDaemon
        ? daemonSeverity(resource, index)
        : foreignSeverity(
            resource,
            holder,
            index,
            volumes,
            follows(mountFacts, mount.entry, daemonPeerGroups),
            rootfsDetachedOnStop,
          );
      if (!severity) continue;
      const mountRef = toMountRef(mount);
      findings.push(
        finding({
          severity,
          target,
          resource,
          holder,
          mount: mountRef,
          pinned: [],
          daemon,
          volumes,
          facts: mountFacts,
          unmount: unmountOrder(ns, mount, processes),
        }),
      );
    }
  }

  const detached: DetachedFile[] = [];
  if (deep) {
    const pinned = { scan, namespaces, index, holders, volumes, daemon, processes, facts };
    analyzePinned(pinned, findings, detached);
  }

  findings.sort(compareFindings);
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;
  const skipped: SkippedProcess[] = scan.skipped.map(({ pid, comm, what, errno, message }) => ({
    pid,
    comm,
    what,
    errno,
    message,
  }));
  const skippedProcesses = new Set(
    scan.skipped.filter((s) => !processes.has(s.pid) || PROCESS_LEVEL_SKIPS.has(s.what)).map((s) => s.pid),
  );
  const notDeepChecked = new Set(
    scan.skipped
      .filter((s) => processes.has(s.pid) && !PROCESS_LEVEL_SKIPS.has(s.what) && s.what !== "cmdline")
      .map((s) => s.pid),
  );
  const unreadable = scan.namespaces.filter((ns) => ns.mountinfo === null);
  for (const ns of unreadable) {
    warnings.push(
      `mount namespace ${ns.mntns} (PIDs ${ns.pids.join(", ")}) could not be read: ${ns.errno ?? "?"} ${ns.message ?? ""}`.trim(),
    );
  }
  const dropped = scan.namespaces.reduce((n, ns) => n + ns.dropped, 0);
  if (dropped) warnings.push(`${dropped} mountinfo lines were left out for the helper's size limits`);
  if (scan.summary.stalled) {
    warnings.push(
      `${scan.summary.stalled} helper worker${scan.summary.stalled === 1 ? " was" : "s were"} stopped for making no progress (a stalled filesystem or process); what they skipped is listed`,
    );
  }

  return {
    scannedAt: now ? now.toISOString() : null,
    daemon: {
      engine: inventory.daemon.engine ?? "docker",
      rootDir: index.rootDir,
      execRoot: daemon.execRoot,
      namespace: daemon.namespace,
      pid: daemon.pid,
      foundBy: daemon.foundBy,
    },
    findings,
    detached,
    stats: {
      processes: scan.processes.length,
      namespaces: scan.namespaces.length,
      namespacesUnreadable: unreadable.length,
      skippedProcesses: skippedProcesses.size,
      notDeepChecked: notDeepChecked.size,
      pinnedRecords: scan.pinned.length,
      lookAlikes: lookAlikes.length,
      bySeverity,
    },
    skipped,
    warnings,
  };
}

// ------------------------------------------------------------------------------------------
// Namespaces and resources

function parseNamespace(record: NamespaceRecord, warnings: string[]): ScannedNamespace {
  const entries: MountinfoEntry[] = [];
  const lines: string[] = [];
  for (const line of record.mountinfo ?? []) {
    try {
      entries.push(parseMountinfoLine(line));
      lines.push(line);
    } catch (e) {
      if (!(e instanceof MountinfoSyntaxError)) throw e;
      warnings.push(`mount namespace ${record.mntns}: ${e.message}`);
    }
  }
  return { record, table: new MountTable(entries), lines, mounts: [] };
}

/**
 * Identifies every mount: first by place in every namespace (copies proven that way teach which
 * filesystems belong to which resource), then by place or content. Returns the look-alikes:
 * mounts whose paths look like Docker's but that are not the daemon's.
 */
function identifyAll(
  namespaces: readonly ScannedNamespace[],
  index: ResourceIndex,
  daemon: DaemonLocation,
  selfNamespace: number,
): { ns: number; entry: MountinfoEntry }[] {
  const byPlace = new Map<MountinfoEntry, Identification>();
  for (const ns of namespaces) {
    if (ns.record.mntns === selfNamespace && ns.record.mntns !== daemon.namespace) continue;
    for (const entry of ns.table.entries) {
      const id = index.identifyByPlace(entry, ns.table);
      if (id) byPlace.set(entry, id);
      if (id && "resource" in id) index.learnSuperblock(entry, id.resource);
    }
  }
  const lookAlikes: { ns: number; entry: MountinfoEntry }[] = [];
  for (const ns of namespaces) {
    const inside = new Map<number, boolean>();
    const skip = ns.record.mntns === selfNamespace && ns.record.mntns !== daemon.namespace;
    ns.mounts = ns.table.entries.map((entry, i) => {
      const id: Identification = skip ? null : (byPlace.get(entry) ?? index.identifyByContent(entry));
      // A mount attached inside a resource's own filesystem, however deep (a container's
      // /dev/pts seen through a /rootfs bind), is that container's business, not a look-alike.
      if (
        !skip &&
        id === null &&
        index.looksLikeResource(entry) &&
        !insideResource(entry, ns.table, index, inside)
      )
        lookAlikes.push({ ns: ns.record.mntns, entry });
      return {
        entry,
        line: ns.lines[i]!,
        resource: id && "resource" in id ? id.resource : null,
        depth: ns.table.depth(entry),
      };
    });
  }
  return lookAlikes;
}

/** Whether a mount hangs, through its parents, below a mount of a resource's filesystem. */
function insideResource(
  entry: MountinfoEntry,
  table: MountTable,
  index: ResourceIndex,
  memo: Map<number, boolean>,
): boolean {
  const chain: MountinfoEntry[] = [];
  let result = false;
  for (let e: MountinfoEntry | undefined = entry; e; ) {
    const known = memo.get(e.mountId);
    if (known !== undefined) {
      result = known;
      break;
    }
    chain.push(e);
    const parent: MountinfoEntry | undefined =
      e.parentId === e.mountId ? undefined : table.byId.get(e.parentId);
    if (parent && index.superblockResource(parent.dev) !== undefined) {
      result = true;
      break;
    }
    if (chain.length > table.entries.length) break;
    e = parent;
  }
  for (const e of chain) memo.set(e.mountId, result);
  return result;
}

/**
 * How to unmount a mount of this namespace: its members, as the scan saw them (PID and start
 * time), starting with the one whose mountinfo was read and keeping only those with the same
 * root, since the mount point is as that member sees it. Null when nobody could be read.
 */
function unmountOrder(
  ns: ScannedNamespace,
  mount: ScannedMount,
  processes: ReadonlyMap<number, ProcessRecord>,
): UnmountOrder | null {
  const via = ns.record.readVia === null ? undefined : processes.get(ns.record.readVia);
  if (!via) return null;
  const members = [via];
  for (const pid of ns.record.pids) {
    if (members.length >= ORDER_MEMBERS) break;
    const p = processes.get(pid);
    if (p && p.pid !== via.pid && p.root === via.root && p.mntns === via.mntns) members.push(p);
  }
  return {
    namespace: ns.record.mntns,
    mountId: mount.entry.mountId,
    mountPoint: mount.entry.mountPointRaw,
    fingerprint: mountLineFingerprint(mount.line),
    members: members.map((p) => ({ pid: p.pid, start: p.start })),
  };
}

// ------------------------------------------------------------------------------------------
// Legitimacy and severity

function daemonSeverity(resource: Resource, index: ResourceIndex): Severity | null {
  if (isVolumeResource(resource)) return resource.kind === "volume-submount" ? "stale" : null;
  const c = index.container(resource.containerId);
  return c && isActive(c.status) ? null : "stale";
}

/**
 * Whether the copy goes when Docker unmounts the original: the original is mounted, and the
 * copy's parent receives the unmounts of the original's parent. When either parent is not in the
 * tables, the copy's own tags stand in (a peer or slave of one of the daemon's peer groups).
 */
function follows(facts: CauseFacts, entry: MountinfoEntry, daemonPeerGroups: ReadonlySet<number>): boolean {
  if (facts.receivesUnmounts !== null) return facts.original !== null && facts.receivesUnmounts;
  const { master, shared } = entry.propagation;
  return (
    (master !== null && daemonPeerGroups.has(master)) || (shared !== null && daemonPeerGroups.has(shared))
  );
}

function foreignSeverity(
  resource: Resource,
  holder: Holder,
  index: ResourceIndex,
  volumes: VolumeUsage,
  followsDaemon: boolean,
  rootfsDetachedOnStop: boolean,
): Severity | null {
  // (e) the copy follows the daemon's unmounts
  if (followsDaemon) return null;

  const holderContainer = holderContainerOf(holder, index);
  if (isVolumeResource(resource)) {
    // (d) declared by the holder
    if (holderContainer && volumes.declares(holderContainer, resource.volumeName)) return null;
    return volumes.inUse(resource.volumeName) ? "captured" : "leaked";
  }
  // A container's own processes never hold a leak of it: when the container stops, they all go.
  // (Seen when a container starts or is removed between the inventory and the helper's scan.)
  if (holder.owner.kind === "container" && holder.owner.id === resource.containerId) return null;
  const target = index.container(resource.containerId);
  const active = target !== undefined && isActive(target.status);
  // (f) detached with the merged directory when the owner stops
  if (resource.kind === "rootfs" && active && rootfsDetachedOnStop) return null;
  if (holderContainer) {
    // (b) the owner's own namespaces, while it runs
    if (holderContainer.id === resource.containerId && active) return null;
    // (c) --ipc container:X, --network container:X
    if (sharesWith(holderContainer, resource, index)) return null;
  }
  return active ? "captured" : "leaked";
}

/** The container of this daemon that owns a holder (directly, or as the pod's container). */
function holderContainerOf(holder: Holder, index: ResourceIndex): ContainerInfo | undefined {
  const o = holder.owner;
  if (o.kind === "container") return o.known ? index.container(o.id) : undefined;
  if (o.kind === "pod" && o.containerId) return index.container(o.containerId);
  return undefined;
}

function sharesWith(holder: ContainerInfo, resource: Resource, index: ResourceIndex): boolean {
  if (!("containerId" in resource)) return false;
  const refersTo = (mode: string): boolean =>
    mode.startsWith("container:") &&
    index.resolveContainer(mode.slice("container:".length))?.id === resource.containerId;
  if (resource.kind === "shm" && refersTo(holder.ipcMode)) return true;
  if (resource.kind === "container-file") {
    if (refersTo(holder.networkMode)) return true;
    const dirs = index.containerDirs(resource.containerId).map((d) => `${d}/`);
    return [holder.hostsPath, holder.resolvConfPath, holder.hostnamePath].some(
      (p) => p !== undefined && p !== "" && dirs.some((dir) => normalizeHostPath(p).startsWith(dir)),
    );
  }
  return false;
}

/** A container mount that uses the volume: a volume mount naming it, or a bind of its _data or below. */
export function usesVolume(
  m: { type: string; name?: string; source: string },
  volume: string,
  dataPath: string,
): boolean {
  if (m.type === "volume" && m.name === volume) return true;
  if (m.type !== "bind") return false;
  const src = normalizeHostPath(m.source);
  return src === dataPath || src.startsWith(`${dataPath}/`);
}

/** Which containers use which volume: declared mounts, binds of _data or below, --volumes-from. */
class VolumeUsage {
  constructor(
    private readonly index: ResourceIndex,
    private readonly containers: readonly ContainerInfo[],
  ) {}

  declares(c: ContainerInfo, volume: string, seen = new Set<string>()): boolean {
    if (seen.has(c.id)) return false;
    seen.add(c.id);
    if (c.mounts.some((m) => usesVolume(m, volume, this.index.volumePath(volume)))) return true;
    return c.volumesFrom.some((ref) => {
      const from = this.index.resolveContainer(ref.replace(/:(ro|rw)$/, ""));
      return from !== undefined && this.declares(from, volume, seen);
    });
  }

  users(volume: string): ContainerInfo[] {
    return this.containers.filter((c) => this.declares(c, volume));
  }

  inUse(volume: string): boolean {
    return this.users(volume).some((c) => isActive(c.status));
  }

  /** Containers binding the volume with shared propagation (they propagate mounts back). */
  sharedBinders(volume: string): string[] {
    const data = this.index.volumePath(volume);
    return this.containers
      .filter((c) =>
        c.mounts.some(
          (m) =>
            (m.name === volume || normalizeHostPath(m.source) === data) &&
            (m.propagation === "rshared" || m.propagation === "shared"),
        ),
      )
      .map((c) => c.name || c.id);
  }
}

function targetOf(resource: Resource, index: ResourceIndex, volumes: VolumeUsage): Target {
  if ("containerId" in resource) return index.containerTarget(resource.containerId);
  const v = index.volume(resource.volumeName);
  if (!v) return { kind: "volume", name: resource.volumeName, driver: null, status: "removed" };
  return {
    kind: "volume",
    name: v.name,
    driver: v.driver || null,
    status: volumes.inUse(v.name) ? "in-use" : "unused",
  };
}

// ------------------------------------------------------------------------------------------
// Findings

function toMountRef(m: ScannedMount): MountRef {
  const e = m.entry;
  return {
    mountId: e.mountId,
    parentId: e.parentId,
    mountPoint: e.mountPoint,
    mountPointRaw: e.mountPointRaw,
    root: e.root,
    fstype: e.fstype,
    source: e.source,
    dev: e.dev,
    propagation: propagationMode(e.propagation),
    peerGroup: e.propagation.shared,
    masterGroup: e.propagation.master,
    depth: m.depth,
  };
}

function finding(args: {
  severity: Severity;
  target: Target;
  resource: Resource;
  holder: Holder;
  mount: MountRef | null;
  pinned: PinnedFile[];
  daemon: DaemonLocation;
  volumes: VolumeUsage;
  facts: CauseFacts;
  unmount: UnmountOrder | null;
}): Finding {
  const { severity, target, resource, holder, mount, pinned, daemon, volumes, facts, unmount } = args;
  const ctx: ExplainContext = {
    severity,
    target,
    resource,
    holder,
    mount,
    pinned,
    daemon,
    sharedBinders: "volumeName" in resource ? volumes.sharedBinders(resource.volumeName) : [],
    facts,
  };
  const { cause, cure } = explain(ctx);
  return { severity, target, resource, holder, mount, pinned, cause, cure, unmount };
}

// ------------------------------------------------------------------------------------------
// Propagation facts (see propagation.ts)

function propagationOf(e: MountinfoEntry): MountPropagation {
  return {
    mountId: e.mountId,
    mountPoint: e.mountPoint,
    propagation: propagationMode(e.propagation),
    peerGroup: e.propagation.shared,
    masterGroup: e.propagation.master,
  };
}

function holderKind(h: Holder): HolderKind {
  const o = h.owner;
  if (o.kind === "container") return o.mainNamespace === false ? "container-process" : "container";
  return o.kind;
}

const resourceKey = (r: Resource): string => `${r.kind}\0${r.path}`;

/** The kernel facts behind each finding's cause: the two parents, the holder's bind, the kernel. */
class FactFinder {
  private readonly groups = new PeerGroups();
  private readonly originals = new Map<string, MountinfoEntry>();
  private readonly originalParents = new Map<string, MountPropagation | null>();
  private readonly daemonGroups = new Set<number>();
  private readonly nsReceives = new Map<number, boolean>();
  private readonly daemonInHostNamespace: boolean | null;

  constructor(
    namespaces: readonly ScannedNamespace[],
    private readonly daemonNs: ScannedNamespace | undefined,
    private readonly index: ResourceIndex,
    processes: ReadonlyMap<number, ProcessRecord>,
    private readonly kernel: string,
  ) {
    for (const ns of namespaces) for (const e of ns.table.entries) this.groups.learn(e.propagation);
    for (const m of daemonNs?.mounts ?? []) {
      if (m.resource) this.originals.set(resourceKey(m.resource), m.entry);
    }
    for (const e of daemonNs?.table.entries ?? []) {
      if (e.propagation.shared !== null) this.daemonGroups.add(e.propagation.shared);
    }
    const init = processes.get(1);
    this.daemonInHostNamespace = daemonNs && init ? init.mntns === daemonNs.record.mntns : null;
  }

  /** A copy in a holder's namespace. */
  ofCopy(
    ns: ScannedNamespace,
    mount: ScannedMount,
    resource: Resource,
    holder: Holder,
    target: Target,
  ): CauseFacts {
    const kind = holderKind(holder);
    const key = resourceKey(resource);
    const original = this.originals.get(key) ?? null;
    // One per resource, however many namespaces hold a copy of it.
    let originalParent = this.originalParents.get(key);
    if (originalParent === undefined) {
      originalParent = this.originalParent(resource, original);
      this.originalParents.set(key, originalParent);
    }
    const copyParentEntry = ns.table.byId.get(mount.entry.parentId);
    const copyParent =
      copyParentEntry && copyParentEntry !== mount.entry ? propagationOf(copyParentEntry) : null;
    const bind = this.bind(holder, resource, ns.table, mount.entry);
    const { receives, cut } = propagationCut(this.groups, originalParent, copyParent, bind, kind);
    return {
      resource: resource.kind,
      holder: kind,
      copy: propagationOf(mount.entry),
      copyParent,
      original: original ? propagationOf(original) : null,
      originalParent,
      bind,
      receivesUnmounts: receives,
      namespaceReceives: this.namespaceReceives(ns),
      cut,
      daemonInHostNamespace: this.daemonInHostNamespace,
      removal: this.removal(target, foreignCopyBlocks(this.kernel)),
    };
  }

  /** A mount in the daemon's own namespace (stale): the original itself. */
  ofDaemonMount(mount: ScannedMount, resource: Resource, holder: Holder, target: Target): CauseFacts {
    const parent = this.daemonNs?.table.byId.get(mount.entry.parentId);
    // A mount below a volume's _data in the daemon's own namespace makes the removal of _data
    // fail with EBUSY on every kernel. Docker unmounts a container's leftovers itself on rm
    // (measured); on kernels that do not detach mounts on rmdir, a copy elsewhere may still
    // make the removal fail.
    const blocks =
      resource.kind === "volume-submount"
        ? "yes"
        : foreignCopyBlocks(this.kernel) === "no"
          ? "no"
          : "unknown";
    return {
      ...this.bare(resource, holder, target, blocks),
      original: propagationOf(mount.entry),
      originalParent: parent && parent !== mount.entry ? propagationOf(parent) : null,
    };
  }

  /** Files that keep a detached filesystem alive: nothing is mounted, nothing blocks a removal. */
  ofPinned(ns: ScannedNamespace | undefined, resource: Resource, holder: Holder, target: Target): CauseFacts {
    return {
      ...this.bare(resource, holder, target, "no"),
      namespaceReceives: ns ? this.namespaceReceives(ns) : null,
    };
  }

  /** Facts with no mounts in them. */
  private bare(resource: Resource, holder: Holder, target: Target, blocks: BlocksRemoval): CauseFacts {
    return {
      ...noMountFacts(resource.kind, holderKind(holder)),
      daemonInHostNamespace: this.daemonInHostNamespace,
      removal: this.removal(target, blocks),
    };
  }

  private removal(target: Target, blocks: BlocksRemoval): CauseFacts["removal"] {
    if (target.status === "removed") return null;
    return {
      command: target.kind === "volume" ? "docker volume rm" : "docker rm",
      blocks,
      kernel: this.kernel,
    };
  }

  private namespaceReceives(ns: ScannedNamespace): boolean | null {
    if (this.daemonGroups.size === 0) return null;
    const known = this.nsReceives.get(ns.record.mntns);
    if (known !== undefined) return known;
    const receives = ns.table.entries.some((e) =>
      this.groups.reachesAny(this.daemonGroups, {
        peerGroup: e.propagation.shared,
        masterGroup: e.propagation.master,
      }),
    );
    this.nsReceives.set(ns.record.mntns, receives);
    return receives;
  }

  /** The daemon's mount the original is attached on: its own parent, else where its path lies. */
  private originalParent(resource: Resource, original: MountinfoEntry | null): MountPropagation | null {
    const table = this.daemonNs?.table;
    if (!table) return null;
    if (original) {
      const parent = table.byId.get(original.parentId);
      return parent && parent !== original ? propagationOf(parent) : null;
    }
    const on = table.mountOf(escapeMountinfoPath(normalizeHostPath(resource.path)));
    return on ? propagationOf(on) : null;
  }

  /**
   * The holder container's bind whose source holds the resource's path (the longest), and its
   * mount in the holder's namespace: the copy's ancestor attached at the bind's destination.
   */
  private bind(
    holder: Holder,
    resource: Resource,
    table: MountTable,
    copy: MountinfoEntry,
  ): CauseFacts["bind"] {
    const c = holderContainerOf(holder, this.index);
    if (!c) return null;
    const path = normalizeHostPath(resource.path);
    const within = (src: string): boolean => {
      const s = normalizeHostPath(src);
      return s === "/" || path === s || path.startsWith(`${s}/`);
    };
    const bind = c.mounts
      .filter((m) => m.type === "bind" && within(m.source))
      .sort((a, b) => b.source.length - a.source.length)[0];
    if (!bind) return null;
    const destination = normalizeHostPath(bind.destination);
    let mount: MountinfoEntry | undefined;
    const seen = new Set<number>();
    for (let e = table.byId.get(copy.parentId); e && !seen.has(e.mountId); e = table.byId.get(e.parentId)) {
      seen.add(e.mountId);
      if (e.mountPoint === destination) mount = e; // the outermost one: the bind itself, not a submount
    }
    const source = this.daemonNs?.table.mountOf(escapeMountinfoPath(normalizeHostPath(bind.source)), true);
    return {
      source: bind.source,
      destination: bind.destination,
      mode: bind.propagation,
      mount: mount ? propagationOf(mount) : null,
      sourceMount: source ? propagationOf(source) : null,
    };
  }
}

const KIND_ORDER = { container: 0, volume: 1 } as const;

/** Ordinal, not locale-aware: the same order everywhere, and cheap for tens of thousands of findings. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareFindings(a: Finding, b: Finding): number {
  const ta = a.target;
  const tb = b.target;
  const key = (t: Target): string => (t.kind === "volume" ? t.name : (t.name ?? t.id));
  return (
    KIND_ORDER[ta.kind] - KIND_ORDER[tb.kind] ||
    compareText(key(ta), key(tb)) ||
    SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
    a.holder.namespace - b.holder.namespace ||
    (b.mount?.depth ?? 0) - (a.mount?.depth ?? 0) ||
    (a.mount?.mountId ?? 0) - (b.mount?.mountId ?? 0)
  );
}

// ------------------------------------------------------------------------------------------
// Pinned files (--deep)

/** Files whose mounts are kernel-internal and never appear in any mountinfo. */
function isPseudoFile(path: string): boolean {
  return (
    !path.startsWith("/") ||
    /^\/(memfd:|dmabuf:|SYSV|\[)/.test(path) ||
    path === "/dev/zero (deleted)" ||
    path.startsWith("/anon_hugepage")
  );
}

function analyzePinned(
  ctx: {
    scan: HelperScan;
    namespaces: readonly ScannedNamespace[];
    index: ResourceIndex;
    holders: HolderAttribution;
    volumes: VolumeUsage;
    daemon: DaemonLocation;
    processes: ReadonlyMap<number, ProcessRecord>;
    facts: FactFinder;
  },
  findings: Finding[],
  detached: DetachedFile[],
): void {
  const { scan, namespaces, index, holders, volumes, daemon, processes, facts } = ctx;
  const byNamespace = new Map(namespaces.map((ns) => [ns.record.mntns, ns]));
  // A detached overlay's root directory reports its upper directory's inode; the helper found
  // which overlay2 layer directory that is (`layer` records).
  const rootfsByOverlayRoot = new Map<number, Resource>();
  for (const layer of scan.layers) {
    const resource = index.rootfsByUpperDir(`${index.rootDir}/overlay2/${layer.dir}/diff`);
    if (resource) rootfsByOverlayRoot.set(layer.ino, resource);
  }
  const mountIds = new Set<number>();
  const devices = new Set<string>();
  for (const ns of namespaces) {
    for (const m of ns.mounts) {
      mountIds.add(m.entry.mountId);
      devices.add(m.entry.dev);
    }
  }
  const groups = new Map<string, { resource: Resource; mntns: number; records: PinnedRecord[] }>();
  for (const p of scan.pinned) {
    if (p.pid === scan.self.pid || (p.mntns === scan.self.mntns && p.mntns !== daemon.namespace)) continue;
    if (isPseudoFile(p.path)) continue;
    // Its mount is attached somewhere we can see: the mountinfo analysis covers it.
    if (mountIds.has(p.mountId)) continue;
    // A detached mount of a filesystem that is exclusively a resource's (its device: a copy
    // detached while the container runs), else a detached overlay whose root directory is a
    // container's upper directory (the inode the helper found in the daemon's overlay2
    // directory). The link text is never used: on a detached mount it is whatever the holder
    // made it.
    const resource =
      index.superblockResource(p.dev) ??
      (p.overlayRootIno === null ? undefined : rootfsByOverlayRoot.get(p.overlayRootIno));
    if (!resource) {
      // The same filesystem is mounted elsewhere (the root fs behind a detached bind): nothing is
      // kept alive. Otherwise a detached filesystem we cannot tie to Docker.
      if (!devices.has(p.dev))
        detached.push({ ...pinnedFile(p), mntns: p.mntns, comm: processes.get(p.pid)?.comm ?? null });
      continue;
    }
    const key = `${p.mntns}\0${"containerId" in resource ? resource.containerId : resource.volumeName}\0${resource.kind}\0${p.dev}`;
    const group = groups.get(key) ?? { resource, mntns: p.mntns, records: [] };
    group.records.push(p);
    groups.set(key, group);
  }
  for (const { resource, mntns, records } of groups.values()) {
    const target = targetOf(resource, index, volumes);
    // While the owner runs its own mount keeps the filesystem alive anyway; the files will keep
    // it alive once it stops.
    const ownerActive = target.kind === "volume" ? target.status === "in-use" : isActive(target.status);
    const holder = holders.ofProcesses(mntns, [...new Set(records.map((r) => r.pid))]);
    findings.push(
      finding({
        severity: ownerActive ? "captured" : "pinned",
        target,
        resource,
        holder,
        mount: null,
        pinned: records.map(pinnedFile),
        daemon,
        volumes,
        facts: facts.ofPinned(byNamespace.get(mntns), resource, holder, target),
        unmount: null,
      }),
    );
  }
}

function pinnedFile(p: PinnedRecord): PinnedFile {
  return { pid: p.pid, kind: p.kind, fd: p.fd, mountId: p.mountId, dev: p.dev, ino: p.ino, path: p.path };
}
