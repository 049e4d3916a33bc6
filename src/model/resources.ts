/**
 * Which container or volume a mount belongs to. Everything is derived from the daemon's real
 * root (DaemonFacts.rootDir) and the inventory; no path is hard-coded.
 *
 * A copy of a mount can appear at another mount point than the original: a container that binds
 * the host's / at /rootfs sees the daemon's `/var/lib/docker/…/shm` at
 * `/rootfs/var/lib/docker/…/shm`. Host paths therefore match a mount point as a *suffix* (at a
 * path boundary); the paths compared are distinctive (they contain 64-hex IDs, layer hashes or
 * volume names), so a suffix cannot match by accident. Likewise the mountinfo *root* field is
 * relative to the filesystem, which may be mounted at /var/lib/docker itself, so
 * `/containers/<id>/hosts` and `/var/lib/docker/containers/<id>/hosts` name the same file.
 */
import type { ContainerInfo, ContainerStatus, Inventory, VolumeInfo } from "./inventory.js";
import { type MountinfoEntry, superOption } from "./mountinfo.js";

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

/** /var/run is a symlink to /run on every current distribution; mountinfo shows /run. */
export function normalizeHostPath(path: string): string {
  let p = path.length > 1 ? path.replace(/\/+$/, "") : path;
  p = p.replace(/\/{2,}/g, "/");
  return p === "/var/run" || p.startsWith("/var/run/") ? p.slice(4) : p;
}

/** Does this mount point show `hostPath` (itself, or seen through a bind of one of its parents)? */
export function showsHostPath(mountPoint: string, hostPath: string): boolean {
  const mp = normalizeHostPath(mountPoint);
  const host = normalizeHostPath(hostPath);
  return mp === host || (host.startsWith("/") && host !== "/" && mp.endsWith(host));
}

/** Is `path` equal to or below `dir`, with the same suffix tolerance as showsHostPath? */
function withinHostPath(path: string, dir: string): { rest: string } | null {
  const p = normalizeHostPath(path);
  const d = normalizeHostPath(dir);
  if (showsHostPath(p, d)) return { rest: "" };
  const idx = p.lastIndexOf(`${d}/`);
  if (idx === -1) return null;
  return { rest: p.slice(idx + d.length + 1) };
}

/** Last two path components: a cheap key for suffix matches on distinctive paths. */
function tailKey(path: string): string {
  const parts = normalizeHostPath(path).split("/");
  return parts.slice(-2).join("/");
}

class SuffixIndex<T> {
  private readonly byTail = new Map<string, Array<[string, T]>>();
  add(path: string, value: T): void {
    if (!path) return;
    const key = tailKey(path);
    const list = this.byTail.get(key) ?? [];
    list.push([normalizeHostPath(path), value]);
    this.byTail.set(key, list);
  }
  find(mountPoint: string): T | undefined {
    for (const [path, value] of this.byTail.get(tailKey(mountPoint)) ?? []) {
      if (showsHostPath(mountPoint, path)) return value;
    }
    return undefined;
  }
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Container and volume lookups built once from the inventory, and the identification of
 * mountinfo entries and pinned-file paths.
 */
export class ResourceIndex {
  readonly rootDir: string;
  private readonly containers = new Map<string, ContainerInfo>();
  private readonly containersByName = new Map<string, ContainerInfo>();
  private readonly volumes = new Map<string, VolumeInfo>();
  private readonly upperDirs = new Map<string, string>();
  private readonly rootfsPaths = new SuffixIndex<string>();
  private readonly devicemapperSources = new Map<string, string>();
  private readonly sandboxes = new Map<string, string>();
  private readonly volumePaths = new SuffixIndex<string>();
  /** Volumes whose mountpoint is not <root>/volumes/<name>/_data (plugins) */
  private readonly externalVolumes: VolumeInfo[] = [];
  private readonly containerPath: RegExp;
  private readonly volumeDataPath: RegExp;
  private readonly volumeRoot = /^(.*)\/volumes\/([^/]+)\/_data(?:\/(.*))?$/;
  private readonly containerRoot = /^(.*)\/containers\/([0-9a-f]{64})\/(.+)$/;

