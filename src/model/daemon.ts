/**
 * Where the Docker daemon lives among the scanned processes: its mount namespace (the one in
 * which Docker makes every container mount, and which is therefore never a foreign holder) and
 * its exec root. Also the helper's mountinfo filters, derived from the daemon's facts.
 */
import type { ProcessRecord, SelfRecord } from "../helper/protocol.js";
import type { Inventory } from "./inventory.js";
import { escapeMountinfoPath } from "./mountinfo.js";
import { normalizeHostPath } from "./resources.js";

export type DaemonFoundBy =
  /**
   * the mount namespace of the process that started the helper container (the runtime's shim,
   * which no unprivileged user controls), confirmed by holding the helper's own root filesystem
   */
  | "runtime"
  /** the same namespace, without the confirmation (graph drivers that mount no rootfs there) */
  | "runtime-unconfirmed"
  /** the helper's parent could not be seen */
  | "none";

export interface DaemonLocation {
  namespace: number | null;
  /** A dockerd process in that namespace, for naming it (never used to find the namespace) */
  pid: number | null;
  foundBy: DaemonFoundBy;
  /** The daemon's program when it is not dockerd (Podman's service), for naming it */
  service?: "podman";
  /** --exec-root, else derived from the containers' SandboxKeys, else Docker's default */
  execRoot: string | null;
}

const DEFAULT_ROOT = "/var/lib/docker";
const DEFAULT_EXEC_ROOT = "/run/docker";
const PODMAN_ROOT = "/var/lib/containers/storage";

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
  // Podman keeps the files it binds into containers (hosts, hostname) in its run root.
  const runRoot =
    inventory.daemon.engine === "podman" ? normalizeHostPath(inventory.daemon.runRoot ?? "") : "";
  if (runRoot && runRoot !== "/" && !runRoot.startsWith(`${root}/`)) filters.add(runRoot);
  for (const v of inventory.volumes) {
    const mp = normalizeHostPath(v.mountpoint);
    if (mp && mp !== "/" && !mp.startsWith(`${root}/`)) filters.add(mp);
  }
  return [...filters].map(escapeMountinfoPath);
}

/**
 * Finds the daemon's mount namespace from facts no unprivileged user can forge: the helper's
 * parent is the runtime shim that the daemon had start the helper container, and it lives in
 * the namespace where the daemon made the helper's root filesystem (so that namespace has a
 * mount of the device the helper's "/" is on). A process named dockerd proves nothing (anyone
 * can name a process so); one found in that namespace is only used to name the daemon.
 */
export function locateDaemon(
  inventory: Inventory,
  self: Pick<SelfRecord, "ppid" | "rootDev">,
  processes: ReadonlyMap<number, ProcessRecord>,
  namespaceHasDevice: (mntns: number, dev: string) => boolean,
): DaemonLocation {
  const root = normalizeHostPath(inventory.daemon.rootDir || DEFAULT_ROOT);
  const fromKeys = execRootFromSandboxKeys(inventory);
  const parent = self.ppid > 0 ? processes.get(self.ppid) : undefined;
  if (!parent) return { namespace: null, pid: null, foundBy: "none", execRoot: fromKeys };
  const namespace = parent.mntns;
  const confirmed = namespaceHasDevice(namespace, self.rootDev);
  if (inventory.daemon.engine === "podman") {
    // The helper's parent is its conmon; the service is a `podman system service` there.
    const services = [...processes.values()].filter(
      (p) => p.mntns === namespace && p.comm === "podman" && p.cmdline.includes("service"),
    );
    const service =
      services.find((p) => normalizeHostPath(flagValue(p.cmdline, ["--root"]) ?? PODMAN_ROOT) === root) ??
      (services.length === 1 ? services[0] : undefined);
    return {
      namespace,
      pid: service?.pid ?? null,
      foundBy: confirmed ? "runtime" : "runtime-unconfirmed",
      service: "podman",
      execRoot: inventory.daemon.runRoot ? normalizeHostPath(inventory.daemon.runRoot) : null,
    };
  }
  // RHEL's docker 1.13 package runs "dockerd-current".
  const dockerds = [...processes.values()].filter(
    (p) => p.mntns === namespace && (p.comm === "dockerd" || p.comm === "dockerd-current"),
  );
  const dockerd =
    dockerds.find((p) => dockerdDataRoot(p.cmdline) === root) ??
    (dockerds.length === 1 ? dockerds[0] : undefined);
  return {
    namespace,
    pid: dockerd?.pid ?? null,
    foundBy: confirmed ? "runtime" : "runtime-unconfirmed",
    execRoot: (dockerd && dockerdExecRoot(dockerd.cmdline)) ?? fromKeys ?? DEFAULT_EXEC_ROOT,
  };
}
