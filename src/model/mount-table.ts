/**
 * One mount namespace's mount table, and where each mount sits as a kernel fact rather than
 * as a string: a mount's *place* is the filesystem it is attached to (the parent mount's
 * device) and the path within that filesystem (the parent's root field joined with the mount
 * point below the parent's). Two mounts with the same place are attached to the very same
 * directory, whatever their mount point strings say — a copy of Docker's shm seen under a
 * container's `/rootfs` bind has the daemon's place; a look-alike that a user made at
 * `/tmp/x/var/lib/docker/…` has the place of a directory in /tmp (or in a tmpfs of their own).
 *
 * Paths here are raw (escaped exactly as the helper printed them): the escaping is lossless,
 * so equal raw strings are equal byte strings, and `/` is never escaped.
 */
import type { MountinfoEntry } from "./mountinfo.js";

/** A directory (or file) identified by its filesystem's device and its path within it (raw). */
export interface Place {
  dev: string;
  path: string;
}

/** `root` joined with a relative raw path ("" for root itself). */
export function joinRaw(root: string, rel: string): string {
  if (rel === "") return root;
  return root === "/" ? `/${rel}` : `${root}/${rel}`;
}

/** The raw path of `path` relative to `dir` ("" when equal), or null when it is not at or below it. */
export function relativeRaw(path: string, dir: string): string | null {
  if (path === dir) return "";
  if (dir === "/") return path.startsWith("/") ? path.slice(1) : null;
  return path.startsWith(`${dir}/`) ? path.slice(dir.length + 1) : null;
}

/**
 * Values at places, with the nearest one at or above a place. Per device, the values by path and
 * the lengths of those paths: walking up a path looks only at the ancestors whose length some
 * value has (found by the slash positions, without making a string per level).
 */
export class PlaceMap<T> {
  private readonly byDev = new Map<string, { paths: Map<string, T>; lengths: Set<number> }>();

  get size(): number {
    let n = 0;
    for (const dev of this.byDev.values()) n += dev.paths.size;
    return n;
  }

  set(place: Place, value: T): void {
    let dev = this.byDev.get(place.dev);
    if (!dev) {
      dev = { paths: new Map(), lengths: new Set() };
      this.byDev.set(place.dev, dev);
    }
    dev.paths.set(place.path, value);
    dev.lengths.add(place.path.length);
  }

  get(place: Place): T | undefined {
    return this.byDev.get(place.dev)?.paths.get(place.path);
  }

  /**
   * The value at the nearest proper ancestor of `place` (or at it, when `orSelf`), with the rest
   * of the path (relativeRaw); null when none, or when the place is not absolute.
   */
  above(place: Place, orSelf: boolean): { value: T; rel: string } | null {
    const dev = this.byDev.get(place.dev);
    const path = place.path;
    if (!dev || !path.startsWith("/")) return null;
    if (orSelf) {
      const self = dev.paths.get(path);
      if (self !== undefined) return { value: self, rel: "" };
    }
    // Each proper ancestor ends before a slash: "/a/b/c" → "/a/b", "/a", then "/" itself (also
    // the one of "//a", whose rest is "/a").
    for (let cut = path.lastIndexOf("/", path.length - 2); cut > 1; cut = path.lastIndexOf("/", cut - 1)) {
      if (!dev.lengths.has(cut)) continue;
      const value = dev.paths.get(path.slice(0, cut));
      if (value !== undefined) return { value, rel: path.slice(cut + 1) };
    }
    if (path !== "/" && dev.lengths.has(1)) {
      const root = dev.paths.get("/");
      if (root !== undefined) return { value: root, rel: path.slice(1) };
    }
    return null;
  }
}

export class MountTable {
  readonly byId = new Map<number, MountinfoEntry>();
  /** Mounts attached to mount P at mount point M, key `P\0M`, in kernel order (stacked: later on top) */
  private readonly children = new Map<string, MountinfoEntry[]>();
  private readonly depths = new Map<number, number>();
  private readonly places = new Map<number, Place | null>();
  private rootMount: MountinfoEntry | null | undefined;

  constructor(readonly entries: readonly MountinfoEntry[]) {
    for (const e of entries) this.byId.set(e.mountId, e);
    for (const e of entries) {
      const key = `${e.parentId}\0${e.mountPointRaw}`;
      const list = this.children.get(key);
      if (list) list.push(e);
      else this.children.set(key, [e]);
    }
  }

