/**
 * Who holds a mount namespace (or a pinned file): its processes, and the owner of its root
 * process as told by cgroups — a container (ID, name, image), a Kubernetes pod, a systemd unit,
 * or a plain host process.
 */
import type { ProcessRecord } from "../helper/protocol.js";
import { type ContainerRuntime, ownerFromCgroup, parseCgroupLine } from "./cgroup.js";
import { flagValue } from "./daemon.js";
import type { ContainerInfo, DaemonFacts, Inventory } from "./inventory.js";
import type { ResourceIndex } from "./resources.js";

export interface HolderProcess {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string[];
}

export type HolderOwner =
  /** the Docker daemon's own namespace (stale mounts) */
  | { kind: "daemon"; pid: number | null }
  | {
      kind: "container";
      id: string;
      name: string | null;
      image: string | null;
      /** false: not a container of this daemon (another runtime, or another dockerd) */
      known: boolean;
      runtime: ContainerRuntime;
      /**
       * true when this is the namespace the container started with; false when a process
       * inside the container made a namespace of its own (unshare); null when unknown
       */
      mainNamespace: boolean | null;
    }
  | {
      kind: "pod";
      uid: string;
      /** from the io.kubernetes.pod.* labels of a container of this daemon, when there is one */
      namespace: string | null;
      name: string | null;
      containerId: string | null;
      containerName: string | null;
      runtime: ContainerRuntime;
    }
  | { kind: "unit"; unit: string; manager: "system" | "user" }
  | {
      kind: "process";
      /**
       * A container of this daemon that the process's cgroup names but that could not be
       * confirmed (its cgroup is not where this daemon puts that container's processes, or the
       * process does not descend from the container's init): a claim, never acted on.
       */
      claimedContainer?: string;
    };

export interface Holder {
  /** Inode of the holding mount namespace */
  namespace: number;
  /**
   * Every PID in the namespace; for the daemon's namespace only dockerd's (all host processes
   * share it); for pinned files the PIDs that pin
   */
  pids: number[];
  /** The namespace's root process (its parent is outside it), whose cgroup names the owner */
  leader: HolderProcess | null;
  owner: HolderOwner;
}

const POD_UID = "io.kubernetes.pod.uid";
const POD_NAME = "io.kubernetes.pod.name";
const POD_NAMESPACE = "io.kubernetes.pod.namespace";
const CONTAINER_NAME = "io.kubernetes.container.name";

/**
 * The member whose parent is not a member (the process that made or entered the namespace);
 * the lowest such PID when there are several.
 */
export function namespaceLeader(
  pids: readonly number[],
  processes: ReadonlyMap<number, ProcessRecord>,
): ProcessRecord | null {
  const members = pids.map((pid) => processes.get(pid)).filter((p): p is ProcessRecord => p !== undefined);
  const memberPids = new Set(members.map((p) => p.pid));
  const roots = members.filter((p) => !memberPids.has(p.ppid));
  const pick = (list: ProcessRecord[]) =>
    list.reduce<ProcessRecord | null>((a, p) => (a === null || p.pid < a.pid ? p : a), null);
  return pick(roots) ?? pick(members);
}

/** Slices nest by name in systemd: "a-b-c.slice" lives at a.slice/a-b.slice/a-b-c.slice. */
export function expandSlice(slice: string): string {
  if (!slice.endsWith(".slice")) return slice;
  const name = slice.slice(0, -".slice".length);
  if (name === "-" || name === "") return "";
  const parts = name.split("-");
  return parts.map((_, i) => `${parts.slice(0, i + 1).join("-")}.slice`).join("/");
}

/**
 * Where this daemon puts a container's processes: `<cgroup-parent>/<id>` with the cgroupfs
 * driver (default parent /docker), `/<slice>/docker-<id>.scope` with the systemd driver
 * (default system.slice). A rootless daemon's tree lies below its user's manager, so only the
 * end of the path is known.
 */
