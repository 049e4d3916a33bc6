/**
 * A small model of the kernel's mount propagation, for unit tests that need mount tables the
 * way a real host would have them after a sequence of events: namespaces copied with a
 * propagation (`unshare -m --propagation …`), recursive binds with a mode (`-v SRC:DST:rslave`),
 * and unmounts that propagate from the unmounted mount's parent to the same place on that
 * parent's peers and (transitively) slaves. It prints `/proc/PID/mountinfo` lines.
 *
 * It models what the tests need, no more: one copy per (device, root) per namespace, no mount
 * propagation of new mounts (every scenario mounts the resources before the holders are made).
 * The integration tests check the same cells on the real kernel.
 */

export interface SimMount {
  id: number;
  parent: number;
  dev: string;
  root: string;
  mountPoint: string;
  fstype: string;
  source: string;
  shared: number | null;
  master: number | null;
}

export type NsPropagation = "private" | "slave" | "unchanged";
export type BindMode = "rprivate" | "rslave" | "rshared";

export class SimNamespace {
  readonly mounts: SimMount[] = [];
  constructor(readonly inode: number) {}

  at(mountPoint: string): SimMount | undefined {
    return this.mounts.filter((m) => m.mountPoint === mountPoint).at(-1);
  }

  byId(id: number): SimMount | undefined {
    return this.mounts.find((m) => m.id === id);
  }

  /** The mount a path lies on (the deepest mount point that is a prefix of it). */
  holding(path: string): SimMount {
    let best: SimMount | undefined;
    for (const m of this.mounts) {
      const within = m.mountPoint === "/" || path === m.mountPoint || path.startsWith(`${m.mountPoint}/`);
      if (within && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
    }
    if (!best) throw new Error(`nothing holds ${path}`);
    return best;
  }

  lines(): string[] {
    return this.mounts.map((m) => {
      const tags = [
        m.shared !== null ? `shared:${m.shared}` : "",
        m.master !== null ? `master:${m.master}` : "",
      ]
        .filter(Boolean)
        .join(" ");
      return `${m.id} ${m.parent} ${m.dev} ${m.root} ${m.mountPoint} rw${tags ? ` ${tags}` : ""} - ${m.fstype} ${m.source} rw`;
    });
  }
}

export class Kernel {
  readonly namespaces: SimNamespace[] = [];
  private nextId = 20;
  private nextGroup = 1;
  /** Peer group → its master group (a group made a slave while it stays shared) */
  private readonly masterOf = new Map<number, number>();

  namespace(inode: number): SimNamespace {
    const ns = new SimNamespace(inode);
    this.namespaces.push(ns);
    return ns;
  }

  group(): number {
    return this.nextGroup++;
  }

  /**
   * A new mount attached on `parent` (or the namespace's first mount when parent is null). It
   * is shared (in a new peer group) when its parent is shared, like any mount made on a shared
   * mount; `shared` forces either way (`mount --make-shared`, `--make-private`).
   */
  mount(
    ns: SimNamespace,
    parent: SimMount | null,
    mountPoint: string,
    fs: { dev: string; root?: string; fstype: string; source: string },
    shared?: boolean,
  ): SimMount {
    const isShared = shared ?? (parent !== null && parent.shared !== null);
    const m: SimMount = {
      id: this.nextId++,
      parent: parent?.id ?? 1,
      dev: fs.dev,
      root: fs.root ?? "/",
      mountPoint,
      fstype: fs.fstype,
      source: fs.source,
      shared: isShared ? this.group() : null,
      master: null,
    };
    ns.mounts.push(m);
    return m;
  }

  /** clone(CLONE_NEWNS) of `from`, then `mount --make-r<propagation> /` in the copy. */
  copyNamespace(from: SimNamespace, inode: number, propagation: NsPropagation): SimNamespace {
    const ns = this.namespace(inode);
    const ids = new Map<number, number>();
    for (const m of from.mounts) {
      const id = this.nextId++;
      ids.set(m.id, id);
      ns.mounts.push({ ...m, id, parent: ids.get(m.parent) ?? 1, ...this.made(m, propagation) });
    }
    return ns;
  }