  /**
   * Ancestors of this mount in the table. Linear over the table however deep the mounts are
   * stacked: each depth is computed once (an attacker may stack 100,000 mounts).
   */
  depth(e: MountinfoEntry): number {
    const known = this.depths.get(e.mountId);
    if (known !== undefined) return known;
    // Walk up to the first mount whose depth is known (or the top), then assign on the way back.
    const chain: MountinfoEntry[] = [];
    const onChain = new Set<number>();
    let cur: MountinfoEntry | undefined = e;
    let base = -1;
    while (cur) {
      const d = this.depths.get(cur.mountId);
      if (d !== undefined) {
        base = d;
        break;
      }
      if (onChain.has(cur.mountId)) break; // a cycle cannot come from the kernel; stop rather than loop
      onChain.add(cur.mountId);
      chain.push(cur);
      cur = cur.parentId === cur.mountId ? undefined : this.byId.get(cur.parentId);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      base++;
      this.depths.set(chain[i]!.mountId, base);
    }
    return this.depths.get(e.mountId) ?? 0;
  }

  /** Where this mount is attached, or null when its parent is not in the table (computed once). */
  place(e: MountinfoEntry): Place | null {
    const known = this.places.get(e.mountId);
    if (known !== undefined) return known;
    const parent = e.parentId === e.mountId ? undefined : this.byId.get(e.parentId);
    const rel = parent ? relativeRaw(e.mountPointRaw, parent.mountPointRaw) : null;
    const place = parent && rel !== null ? { dev: parent.dev, path: joinRaw(parent.rootRaw, rel) } : null;
    this.places.set(e.mountId, place);
    return place;
  }

  /** The visible mount of the namespace's root directory: the top of what is stacked at "/". */
  private root(): MountinfoEntry | null {
    if (this.rootMount !== undefined) return this.rootMount;
    const atRoot = this.entries.filter((e) => e.mountPointRaw === "/");
    // The bottom one's parent is outside the table (or itself); follow the stack upwards.
    let bottom = atRoot.find((e) => !atRoot.some((o) => o.mountId === e.parentId && o !== e)) ?? null;
    if (bottom) bottom = this.top(bottom);
    this.rootMount = bottom;
    return bottom;
  }

  /** The mount stacked highest on `e` at its own mount point. */
  private top(e: MountinfoEntry): MountinfoEntry {
    let cur = e;
    const seen = new Set<number>([cur.mountId]);
    for (;;) {
      const above = this.children.get(`${cur.mountId}\0${cur.mountPointRaw}`)?.at(-1);
      if (!above || seen.has(above.mountId)) return cur;
      seen.add(above.mountId);
      cur = above;
    }
  }

  /**
   * The place of the directory that `pathRaw` (an absolute raw path, as this namespace's reader
   * sees it) names, the way the kernel walks it: from the root mount, into each mount attached
   * at a proper prefix of the path, never into one attached at the path itself (that would be
   * the mount *at* the place, not the place). Symlinks are not followed: callers pass the paths
   * the daemon uses, which are canonical. Null when the table does not cover the path.
   */
  resolve(pathRaw: string): Place | null {
    const cur = this.mountOf(pathRaw);
    if (!cur) return null;
    const parts = pathRaw.split("/").filter((p) => p !== "");
    const rel = relativeRaw(parts.length ? `/${parts.join("/")}` : "/", cur.mountPointRaw);
    if (rel === null) return null;
    return { dev: cur.dev, path: joinRaw(cur.rootRaw, rel) };
  }

  /**
   * The mount whose filesystem holds the directory `pathRaw` names (the walk of `resolve`): what
   * a mount at that path is, or would be, attached on. With `into`, the walk also enters what is
   * mounted at the path itself: the mount a process opening that path lands in.
   */
  mountOf(pathRaw: string, into = false): MountinfoEntry | null {
    let cur = this.root();
    if (!cur || !pathRaw.startsWith("/")) return null;
    const parts = pathRaw.split("/").filter((p) => p !== "");
    let prefix = "";
    for (let i = 0; i < parts.length - (into ? 0 : 1); i++) {
      prefix += `/${parts[i]}`;
      const child = this.children.get(`${cur.mountId}\0${prefix}`)?.[0];
      if (child) cur = this.top(child);
    }
    return cur;
  }
}