  constructor(private readonly inventory: Inventory) {
    this.rootDir = normalizeHostPath(inventory.daemon.rootDir || "/var/lib/docker");
    const root = escapeRegExp(this.rootDir);
    this.containerPath = new RegExp(`${root}/containers/([0-9a-f]{64})/(mounts/[^/]+|shm)$`);
    this.volumeDataPath = new RegExp(`${root}/volumes/([^/]+)/_data(?:/(.+))?$`);
    for (const c of inventory.containers) {
      this.containers.set(c.id, c);
      this.containersByName.set(c.name, c);
      const data = c.graphDriver.data;
      if (data.UpperDir) this.upperDirs.set(normalizeHostPath(data.UpperDir), c.id);
      if (data.MergedDir) this.rootfsPaths.add(data.MergedDir, c.id);
      if (data.Mountpoint) this.rootfsPaths.add(data.Mountpoint, c.id);
      if (data.DeviceName) {
        const hash = data.DeviceName.slice(data.DeviceName.lastIndexOf("-") + 1);
        this.rootfsPaths.add(`${this.rootDir}/devicemapper/mnt/${hash}`, c.id);
        this.rootfsPaths.add(`${this.rootDir}/devicemapper/mnt/${hash}/rootfs`, c.id);
        this.devicemapperSources.set(`/dev/mapper/${data.DeviceName}`, c.id);
      }
      if (c.sandboxKey) this.sandboxes.set(c.sandboxKey.slice(c.sandboxKey.lastIndexOf("/") + 1), c.id);
    }
    for (const v of inventory.volumes) {
      this.volumes.set(v.name, v);
      if (!v.mountpoint) continue;
      this.volumePaths.add(v.mountpoint, v.name);
      if (!this.volumeDataPath.test(normalizeHostPath(v.mountpoint))) this.externalVolumes.push(v);
    }
  }

  container(id: string): ContainerInfo | undefined {
    return this.containers.get(id);
  }