  /**
   * A recursive bind of the tree at `source` in `from` onto `destination` in `ns` (on mount
   * `on`), then `mount --make-<mode>` of it, as runc does for `-v source:destination:mode`.
   */
  bind(
    from: SimNamespace,
    source: string,
    ns: SimNamespace,
    on: SimMount,
    destination: string,
    mode: BindMode,
  ): SimMount {
    const top = from.holding(source);
    if (mode === "rshared" && top.shared === null) throw new Error(`${source} is not a shared mount`);
    const rel = (p: string) => (source === "/" ? p : p.slice(source.length) || "/");
    const ids = new Map<number, number>();
    const tree = from.mounts.filter(
      (m) =>
        m === top || (m.mountPoint !== source && (source === "/" || m.mountPoint.startsWith(`${source}/`))),
    );
    let first: SimMount | undefined;
    for (const m of tree) {
      const id = this.nextId++;
      ids.set(m.id, id);
      const below = rel(m.mountPoint);
      const copy: SimMount = {
        ...m,
        id,
        parent: m === top ? on.id : (ids.get(m.parent) ?? on.id),
        root: m === top ? joinPath(top.root, relative(source, top.mountPoint)) : m.root,
        mountPoint:
          m === top
            ? destination
            : destination === "/"
              ? below
              : `${destination}${below === "/" ? "" : below}`,
        ...this.made(m, mode === "rprivate" ? "private" : mode === "rslave" ? "slave" : "unchanged"),
      };
      ns.mounts.push(copy);
      first ??= copy;
    }
    if (!first) throw new Error(`nothing at ${source}`);
    return first;
  }

  /**
   * umount of `m` in `ns`: it goes, and so does the mount at the same place (the same device
   * and root) in every namespace whose parent receives from `m`'s parent's peer group.
   */
  unmount(ns: SimNamespace, m: SimMount): void {
    const parent = ns.byId(m.parent);
    ns.mounts.splice(ns.mounts.indexOf(m), 1);
    if (!parent || parent.shared === null) return;
    for (const other of this.namespaces) {
      for (const c of [...other.mounts]) {
        if (c.dev !== m.dev || c.root !== m.root) continue;
        const cp = other.byId(c.parent);
        if (cp && this.receives(parent.shared, cp)) other.mounts.splice(other.mounts.indexOf(c), 1);
      }
    }
  }

  /** rmdir/unlink of a mount point (kernel 3.18+): every mount of that device and root goes. */
  detachEverywhere(m: SimMount): void {
    for (const ns of this.namespaces) {
      for (const c of [...ns.mounts])
        if (c.dev === m.dev && c.root === m.root) ns.mounts.splice(ns.mounts.indexOf(c), 1);
    }
  }

  private receives(group: number, m: SimMount): boolean {
    if (m.shared === group) return true;
    let g = m.master;
    const seen = new Set<number>();
    while (g !== null && !seen.has(g)) {
      if (g === group) return true;
      seen.add(g);
      g = this.masterOf.get(g) ?? null;
    }
    return false;
  }

  /** The propagation of a copy of `m` made with this propagation. */
  private made(m: SimMount, propagation: NsPropagation): { shared: number | null; master: number | null } {
    switch (propagation) {
      case "private":
        return { shared: null, master: null };
      case "slave":
        // A slave of a shared mount follows its group; a slave of a slave, the same master; a
        // private mount made a slave stays private.
        return { shared: null, master: m.shared ?? m.master };
      case "unchanged":
        return { shared: m.shared, master: m.master };
    }
  }
}

/** `path` below `dir`, "" when equal ("/a/b" below "/a" is "b"). */
function relative(path: string, dir: string): string {
  if (path === dir) return "";
  return dir === "/" ? path.slice(1) : path.slice(dir.length + 1);
}

function joinPath(root: string, rel: string): string {
  if (rel === "") return root;
  return root === "/" ? `/${rel}` : `${root}/${rel}`;
}
