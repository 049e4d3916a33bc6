/**
 * Which container or volume a mount belongs to, proven from facts the kernel and the daemon
 * give, never from the shape of a path string.
 *
 * The daemon's records (DockerRootDir, each container's GraphDriver data, ID and SandboxKey,
 * each volume's Mountpoint) name paths in the daemon's mount namespace. Each path is resolved
 * against the daemon's own mount table into a *place*: the device of the filesystem it lies on
 * and its path within that filesystem (mount-table.ts). A mount in any namespace is then a
 * resource when:
 *
 * - it is attached at a resource's place (the daemon's own mount, or a copy of it in another
 *   namespace, seen at whatever mount point: a copy under a container's `/rootfs` bind has the
 *   same place). Places inside the daemon's `containers/<id>/` directory name that container's
 *   shm and other mounts; places below a volume's `_data` are mounts below the volume;
 * - or its content is the resource's: a bind whose device and root field lie in a container's
 *   directory or a volume's `_data` on the daemon's filesystem, or any mount of a filesystem
 *   (superblock) that is exclusively a resource's — the daemon's own mount of it, or a copy
 *   proven by its place, has root "/" and no other use of that device is in the daemon's table.
 *
 * A look-alike (a mount a user made at `/tmp/x/var/lib/docker/volumes/v/_data/y`, a FUSE
 * filesystem whose paths mimic Docker's) has neither the place nor the device and is never a
 * resource; it is counted in the scan's warnings. Volume names come from the daemon only; a
 * container ID comes from the daemon, or, for a container the daemon no longer lists, from a
 * place inside the daemon's own containers directory (which only root can write).
 */
import type { ContainerInfo, ContainerStatus, Inventory, VolumeInfo } from "./inventory.js";
import { type MountTable, type Place, PlaceMap } from "./mount-table.js";
import { decodeMountinfoPath, escapeMountinfoPath, type MountinfoEntry } from "./mountinfo.js";

export type ContainerResourceKind =
  /** overlay2 merged dir, devicemapper mnt/<hash>, zfs/btrfs … mount of the container's filesystem */
  | "rootfs"
  /** tmpfs at containers/<id>/mounts/shm (or the old containers/<id>/shm) */
  | "shm"
  /** another tmpfs under containers/<id>/mounts/ (swarm secrets, configs) */
  | "container-mount"
  /** bind of a file under containers/<id>/ (hosts, hostname, resolv.conf) */
  | "container-file"
  /** nsfs bind of the container's network namespace at its SandboxKey */
  | "netns";

export type VolumeResourceKind =
  /** the volume's _data (its device mount, or a bind of it seen in a container) */
  | "volume"
  /** something mounted below the volume's _data */
  | "volume-submount";

export interface ContainerResource {
  kind: ContainerResourceKind;
  containerId: string;
  /** The path as the daemon sees it */
  path: string;
}

export interface VolumeResource {
  kind: VolumeResourceKind;
  volumeName: string;
  path: string;
}

export type Resource = ContainerResource | VolumeResource;

export function isVolumeResource(r: Resource): r is VolumeResource {
  return r.kind === "volume" || r.kind === "volume-submount";
}

export type TargetStatus = ContainerStatus | "removed";

export type Target =
  | { kind: "container"; id: string; name: string | null; image: string | null; status: TargetStatus }
  | { kind: "volume"; name: string; driver: string | null; status: "in-use" | "unused" | "removed" };

/** Container states in which its mounts are expected to exist. */
export function isActive(status: TargetStatus): boolean {
  return status === "running" || status === "paused" || status === "restarting";
}

/**
 * The daemon reports some paths through /var/run, a symlink to /run on every distribution it
 * supports; mountinfo shows where the kernel put them, /run. Also folds repeated and trailing
 * slashes. Applied to the daemon's records only, never to what a mount table says.
 */
