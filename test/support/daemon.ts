/**
 * The private test daemon (scripts/test-daemon.sh) and small wrappers around the real docker
 * CLI. Everything a test creates gets a unique `dlt-` name and is removed by its Scope.
 */
import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PRIVATE_SOCKET = process.env.DOCKER_LEAK_TEST_SOCKET ?? "/run/docker-leak-test/docker.sock";
export const PRIVATE_HOST = `unix://${PRIVATE_SOCKET}`;
export const PRIVATE_ROOT = process.env.DOCKER_LEAK_TEST_ROOT ?? "/var/lib/dlt-daemon/root";
export const TEST_IMAGE = "docker-leak-test/busybox:latest";
export const BUNDLE = join(REPO_ROOT, "dist", "docker-leak.cjs");
export const LAUNCHER = join(REPO_ROOT, "plugin-metadata", "docker-leak");
/** `docker run` flags for a test container that may mount and unshare (never --privileged). */
export const MOUNT_CAPABLE = [
  "--cap-add",
  "SYS_ADMIN",
  "--security-opt",
  "seccomp=unconfined",
  "--security-opt",
  "apparmor=unconfined",
];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function result(r: SpawnSyncReturns<string>): Run {
  if (r.error) throw r.error;
  return { code: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout, stderr: r.stderr };
}

/** The real docker CLI against the private daemon (unless env overrides DOCKER_HOST). */
export function docker(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  return result(
    spawnSync("docker", args, {
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: PRIVATE_HOST, ...env },
      timeout: 120_000,
    }),
  );
}

/** docker, failing the test when it fails. */
export function dockerOk(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = docker(args, env);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The bundled plugin run directly (as `docker-leak …`), against the private daemon by default. */
export function plugin(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  return result(
    spawnSync(process.execPath, [BUNDLE, ...args], {
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: PRIVATE_HOST, NO_COLOR: "1", ...env },
      timeout: 300_000,
      // Room for the unfiltered scan of a daemon other sessions fill with leaks (megabytes of JSON).
      maxBuffer: 512 * 1024 * 1024,
    }),
  );
}

/** Same, asynchronously (for tests that act while it runs). */
export function pluginAsync(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [BUNDLE, ...args], {
    env: { ...process.env, DOCKER_HOST: PRIVATE_HOST, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function uniqueName(what: string): string {
  return `dlt-${what}-${randomBytes(4).toString("hex")}`;
}

export function requireDaemon(): void {
  const r = docker(["version", "--format", "{{.Server.Version}}"]);
  if (r.code !== 0) {
    throw new Error(
      `the private test daemon at ${PRIVATE_HOST} does not answer (${r.stderr.trim()}); start it with: sudo scripts/test-daemon.sh start`,
    );
  }
}

/** Mountinfo lines of every process on the host that contain `needle` (the kernel's view). */
export function hostMountinfoLines(needle: string): { pid: number; line: string }[] {
  const out: { pid: number; line: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/mountinfo`, "utf8");
    } catch {
      continue; // gone, or a kernel thread
    }
    for (const line of text.split("\n")) if (line.includes(needle)) out.push({ pid: Number(entry), line });
  }
  return out;
}

/** Tracks what a test made, and removes exactly that. */
export class Scope {
  private containers: string[] = [];
  private volumes: string[] = [];
  private pids: number[] = [];
  private cleanups: (() => void)[] = [];

  container(name: string): string {
    this.containers.push(name);
    return name;
  }
  volume(name: string): string {
    this.volumes.push(name);
    return name;
  }
  process(pid: number): number {
    this.pids.push(pid);
    return pid;
  }
  defer(fn: () => void): void {
    this.cleanups.push(fn);
  }

  cleanup(): void {
    for (const pid of this.pids.reverse()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const fn of this.cleanups.reverse()) {
      try {
        fn();
      } catch {
        // best effort
      }
    }
    if (this.containers.length) docker(["rm", "-f", "-v", ...this.containers]);
    for (const v of this.volumes) docker(["volume", "rm", "-f", v]);
  }
}

/** Starts `unshare ARGS…` on the host, detached, owned by `scope`; returns its PID (that of what it execs). */
export function unshareHolder(scope: Scope, args: string[]): number {
  const child = spawn("unshare", args, { stdio: "ignore", detached: true });
  child.unref();
  if (!child.pid) throw new Error("could not start unshare");
  return scope.process(child.pid);
}

/** Starts `unshare -m --propagation private sleep` on the host; returns the sleep's PID. */
export function privateNamespaceHolder(scope: Scope, seconds = 600): number {
  return unshareHolder(scope, ["-m", "--propagation", "private", "sleep", String(seconds)]);
}

/** Waits until `pid`'s mount namespace differs from ours (unshare has run). */
export async function waitForOwnNamespace(pid: number): Promise<void> {
  const { readlinkSync } = await import("node:fs");
  const mine = readlinkSync("/proc/self/ns/mnt");
  for (let i = 0; i < 100; i++) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/mnt`) !== mine) {
        const comm = spawnSync("cat", [`/proc/${pid}/comm`], { encoding: "utf8" }).stdout.trim();
        if (comm === "sleep") return;
      }
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pid ${pid} did not enter its own mount namespace`);
}

/** A process as an unmount order names it: PID and start time (field 22 of /proc/PID/stat). */
export function orderMember(pid: number): { pid: number; start: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  return { pid, start };
}

/** The inode of a process's mount namespace. */
export function mntnsOf(pid: number): number {
  return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/mnt`))?.[1]);
}