export function expectedCgroupPath(
  c: ContainerInfo,
  daemon: DaemonFacts,
): { path: string; suffixOnly: boolean } {
  const rootless = daemon.securityOptions.some(
    (o) => o === "name=rootless" || o.startsWith("name=rootless,"),
  );
  if (daemon.engine === "podman") {
    // Podman (rootful): `<parent>/libpod-<id>.scope` under machine.slice with systemd,
    // `<parent>/libpod-<id>` under /libpod_parent with cgroupfs. Its conmon lives beside
    // (libpod-conmon-<id>.scope, or /libpod_parent/conmon), never in the container's cgroup.
    if (daemon.cgroupDriver === "systemd") {
      const parent = c.cgroupParent || "machine.slice";
      const slices = parent.endsWith(".slice") ? expandSlice(parent) : parent.replace(/^\/+|\/+$/g, "");
      return { path: `/${slices ? `${slices}/` : ""}libpod-${c.id}.scope`, suffixOnly: false };
    }
    const parent = (c.cgroupParent || "/libpod_parent").replace(/\/+$/, "");
    return { path: `${parent.startsWith("/") ? "" : "/"}${parent}/libpod-${c.id}`, suffixOnly: false };
  }
  if (daemon.cgroupDriver === "systemd") {
    const parent = c.cgroupParent || (rootless ? "user.slice" : "system.slice");
    const slices = parent.endsWith(".slice") ? expandSlice(parent) : parent.replace(/^\/+|\/+$/g, "");
    return { path: `/${slices ? `${slices}/` : ""}docker-${c.id}.scope`, suffixOnly: rootless };
  }
  const parent = (c.cgroupParent || "/docker").replace(/\/+$/, "");
  return { path: `${parent.startsWith("/") ? "" : "/"}${parent}/${c.id}`, suffixOnly: rootless };
}

/** Whether one of these cgroup lines puts the process at or below `expected`. */
function inCgroup(lines: readonly string[], expected: { path: string; suffixOnly: boolean }): boolean {
  return lines.some((text) => {
    const line = parseCgroupLine(text);
    if (!line) return false;
    if (expected.suffixOnly)
      return line.path.endsWith(expected.path) || line.path.includes(`${expected.path}/`);
    return line.path === expected.path || line.path.startsWith(`${expected.path}/`);
  });
}

export class HolderAttribution {
  private readonly mainNamespaceOf = new Map<string, number>();
  private readonly podsByUid = new Map<string, ContainerInfo>();
  private readonly daemon: DaemonFacts;

  constructor(
    private readonly index: ResourceIndex,
    private readonly processes: ReadonlyMap<number, ProcessRecord>,
    inventory: Pick<Inventory, "daemon" | "containers">,
  ) {
    this.daemon = inventory.daemon;
    const containers = inventory.containers;
    for (const c of containers) {
      const init = c.pid > 0 ? processes.get(c.pid) : undefined;
      if (init) this.mainNamespaceOf.set(c.id, init.mntns);
      const uid = c.labels[POD_UID];
      if (uid && !this.podsByUid.has(uid)) this.podsByUid.set(uid, c);
    }
  }

  /** The holder of a namespace, by its root process. */
  ofNamespace(
    mntns: number,
    pids: readonly number[],
    daemon: { namespace: number | null; pid: number | null },
  ): Holder {
    const leader = namespaceLeader(pids, this.processes);
    if (daemon.namespace === mntns) {
      // Every host process shares the daemon's namespace; naming dockerd is what helps.
      const dockerd = daemon.pid === null ? undefined : this.processes.get(daemon.pid);
      return {
        namespace: mntns,
        pids: daemon.pid === null ? [...pids].sort((a, b) => a - b) : [daemon.pid],
        leader: dockerd ? toHolderProcess(dockerd) : leader && toHolderProcess(leader),
        owner: { kind: "daemon", pid: daemon.pid },
      };
    }
    return {
      namespace: mntns,
      pids: [...pids].sort((a, b) => a - b),
      leader: leader && toHolderProcess(leader),
      owner: this.ownerOf(leader, mntns),
    };
  }

  /** The holder of pinned files: the pinning processes themselves, not their whole namespace. */
  ofProcesses(mntns: number, pids: readonly number[]): Holder {
    const leader = namespaceLeader(pids, this.processes);
    return {
      namespace: mntns,
      pids: [...pids].sort((a, b) => a - b),
      leader: leader && toHolderProcess(leader),
      owner: this.ownerOf(leader, mntns),
    };
  }