  volume(name: string): VolumeInfo | undefined {
    return this.volumes.get(name);
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

  /** The host path of a file under a container's directory. */
  containerDir(id: string): string {
    return `${this.rootDir}/containers/${id}`;
  }

  /** What a mountinfo entry is, judged by its paths and options only (no device numbers). */
  /** The rootfs of the container whose overlay upper directory is `upperDir` (a host path). */
  rootfsByUpperDir(upperDir: string): Resource | null {
    const id = this.upperDirs.get(normalizeHostPath(upperDir));
    return id ? { kind: "rootfs", containerId: id, path: this.rootfsPath(id) } : null;
  }

  identify(entry: MountinfoEntry): Resource | null {
    const mp = entry.mountPoint;

    // Container filesystems: overlay by upperdir (unique per container, same in every view),
    // devicemapper by its device, others by mount point.
    const upper = superOption(entry, "upperdir");
    if (upper !== null) {
      const id = this.upperDirs.get(normalizeHostPath(upper));
      if (id) return { kind: "rootfs", containerId: id, path: this.rootfsPath(id) };
    }
    const dm = this.devicemapperSources.get(entry.source);
    if (dm && (entry.root === "/" || entry.root === "/rootfs"))
      return { kind: "rootfs", containerId: dm, path: this.rootfsPath(dm) };
    const rootfs = this.rootfsPaths.find(mp);
    if (rootfs) return { kind: "rootfs", containerId: rootfs, path: this.rootfsPath(rootfs) };

    // shm and other tmpfs under containers/<id>/ (the ID comes from the path, so this also
    // names containers that are gone).
    const cm = this.containerPath.exec(normalizeHostPath(mp));
    if (cm?.[1] && cm[2]) {
      const path = `${this.containerDir(cm[1])}/${cm[2]}`;
      if (showsHostPath(mp, path)) {
        const kind = cm[2] === "mounts/shm" || cm[2] === "shm" ? "shm" : "container-mount";
        return { kind, containerId: cm[1], path };
      }
    }

    // Network namespace files: nsfs (proc on kernels before 3.19) at <exec-root>/netns/<id>.
    if (entry.fstype === "nsfs" || (entry.fstype === "proc" && entry.root.startsWith("net:"))) {
      const slash = normalizeHostPath(mp).lastIndexOf("/");
      const dir = normalizeHostPath(mp).slice(0, slash);
      const id = this.sandboxes.get(normalizeHostPath(mp).slice(slash + 1));
      if (id && dir.endsWith("/netns")) {
        return {
          kind: "netns",
          containerId: id,
          path: normalizeHostPath(this.containers.get(id)?.sandboxKey ?? mp),
        };
      }
    }

    // Volumes: the _data mount itself, or something below it.
    const volume = this.volumePaths.find(mp);
    if (volume) return { kind: "volume", volumeName: volume, path: this.volumePath(volume) };
    const sub = this.volumeBelow(mp);
    if (sub) return sub;

    // Binds whose source lies in a container's directory or a volume: the root field.
    return this.identifyByRoot(entry);
  }

  private identifyByRoot(entry: MountinfoEntry): Resource | null {
    const root = entry.root;
    if (root === "/" || !root.startsWith("/")) return null;
    const cr = this.containerRoot.exec(root);
    if (cr && cr[2] !== undefined && cr[3] !== undefined && this.rootDir.endsWith(cr[1] ?? "")) {
      return { kind: "container-file", containerId: cr[2], path: `${this.containerDir(cr[2])}/${cr[3]}` };
    }
    const vr = this.volumeRoot.exec(root);
    if (vr?.[2] && this.rootDir.endsWith(vr[1] ?? "") && this.volumes.has(vr[2])) {
      return { kind: "volume", volumeName: vr[2], path: this.volumePath(vr[2]) };
    }
    for (const v of this.externalVolumes) {
      const mp = normalizeHostPath(v.mountpoint);
      if (root === mp || root.startsWith(`${mp}/`)) return { kind: "volume", volumeName: v.name, path: mp };
    }
    return null;
  }

  private volumeBelow(mountPoint: string): Resource | null {
    const p = normalizeHostPath(mountPoint);
    const m = this.volumeDataPath.exec(p);
    if (m?.[1] && m[2]) {
      const name = m[1];
      const path = `${this.volumePath(name)}/${m[2]}`;
      if (showsHostPath(p, path)) return { kind: "volume-submount", volumeName: name, path };
    }
    for (const v of this.externalVolumes) {
      const below = withinHostPath(p, v.mountpoint);
      if (below && below.rest !== "")
        return {
          kind: "volume-submount",
          volumeName: v.name,
          path: `${normalizeHostPath(v.mountpoint)}/${below.rest}`,
        };
    }
    return null;
  }

  /**
   * The container or volume an absolute file path lies in (for pinned files), or null. Only
   * paths that still name a host location can be tied this way; a file on a detached mount is
   * usually reported relative to that mount's root.
   */
  identifyPath(path: string): Resource | null {
    if (!path.startsWith("/")) return null;
    for (const c of this.inventory.containers) {
      for (const dir of [c.graphDriver.data.MergedDir, c.graphDriver.data.Mountpoint]) {
        if (dir && withinHostPath(path, dir))
          return { kind: "rootfs", containerId: c.id, path: this.rootfsPath(c.id) };
      }
    }
    const p = normalizeHostPath(path);
    const inContainer = new RegExp(`${escapeRegExp(this.rootDir)}/containers/([0-9a-f]{64})(?:/(.*))?$`).exec(
      p,
    );
    if (inContainer?.[1]) {
      const rest = inContainer[2] ?? "";
      const shm = /^(mounts\/shm|shm)(\/|$)/.exec(rest);
      const mount = /^(mounts\/[^/]+)(\/|$)/.exec(rest);
      if (shm?.[1])
        return {
          kind: "shm",
          containerId: inContainer[1],
          path: `${this.containerDir(inContainer[1])}/${shm[1]}`,
        };
      if (mount?.[1])
        return {
          kind: "container-mount",
          containerId: inContainer[1],
          path: `${this.containerDir(inContainer[1])}/${mount[1]}`,
        };
      return {
        kind: "container-file",
        containerId: inContainer[1],
        path: `${this.containerDir(inContainer[1])}/${rest}`,
      };
    }
    for (const v of this.inventory.volumes) {
      if (v.mountpoint && withinHostPath(path, v.mountpoint))
        return { kind: "volume", volumeName: v.name, path: normalizeHostPath(v.mountpoint) };
    }
    const dm = new RegExp(`${escapeRegExp(this.rootDir)}/devicemapper/mnt/([0-9a-f]{64})(?:/|$)`).exec(p);
    if (dm?.[1]) {
      const c = this.inventory.containers.find((x) => x.graphDriver.data.DeviceName?.endsWith(`-${dm[1]}`));
      if (c) return { kind: "rootfs", containerId: c.id, path: this.rootfsPath(c.id) };
    }
    return null;
  }

  /** The daemon's path of a container's filesystem mount. */
  rootfsPath(id: string): string {
    const data = this.containers.get(id)?.graphDriver.data ?? {};
    if (data.MergedDir) return normalizeHostPath(data.MergedDir);
    if (data.Mountpoint) return normalizeHostPath(data.Mountpoint);
    if (data.DeviceName)
      return `${this.rootDir}/devicemapper/mnt/${data.DeviceName.slice(data.DeviceName.lastIndexOf("-") + 1)}`;
    return `${this.rootDir}/containers/${id}`;
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

/** Is this a mount whose own filesystem is the resource (so its device number names it)? */
export function isWholeFilesystem(entry: MountinfoEntry): boolean {
  return entry.root === "/" && entry.fstype !== "nsfs" && entry.fstype !== "proc";
}
