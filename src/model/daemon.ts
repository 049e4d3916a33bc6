/**
 * Where the Docker daemon lives among the scanned processes: its mount namespace (the one in
 * which Docker makes every container mount, and which is therefore never a foreign holder) and
 * its exec root. Also the helper's mountinfo filters, derived from the same facts.
 */
import type { ProcessRecord } from "../helper/protocol.js";
import type { Inventory } from "./inventory.js";
import { escapeMountinfoPath } from "./mountinfo.js";
import { normalizeHostPath } from "./resources.js";

export type DaemonFoundBy =
  /** a dockerd whose --data-root (or -g/--graph, default /var/lib/docker) is DockerRootDir */
  | "dockerd"
  /** the only dockerd process, whatever its flags say (data-root set in daemon.json) */
  | "only-dockerd"
  /** no usable dockerd: the namespace where running containers' mounts are shared */
  | "mounts"
  /** nothing better: the namespace of PID 1 */
  | "pid1"
  | "none";

export interface DaemonLocation {
  namespace: number | null;
  /** dockerd's PID when a dockerd process was found */
  pid: number | null;
  foundBy: DaemonFoundBy;
  /** --exec-root, else derived from the containers' SandboxKeys, else Docker's default */
  execRoot: string | null;
}

const DEFAULT_ROOT = "/var/lib/docker";
const DEFAULT_EXEC_ROOT = "/run/docker";

/** The value of a flag in a command line (`--f v`, `--f=v`, `-g v`); the last one wins, as in pflag. */
export function flagValue(cmdline: readonly string[], names: readonly string[]): string | null {
  let value: string | null = null;
  for (let i = 1; i < cmdline.length; i++) {
    const arg = cmdline[i] ?? "";
    if (arg === "--") break;
    for (const name of names) {
      if (arg === name) value = cmdline[i + 1] ?? value;
      else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1);
    }
  }
  return value;
}

/** dockerd's data root as its command line gives it (the default when absent). */
export function dockerdDataRoot(cmdline: readonly string[]): string {
  return normalizeHostPath(flagValue(cmdline, ["--data-root", "--graph", "-g"]) ?? DEFAULT_ROOT);
}

export function dockerdExecRoot(cmdline: readonly string[]): string | null {
  const v = flagValue(cmdline, ["--exec-root"]);
  return v === null ? null : normalizeHostPath(v);
}

/**
 * The exec root implied by the containers' SandboxKeys (`<exec-root>/netns/<id>`), the most
 * common one when they disagree; null when no container has one.
 */
export function execRootFromSandboxKeys(inventory: Inventory): string | null {
  const counts = new Map<string, number>();
  for (const c of inventory.containers) {
    const m = /^(.+)\/netns\/[^/]+$/.exec(normalizeHostPath(c.sandboxKey));
    if (m?.[1]) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  }
  let best: string | null = null;
  let bestCount = 0;
  for (const [root, n] of counts) {
    if (n > bestCount) [best, bestCount] = [root, n];
  }
  return best;
}

/**
 * Substrings for the helper's `--filter`s, in mountinfo's escaped form: the daemon root (it
 * also matches copies seen below a bind, e.g. /rootfs/var/lib/docker/…, and overlay super
 * options), `/netns/` (network namespace files, `<exec-root>/netns/<id>`) and volume
 * mountpoints outside the root. Made from the daemon's facts and volumes only, so that the
 * helper can start before the containers are inspected: the exec root is known from the
 * SandboxKeys of inspected containers, and the model ties netns files to containers by their ID.
 */
export function scanFilters(inventory: Pick<Inventory, "daemon" | "volumes">): string[] {
  const filters = new Set<string>();
  const root = normalizeHostPath(inventory.daemon.rootDir || DEFAULT_ROOT);
  filters.add(root);
  filters.add("/netns/");
  for (const v of inventory.volumes) {
    const mp = normalizeHostPath(v.mountpoint);
    if (mp && mp !== "/" && !mp.startsWith(`${root}/`)) filters.add(mp);
  }
  return [...filters].map(escapeMountinfoPath);
}

/** What locateDaemon needs to know about each namespace's mounts, computed by the caller. */
export interface NamespaceMountStats {
  mntns: number;
  /** Mounts of running containers' resources at the daemon's own paths, shared (peer group) */
  sharedActive: number;
  /** Mounts of running containers' resources at the daemon's own paths */
  active: number;
}

/**
 * Finds the daemon's namespace: the dockerd serving this root, else the only dockerd, else the
 * namespace where running containers' mounts sit at their own paths with shared propagation
 * (Docker Desktop and other layouts where dockerd is not visible), else PID 1's.
 */
export function locateDaemon(
  inventory: Inventory,
  processes: readonly ProcessRecord[],
  mountStats: readonly NamespaceMountStats[],
): DaemonLocation {
  const root = normalizeHostPath(inventory.daemon.rootDir || DEFAULT_ROOT);
  // RHEL's docker 1.13 package runs "dockerd-current".
  const dockerds = processes.filter((p) => p.comm === "dockerd" || p.comm === "dockerd-current");
  const serving = dockerds.filter((p) => dockerdDataRoot(p.cmdline) === root);
  const fromKeys = execRootFromSandboxKeys(inventory);
  const pick = (p: ProcessRecord, foundBy: DaemonFoundBy): DaemonLocation => ({
    namespace: p.mntns,
    pid: p.pid,
    foundBy,
    execRoot: dockerdExecRoot(p.cmdline) ?? fromKeys ?? DEFAULT_EXEC_ROOT,
  });
  const [first] = serving;
  if (first) return pick(first, "dockerd");
  const [only] = dockerds;
  if (only && dockerds.length === 1) return pick(only, "only-dockerd");

  const ranked = [...mountStats]
    .filter((s) => s.active > 0)
    .sort((a, b) => b.sharedActive - a.sharedActive || b.active - a.active || a.mntns - b.mntns);
  const [best] = ranked;
  if (best) return { namespace: best.mntns, pid: null, foundBy: "mounts", execRoot: fromKeys };
  const init = processes.find((p) => p.pid === 1);
  if (init) return { namespace: init.mntns, pid: null, foundBy: "pid1", execRoot: fromKeys };
  return { namespace: null, pid: null, foundBy: "none", execRoot: fromKeys };
}