/**
 * The PID of a private daemon's dockerd (default: the main one's): the pidfile scripts/test-daemon.sh
 * puts next to the socket in its run directory, checked against that dockerd's command line
 * (which names the socket).
 */
export function privateDaemonPid(runDir = dirname(PRIVATE_SOCKET)): number {
  const socket = join(runDir, "docker.sock");
  const host = `unix://${socket}`;
  const pid = Number(readFileSync(join(runDir, "docker.pid"), "utf8").trim());
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  if (!cmdline.some((a) => a === host || a === socket || a.endsWith(`=${host}`)))
    throw new Error(`PID ${pid} (from the pidfile) is not the dockerd of ${host}`);
  return pid;
}

/**
 * What the kernel shows of a container's mounts outside the daemon's namespace: the distinct
 * (namespace, mount ID) pairs whose mount point ends with its shm, its network namespace file or
 * its rootfs, counted over every process on the host (tests take expected counts from here, not
 * from one host's layout), as a range that a command run right after stays within: Docker's network code
 * removes a stopped container's netns file up to a minute after the stop, and the kernel then
 * drops every copy of it, so a command may see fewer copies than were counted a moment before.
 * `min` leaves the netns copies out (the others stay until released), `max` counts them all.
 */
export function kernelCopyRange(
  container: string,
  env: NodeJS.ProcessEnv = {},
  daemonPid = privateDaemonPid(),
): { min: number; max: number } {
  const inspect = JSON.parse(dockerOk(["inspect", container], env))[0];
  const id: string = inspect.Id;
  const stable = [`/containers/${id}/mounts/shm`];
  const merged: string | undefined = inspect.GraphDriver?.Data?.MergedDir;
  if (merged) stable.push(merged);
  const sandbox: string = inspect.NetworkSettings?.SandboxKey ?? "";
  const netns = sandbox && !sandbox.endsWith("/default") ? [sandbox.replace(/^\/var\/run\//, "/run/")] : [];
  const daemonNs = mntnsOf(daemonPid);
  const count = (ends: string[]): number => {
    const seen = new Set<string>();
    for (const end of ends) {
      for (const { pid, line } of hostMountinfoLines(end)) {
        const mountPoint = line.split(" ")[4] ?? "";
        if (!mountPoint.endsWith(end)) continue;
        let ns: number;
        try {
          ns = mntnsOf(pid);
        } catch {
          continue; // gone meanwhile
        }
        if (ns !== daemonNs) seen.add(`${ns} ${line.split(" ")[0]}`);
      }
    }
    return seen.size;
  };
  const min = count(stable);
  return { min, max: min + count(netns) };
}

/** The count a command printed (`pattern`'s first group) lies within `range`. */
export function assertCountWithin(text: string, pattern: RegExp, range: { min: number; max: number }): void {
  const m = pattern.exec(text);
  if (!m) throw new Error(`no match for ${pattern} in:\n${text}`);
  const n = Number(m[1]);
  if (n < range.min || n > range.max)
    throw new Error(`${n} is not within [${range.min}, ${range.max}] (the kernel's copies): ${m[0]}`);
}

/**
 * A volume that `docker volume rm` cannot remove: a tmpfs mounted below its _data by a container
 * that bound _data `rshared`, so the mount propagated into the daemon's namespace and stays after
 * the container is gone. Returns the volume's name and its _data path.
 */
export function busyVolume(scope: Scope, what: string): { volume: string; data: string } {
  const volume = scope.volume(uniqueName(what));
  dockerOk(["volume", "create", volume]);
  const data = dockerOk(["volume", "inspect", "-f", "{{.Mountpoint}}", volume]);
  scope.defer(() => spawnSync("umount", [`${data}/sub`]));
  const c = scope.container(uniqueName(`${what}-user`));
  dockerOk([
    "run",
    "-d",
    "--name",
    c,
    "-v",
    `${data}:/data:rshared`,
    ...MOUNT_CAPABLE,
    TEST_IMAGE,
    "sh",
    "-c",
    "mkdir -p /data/sub && mount -t tmpfs dlt-sub /data/sub && exec sleep 600",
  ]);
  for (let i = 0; i < 100 && !hostMountinfoLines(`${data}/sub`).some((l) => l.pid === process.pid); i++) {
    spawnSync("sleep", ["0.05"]);
  }
  dockerOk(["rm", "-f", c]);
  return { volume, data };
}