  /**
   * A second fact besides the cgroup that ties the process to the container: it descends from
   * the container's init (or from the runtime shim that started the init and every `docker
   * exec`), or it is in the init's mount namespace. Process trees and namespaces come from the
   * kernel; an unprivileged user cannot graft a process into them.
   */
  private descendsFrom(p: ProcessRecord, c: ContainerInfo): boolean {
    const init = c.pid > 0 ? this.processes.get(c.pid) : undefined;
    if (!init) return false;
    const shim = init.ppid > 1 ? init.ppid : null;
    const shimProcess =
      shim !== null && this.daemon.engine === "podman" ? this.processes.get(shim) : undefined;
    let cur: ProcessRecord | undefined = p;
    for (let steps = 0; cur && steps < 4096; steps++) {
      if (cur.pid === init.pid || (shim !== null && cur.pid === shim)) return true;
      if (shimProcess && isExecConmonOf(cur, shimProcess, c.id)) return true;
      if (cur.ppid <= 0 || cur.ppid === cur.pid) break;
      cur = this.processes.get(cur.ppid);
    }
    return this.mainNamespaceOf.get(c.id) === p.mntns;
  }

  /** Whether this daemon's container `c` provably owns process `p`: its cgroup layout and its process tree agree. */
  owns(c: ContainerInfo, p: ProcessRecord): boolean {
    return inCgroup(p.cgroup, expectedCgroupPath(c, this.daemon)) && this.descendsFrom(p, c);
  }

  private ownerOf(leader: ProcessRecord | null, mntns: number): HolderOwner {
    if (!leader) return { kind: "process" };
    const cg = ownerFromCgroup(leader.cgroup);
    switch (cg.kind) {
      case "container": {
        const claimed = cg.containerIds.map((id) => this.index.container(id)).find((c) => c !== undefined);
        if (claimed && !this.owns(claimed, leader)) return { kind: "process", claimedContainer: claimed.id };
        const known = claimed;
        const podUid = cg.podUid ?? known?.labels[POD_UID] ?? null;
        if (podUid !== null) return this.pod(podUid, known ?? null, known?.id ?? cg.containerId, cg.runtime);
        if (known) {
          const main = this.mainNamespaceOf.get(known.id);
          return {
            kind: "container",
            id: known.id,
            name: known.name,
            image: known.image || null,
            known: true,
            runtime: this.daemon.engine === "podman" ? "podman" : "docker",
            mainNamespace: main === undefined ? null : main === mntns,
          };
        }
        return {
          kind: "container",
          id: cg.containerId,
          name: null,
          image: null,
          known: false,
          runtime: cg.runtime,
          mainNamespace: null,
        };
      }
      case "pod":
        return this.pod(cg.podUid, null, null, "unknown");
      case "unit":
        return { kind: "unit", unit: cg.unit, manager: cg.manager };
      case "none":
        return { kind: "process" };
    }
  }

  private pod(
    uid: string,
    container: ContainerInfo | null,
    containerId: string | null,
    runtime: ContainerRuntime,
  ): HolderOwner {
    const labelled = container?.labels[POD_UID] === uid ? container : this.podsByUid.get(uid);
    return {
      kind: "pod",
      uid,
      namespace: labelled?.labels[POD_NAMESPACE] ?? null,
      name: labelled?.labels[POD_NAME] ?? null,
      containerId,
      containerName: container?.labels[CONTAINER_NAME] ?? null,
      runtime: container ? (this.daemon.engine === "podman" ? "podman" : "docker") : runtime,
    };
  }
}

/**
 * Podman starts each `podman exec` under a conmon of its own, beside the one that started the
 * container's init (its shim). One counts as the container's when it is a conmon in the shim's
 * mount namespace and in the shim's very cgroups (Podman's conmon cgroup, which only root can
 * put a process in) and names the container (`-c <id>`); a process merely named conmon in a
 * user's own cgroup is none.
 */
function isExecConmonOf(p: ProcessRecord, shim: ProcessRecord, containerId: string): boolean {
  return (
    p.comm === "conmon" &&
    shim.comm === "conmon" &&
    p.mntns === shim.mntns &&
    p.cgroup.length > 0 &&
    p.cgroup.length === shim.cgroup.length &&
    p.cgroup.every((line, i) => line === shim.cgroup[i]) &&
    flagValue(p.cmdline, ["-c", "--cid"]) === containerId
  );
}

function toHolderProcess(p: ProcessRecord): HolderProcess {
  return { pid: p.pid, ppid: p.ppid, comm: p.comm, cmdline: p.cmdline };
}