export function normalizeHostPath(path: string): string {
  let p = path.length > 1 ? path.replace(/\/+$/, "") : path;
  p = p.replace(/\/{2,}/g, "/");
  return p === "/var/run" || p.startsWith("/var/run/") ? p.slice(4) : p;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Where an engine keeps each container's own directory, and what a path inside it is. */
export interface ContainerLayout {
  /** Directories holding one `<id>/` directory per container */
  dirs: string[];
  /** The kind of a mount attached at (or a bind of) `<dir>/<id>/<rest>` */
  kindOf(rest: string): ContainerResourceKind;
}

/**
 * Docker: `<root>/containers/<id>/` holds shm (`mounts/shm`, formerly `shm`), secrets and
 * configs (`mounts/<name>`) and the hosts/hostname/resolv.conf files. Podman (containers/storage):
 * `<root>/<driver>-containers/<id>/userdata/` holds shm, `<runRoot>/<driver>-containers/<id>/userdata/`
 * the files it binds into the container.
 */
export function containerLayout(daemon: Inventory["daemon"], rootDir: string): ContainerLayout {
  if (daemon.engine === "podman") {
    const sub = `${daemon.driver || "overlay"}-containers`;
    const dirs = [`${rootDir}/${sub}`];
    const run = daemon.runRoot ? normalizeHostPath(daemon.runRoot) : "";
    if (run && run !== rootDir) dirs.push(`${run}/${sub}`);
    return {
      dirs,
      kindOf: (rest) => (rest === "userdata/shm" ? "shm" : "container-file"),
    };
  }
  return {
    dirs: [`${rootDir}/containers`],
    kindOf: (rest) =>
      rest === "mounts/shm" || rest === "shm"
        ? "shm"
        : /^mounts\/[^/]+$/.test(rest)
          ? "container-mount"
          : "container-file",
  };
}
/** Components of a mount point compared with the daemon's paths when looking for look-alikes. */
const LOOK_ALIKE_COMPONENTS = 64;

/** What identify() says about a mount. */
export type Identification =
  | { resource: Resource; by: "place" | "content" }
  /** a resource of one of docker leak's own helper containers: never a finding */
  | { ignored: true }
  | null;

interface ContentAnchor {
  resource: (rel: string) => Resource | "ignored" | null;
}

/**
 * The anchors of every resource, built once from the inventory and the daemon's mount table.
 * Lookups are by exact key or by walking the ancestors of one path: linear in the mounts.
 */
export class ResourceIndex {
  readonly rootDir: string;
  readonly layout: ContainerLayout;
  private readonly containers = new Map<string, ContainerInfo>();
  private readonly containersByName = new Map<string, ContainerInfo>();
  private readonly volumes = new Map<string, VolumeInfo>();
  private readonly helpers: ReadonlySet<string>;
  /** Something attached at this place is this resource. */
  private readonly at = new PlaceMap<Resource | "ignored">();
  /** Something attached below this place (not at it) belongs to this anchor. */
  private readonly below = new PlaceMap<ContentAnchor>();
  /** A mount whose (device, root) lies at or below this place shows this anchor's content. */
  private readonly content = new PlaceMap<ContentAnchor>();
  /** Filesystems that are exclusively one resource: any mount of that device is it. */
  private readonly superblocks = new Map<string, Resource | "ignored">();
  private readonly contested = new Set<string>();
  /** Devices used by mounts of the daemon's table, with how many resources claim them */
  private readonly daemonDevices = new Set<string>();
  /** Host paths of resources, for recognising look-alikes by their strings (warnings only). */
  private readonly lookAlikePaths = new Set<string>();
  /** Substrings every look-alike's mount point has (the daemon's root, netns, outside volumes). */
  private readonly lookAlikeHints: string[] = [];
  /** Whether the daemon's table could place the daemon's paths at all. */
  readonly anchored: boolean;

  constructor(
    private readonly inventory: Inventory,
    daemonTable: MountTable | null,
    helperContainers: ReadonlySet<string> = new Set(),
  ) {
    this.rootDir = normalizeHostPath(inventory.daemon.rootDir || "/var/lib/docker");
    this.layout = containerLayout(inventory.daemon, this.rootDir);
    this.helpers = helperContainers;
    for (const c of inventory.containers) {
      this.containers.set(c.id, c);
      this.containersByName.set(c.name, c);
    }
    for (const v of inventory.volumes) this.volumes.set(v.name, v);
    this.anchored = daemonTable !== null && daemonTable.resolve(escapeMountinfoPath(this.rootDir)) !== null;
    if (daemonTable && this.anchored) this.anchor(daemonTable);
  }

  private placeOf(table: MountTable, hostPath: string): Place | null {
    return table.resolve(escapeMountinfoPath(normalizeHostPath(hostPath)));
  }

  private anchor(table: MountTable): void {
    for (const e of table.entries) this.daemonDevices.add(e.dev);
    const sandboxUse = new Map<string, number>();
    for (const c of this.inventory.containers) {
      const key = normalizeHostPath(c.sandboxKey);
      if (key) sandboxUse.set(key, (sandboxUse.get(key) ?? 0) + 1);
    }
    for (const c of this.inventory.containers) {
      const ignored = this.helpers.has(c.id);
      const mark = (r: Resource): Resource | "ignored" => (ignored ? "ignored" : r);
      const rootfs = this.rootfsPath(c.id);
      for (const path of this.rootfsCandidates(c)) {
        const place = this.placeOf(table, path);
        if (place) this.at.set(place, mark({ kind: "rootfs", containerId: c.id, path: rootfs }));
        this.lookAlikePaths.add(normalizeHostPath(path));
      }
      // Docker's own network namespace files are exclusive to one container; host networking
      // shares Docker's `netns/default` with every such container (and with the helper).
      const key = normalizeHostPath(c.sandboxKey);
      const exclusive =
        key !== "" &&
        c.networkMode !== "host" &&
        !c.networkMode.startsWith("container:") &&
        (sandboxUse.get(key) ?? 0) === 1;
      if (exclusive) {
        const place = this.placeOf(table, key);
        if (place) this.at.set(place, mark({ kind: "netns", containerId: c.id, path: key }));
        this.lookAlikePaths.add(key);
      }
    }

    // Everything attached inside the daemon's containers directory belongs to the container
    // whose directory it is; binds of files from there are that container's files.
    for (const containersDir of this.layout.dirs) this.anchorContainersDir(table, containersDir);
    this.anchorVolumesAndDevices(table);
  }

  private anchorContainersDir(table: MountTable, containersDir: string): void {
    const dirPlace = this.placeOf(table, `${containersDir}/x`);
    if (dirPlace) {
      const base: Place = {
        dev: dirPlace.dev,
        path: dirPlace.path.slice(0, dirPlace.path.lastIndexOf("/")) || "/",
      };
      const byRel = (rel: string): Resource | "ignored" | null => {
        const slash = rel.indexOf("/");
        const id = slash === -1 ? rel : rel.slice(0, slash);
        const rest = slash === -1 ? "" : rel.slice(slash + 1);
        if (!HEX64.test(id) || rest === "") return null;
        if (this.helpers.has(id)) return "ignored";
        const path = `${containersDir}/${id}/${decodeMountinfoPath(rest)}`;
        return { kind: this.layout.kindOf(rest), containerId: id, path };
      };
      this.below.set(base, { resource: byRel });
      this.content.set(base, { resource: byRel });
      this.lookAlikePaths.add(containersDir);
    }
  }

  private anchorVolumesAndDevices(table: MountTable): void {
    for (const v of this.inventory.volumes) {
      if (!v.mountpoint) continue;
      const data = normalizeHostPath(v.mountpoint);
      const place = this.placeOf(table, data);
      if (!place) continue;
      const volume: Resource = { kind: "volume", volumeName: v.name, path: data };
      const sub = (rel: string): Resource => ({
        kind: "volume-submount",
        volumeName: v.name,
        path: `${data}/${decodeMountinfoPath(rel)}`,
      });
      this.at.set(place, volume);
      this.below.set(place, { resource: sub });
      // Binds of the volume's directory (or below) in containers: only where the directory is
      // Docker's own, inside its root; a plugin's or a bind-type volume's directory may be a
      // host directory that other things bind for their own reasons.
      if (data.startsWith(`${this.rootDir}/`)) {
        this.content.set(place, { resource: () => volume });
      }
      this.lookAlikePaths.add(data);
    }

    // Filesystems mounted at a resource's place in the daemon's table, with root "/", used for
    // nothing else there: every mount of that device anywhere is that resource.
    const claims = new Map<string, Resource | "ignored" | null>();
    for (const e of table.entries) {
      const place = table.place(e);
      const r = place ? this.at.get(place) : undefined;
      if (r === undefined) continue;
      const key = e.fstype === "nsfs" || e.fstype === "proc" ? `${e.dev}\0${e.rootRaw}` : e.dev;
      if (e.rootRaw !== "/" && key === e.dev) continue;
      const prev = claims.get(key);
      claims.set(key, prev === undefined || (prev !== null && sameResource(prev, r)) ? r : null);
    }
    for (const e of table.entries) {
      // Another use of a claimed device in the daemon's table (other than mounts on top of or
      // inside the resource itself): not exclusive.
      const claim = claims.get(e.dev);
      if (claim === undefined || claim === null) continue;
      const place = table.place(e);
      const r = place ? this.at.get(place) : undefined;
      if (r === undefined || !sameResource(r, claim)) claims.set(e.dev, null);
    }
    for (const [key, r] of claims) if (r !== null) this.superblocks.set(key, r);
    // A device volume's filesystem: what is attached inside it is below the volume.
    for (const [key, r] of this.superblocks) {
      if (r !== "ignored" && r.kind === "volume" && !key.includes("\0")) {
        const volume = r;
        this.below.set(
          { dev: key, path: "/" },
          {
            resource: (rel) => ({
              kind: "volume-submount",
              volumeName: volume.volumeName,
              path: `${volume.path}/${decodeMountinfoPath(rel)}`,
            }),
          },
        );
      }
    }
  }

  /**
   * Learns filesystems that are exclusively a resource from copies proven by their place (a
   * leaked shm whose original the daemon has already unmounted: its binds elsewhere carry the
   * same device). Call with every namespace's mounts after identifying them by place.
   */
  learnSuperblock(entry: MountinfoEntry, resource: Resource): void {
    if (entry.rootRaw !== "/" || entry.fstype === "nsfs" || this.daemonDevices.has(entry.dev)) return;
    if (resource.kind === "container-file" || resource.kind === "volume-submount") return;
    if (this.contested.has(entry.dev)) return;
    const prev = this.superblocks.get(entry.dev);
    if (prev === undefined) this.superblocks.set(entry.dev, resource);
    else if (!sameResource(prev, resource)) {
      // Two resources' places hold the same filesystem: it is neither's alone.
      this.superblocks.delete(entry.dev);
      this.contested.add(entry.dev);
    }
  }

  /** The resource of a mount by its place alone (first pass). */
  identifyByPlace(entry: MountinfoEntry, table: MountTable): Identification {
    const place = table.place(entry);
    if (!place) return null;
    const exact = this.at.get(place);
    if (exact !== undefined)
      return exact === "ignored" ? { ignored: true } : { resource: exact, by: "place" };
    const under = this.below.above(place, false);
    if (under) {
      const r = under.value.resource(under.rel);
      if (r === "ignored") return { ignored: true };
      if (r) return { resource: r, by: "place" };
    }
    return null;
  }

  /** The resource of a mount by its place, else by its content (device and root). */
  identify(entry: MountinfoEntry, table: MountTable): Identification {
    return this.identifyByPlace(entry, table) ?? this.identifyByContent(entry);
  }

  /** The resource of a mount by its content alone: its device and root. */
  identifyByContent(entry: MountinfoEntry): Identification {
    const whole = this.superblocks.get(entry.dev) ?? this.superblocks.get(`${entry.dev}\0${entry.rootRaw}`);
    if (whole !== undefined)
      return whole === "ignored" ? { ignored: true } : { resource: whole, by: "content" };
    const inside = this.content.above({ dev: entry.dev, path: entry.rootRaw }, true);
    if (inside) {
      const r = inside.value.resource(inside.rel);
      if (r === "ignored") return { ignored: true };
      if (r) return { resource: r, by: "content" };
    }
    return null;
  }

  /** The resource a filesystem exclusively is (for pinned files of detached mounts), by device. */
  superblockResource(dev: string): Resource | undefined {
    const r = this.superblocks.get(dev);
    return r === undefined || r === "ignored" ? undefined : r;
  }

  /**
   * Whether a mount that is no resource looks like one by its strings: its mount point ends
   * with, or lies below, a path of the daemon's. Only for warnings about look-alikes.
   */
  looksLikeResource(entry: MountinfoEntry): boolean {
    if (this.lookAlikeHints.length === 0) {
      this.lookAlikeHints.push(this.rootDir, "/netns/");
      for (const p of this.lookAlikePaths)
        if (!p.startsWith(`${this.rootDir}/`) && !p.includes("/netns/")) this.lookAlikeHints.push(p);
    }
    if (!this.lookAlikeHints.some((h) => entry.mountPoint.includes(h))) return false;
    // Every run of whole components of the mount point, against the set of the daemon's paths:
    // quadratic in the components of one path (bounded), linear in the mounts and the resources.
    const parts = entry.mountPoint.split("/").slice(1, LOOK_ALIKE_COMPONENTS + 1);
    for (let i = 0; i < parts.length; i++) {
      let path = "";
      for (let j = i; j < parts.length; j++) {
        path += `/${parts[j]}`;
        if (this.lookAlikePaths.has(path)) return true;
      }
    }
    return false;
  }

  container(id: string): ContainerInfo | undefined {
    return this.containers.get(id);
  }

  volume(name: string): VolumeInfo | undefined {
    return this.volumes.get(name);
  }

  isHelper(id: string): boolean {
    return this.helpers.has(id);
  }

  /** Resolves a reference the way docker does: full ID, name, or unique ID prefix. */
  resolveContainer(ref: string): ContainerInfo | undefined {
    const r = ref.replace(/^\//, "");
    const exact = this.containers.get(r) ?? this.containersByName.get(r);
    if (exact) return exact;
    if (!/^[0-9a-f]+$/.test(r)) return undefined;
    const matches = [...this.containers.values()].filter((c) => c.id.startsWith(r));
    return matches.length === 1 ? matches[0] : undefined;
  }

  /** The host path of a container's directory. */
  containerDir(id: string): string {
    return `${this.layout.dirs[0]}/${id}`;
  }

  /** Every directory of a container's (Podman keeps one in its root and one in its run root). */
  containerDirs(id: string): string[] {
    return this.layout.dirs.map((d) => `${d}/${id}`);
  }

  /** The rootfs of the container whose overlay upper directory is `upperDir` (a host path). */
  rootfsByUpperDir(upperDir: string): Resource | null {
    const want = normalizeHostPath(upperDir);
    for (const c of this.inventory.containers) {
      if (this.helpers.has(c.id)) continue;
      const upper = c.graphDriver.data.UpperDir;
      if (upper && normalizeHostPath(upper) === want)
        return { kind: "rootfs", containerId: c.id, path: this.rootfsPath(c.id) };
    }
    return null;
  }

  private rootfsCandidates(c: ContainerInfo): string[] {
    const data = c.graphDriver.data;
    const out: string[] = [];
    if (data.MergedDir) out.push(data.MergedDir);
    if (data.Mountpoint) out.push(data.Mountpoint);
    if (data.DeviceName) {
      const hash = data.DeviceName.slice(data.DeviceName.lastIndexOf("-") + 1);
      out.push(`${this.rootDir}/devicemapper/mnt/${hash}`, `${this.rootDir}/devicemapper/mnt/${hash}/rootfs`);
    }
    return out;
  }

  /** The daemon's path of a container's filesystem mount. */
  rootfsPath(id: string): string {
    const data = this.containers.get(id)?.graphDriver.data ?? {};
    if (data.MergedDir) return normalizeHostPath(data.MergedDir);
    if (data.Mountpoint) return normalizeHostPath(data.Mountpoint);
    if (data.DeviceName)
      return `${this.rootDir}/devicemapper/mnt/${data.DeviceName.slice(data.DeviceName.lastIndexOf("-") + 1)}`;
    return this.containerDir(id);
  }

  volumePath(name: string): string {
    const v = this.volumes.get(name);
    return normalizeHostPath(v?.mountpoint || `${this.rootDir}/volumes/${name}/_data`);
  }

  containerTarget(id: string): Target {
    const c = this.containers.get(id);
    return c
      ? { kind: "container", id, name: c.name, image: c.image || null, status: c.status }
      : { kind: "container", id, name: null, image: null, status: "removed" };
  }
}

function sameResource(a: Resource | "ignored", b: Resource | "ignored"): boolean {
  if (a === "ignored" || b === "ignored") return a === b;
  return a.kind === b.kind && a.path === b.path;
}
