/**
 * docker leak against a real Podman service (rootful, Debian's podman; scripts/test-podman.sh):
 * leaks made with `podman run` are found, attributed and released, asserting on the plugin's
 * output and on what the kernel shows afterwards (every process's mountinfo); a legitimate
 * Podman setup reports nothing. Skips, saying why, when podman is not installed.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { DockerodeClient } from "../../src/docker/dockerode-client.js";
import type { Finding } from "../../src/model/findings.js";
import { hostMountinfoLines, mntnsOf, plugin, uniqueName } from "../support/daemon.js";
import type { ScanJson } from "../support/scan.js";

const ROOT = process.env.DOCKER_LEAK_PODMAN_ROOT ?? "/var/lib/dlt-podman/root";
const RUN_DIR = process.env.DOCKER_LEAK_PODMAN_RUN ?? "/run/dlt-podman";
const SOCKET = `${RUN_DIR}/podman.sock`;
const HOST = `unix://${SOCKET}`;
const IMAGE = "localhost/dlt-busybox:latest";

const installed = spawnSync("podman", ["--version"], { encoding: "utf8" }).status === 0;
const skip = installed
  ? false
  : "podman is not installed (apt-get install podman): the Podman tests are skipped";
if (skip) console.log(`# ${skip}`);

/** The podman CLI's arguments and environment for the test service's storage, with its containers.conf (no rlimits). */
const podmanArgs = (args: string[]) => [
  "--root",
  ROOT,
  "--runroot",
  `${RUN_DIR}/run`,
  "--storage-driver",
  "overlay",
  ...args,
];
const PODMAN_ENV = { ...process.env, CONTAINERS_CONF: `${RUN_DIR}/containers.conf` };

function podman(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("podman", podmanArgs(args), { encoding: "utf8", env: PODMAN_ENV, timeout: 60_000 });
  return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function podmanOk(args: string[]): string {
  const r = podman(args);
  if (r.code !== 0) throw new Error(`podman ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

const leak = (args: string[]) => plugin(args, { DOCKER_HOST: HOST });

function scanJson(args: string[]): ScanJson & { daemon: { engine?: string } } {
  const r = leak(["scan", "--format", "json", ...args]);
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(`scan ${args.join(" ")} printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

/** Everything a test made on the Podman service, removed again. */
class PodmanScope {
  containers: string[] = [];
  volumes: string[] = [];
  pids: number[] = [];
  container(name: string) {
    this.containers.push(name);
    return name;
  }
  volume(name: string) {
    this.volumes.push(name);
    return name;
  }
  cleanup() {
    for (const pid of this.pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    // One at a time, newest first: Podman refuses to remove a container others depend on (--ipc container:).
    for (const c of [...this.containers].reverse()) {
      const r = podman(["rm", "-f", "-t", "0", c]);
      if (r.code !== 0 && !/no such container/i.test(r.stderr))
        console.log(`# podman rm ${c}: ${r.stderr.trim()}`);
    }
    for (const v of this.volumes) podman(["volume", "rm", "-f", v]);
  }
}

async function until<T>(what: string, f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The PID of the one process whose command line is exactly `cmdline` (a marker the test chose). */
function pidOf(cmdline: string): number | undefined {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").join(" ").trim() === cmdline)
        return Number(e);
    } catch {
      // gone
    }
  }
  return undefined;
}

/** Processes outside Podman's (the host's) mount namespace that still show a mount ending with `end`. */
function copiesOf(end: string): number[] {
  const hostNs = mntnsOf(process.pid);
  return hostMountinfoLines(end)
    .filter(({ pid, line }) => (line.split(" ")[4] ?? "").endsWith(end) && safeNs(pid) !== hostNs)
    .map(({ pid }) => pid);
}

function safeNs(pid: number): number | null {
  try {
    return mntnsOf(pid);
  } catch {
    return null;
  }
}

describe("docker leak on Podman", { skip }, () => {
  before(() => {
    if (!existsSync(SOCKET) || podman(["image", "exists", IMAGE]).code !== 0)
      throw new Error(
        `the test Podman service at ${HOST} is not up; start it with: sudo scripts/test-podman.sh start`,
      );
  });

  it("version and the scan's daemon block name Podman", () => {
    const v = leak(["version"]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^ Engine: +Podman$/m);
    assert.match(v.stdout, new RegExp(`^ Root dir: +${ROOT}$`, "m"));
    const json = JSON.parse(leak(["version", "--format", "json"]).stdout);
    assert.equal(json.server.engine, "podman");
  });

  describe("a legitimate setup", () => {
    const scope = new PodmanScope();
    after(() => scope.cleanup());

    it("reports nothing: --ipc container:, a volume two containers declare, a stopped container", () => {
      const owner = scope.container(uniqueName("ipcowner"));
      const user = scope.container(uniqueName("ipcuser"));
      const shared = scope.volume(uniqueName("shared"));
      const [v1, v2] = [scope.container(uniqueName("vshare")), scope.container(uniqueName("vshare"))];
      const stopped = scope.container(uniqueName("stopped"));
      // A plain local volume: its binds in the containers show its _data as their root.
      podmanOk(["volume", "create", shared]);
      podmanOk(["run", "-d", "--name", owner, "--ipc", "shareable", IMAGE, "sleep", "300"]);
      podmanOk(["run", "-d", "--name", user, "--ipc", `container:${owner}`, IMAGE, "sleep", "300"]);
      podmanOk(["run", "-d", "--name", v1, "-v", `${shared}:/data`, IMAGE, "sleep", "300"]);
      podmanOk(["run", "-d", "--name", v2, "-v", `${shared}:/data:ro`, IMAGE, "sleep", "300"]);
      podmanOk(["run", "--name", stopped, "--ipc", "shareable", IMAGE, "true"]);
      const ours = new Set([owner, user, v1, v2, stopped, shared]);
      // Another session's private namespace made on this host meanwhile holds copies of our
      // containers' mounts: those findings are facts, not false positives, and are left out. What
      // must never be reported: anything held by our own containers' processes or by Podman's
      // namespace, nor (unfiltered) any mount of a container Podman does not list (the helper's
      // own, made in Podman's namespace while it runs, are no container's).
      const ids = new Set(
        [owner, user, v1, v2, stopped].map((c) => podmanOk(["inspect", "--format", "{{.Id}}", c])),
      );
      const inOurs = (pid: number) => {
        try {
          return [...ids].some((id) => readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(`libpod-${id}`));
        } catch {
          return false;
        }
      };
      const ourFault = (f: Finding) => f.holder.owner.kind === "daemon" || f.holder.pids.some(inOurs);
      const show = (f: Finding) =>
        `${f.severity} ${f.target.name ?? f.target.kind} ${f.resource.kind} ${f.mount?.mountPoint} held by ${f.holder.owner.kind} ${f.holder.pids.join(",")}`;
      const r = leak(["scan", owner, user, v1, v2, stopped, shared]);
      const targeted = scanJson([owner, user, v1, v2, stopped, shared]);
      assert.deepEqual(targeted.findings.filter(ourFault).map(show), []);
      if (targeted.findings.length === 0) {
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stderr, /^No leaked mounts/m);
      }
      const all = scanJson([]);
      const wrong = all.findings.filter(
        (f) =>
          (ours.has(f.target.name ?? "") && ourFault(f)) ||
          (f.target.kind === "container" && f.target.status === "removed"),
      );
      assert.deepEqual(wrong.map(show), []);
    });
  });

  describe("leaks made with podman run", () => {
    const scope = new PodmanScope();
    after(() => scope.cleanup());
    let web = "";
    let webId = "";
    let vol = "";
    let holderName = "";
    let hostHolder = 0;
    let execHolder = 0;
    const shmEnd = () => `/overlay-containers/${webId}/userdata/shm`;
    const volEnd = () => `/volumes/${vol}/_data`;

    before(async () => {
      web = scope.container(uniqueName("web"));
      vol = scope.volume(uniqueName("devvol"));
      const volUser = scope.container(uniqueName("voluser"));
      holderName = scope.container(uniqueName("holder"));
      podmanOk(["volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", vol]);
      webId = podmanOk(["run", "-d", "--name", web, "--ipc", "shareable", IMAGE, "sleep", "300"]);
      podmanOk(["run", "-d", "--name", volUser, "-v", `${vol}:/data`, IMAGE, "sleep", "300"]);
      // A holder inside a container: it may unshare and sees the host at /rootfs (never --privileged).
      podmanOk([
        "run",
        "-d",
        "--name",
        holderName,
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "-v",
        "/:/rootfs:ro",
        IMAGE,
        "sleep",
        "300",
      ]);
      const marker = `sleep ${290 + Math.floor(Math.random() * 9)}`;
      podmanOk(["exec", "-d", holderName, "unshare", "-m", "--propagation", "private", ...marker.split(" ")]);
      execHolder = await until("the holder's exec", () => {
        const pid = pidOf(marker);
        return pid !== undefined && safeNs(pid) !== null ? pid : undefined;
      });
      // A host process in a private mount namespace.
      const hostMarker = `sleep ${280 + Math.floor(Math.random() * 9)}`;
      const child = spawn("unshare", ["-m", "--propagation", "private", ...hostMarker.split(" ")], {
        stdio: "ignore",
        detached: true,
      });
      child.unref();
      if (child.pid) scope.pids.push(child.pid);
      hostHolder = await until("the host holder", () => {
        const pid = pidOf(hostMarker);
        return pid !== undefined && safeNs(pid) !== mntnsOf(process.pid) ? pid : undefined;
      });
      podmanOk(["stop", "-t", "0", web]);
      podmanOk(["rm", "-f", "-t", "0", volUser]);
    });

    it("scan finds web's shm and the volume held by the host process and by the container holder, attributed", () => {
      assert.ok(
        copiesOf(shmEnd()).includes(hostHolder),
        "the kernel shows the host holder's copy of web's shm",
      );
      assert.ok(
        copiesOf(volEnd()).includes(hostHolder),
        "the kernel shows the host holder's copy of the volume",
      );
      const json = scanJson([web, vol]);
      assert.equal(json.daemon.engine, "podman");
      const rows = json.findings.map((f) => {
        const o = f.holder.owner;
        const who = o.kind === "container" ? `container ${o.name}` : o.kind;
        return `${f.severity} ${f.target.kind === "volume" ? f.target.name : f.target.name} ${f.resource.kind} ${who} ${f.holder.pids.join(",")}`;
      });
      const expect = (line: string) =>
        assert.ok(rows.includes(line), `${line}\nnot among:\n${rows.join("\n")}`);
      expect(`leaked ${web} shm process ${hostHolder}`);
      expect(`leaked ${vol} volume process ${hostHolder}`);
      expect(`leaked ${web} shm container ${holderName} ${execHolder}`);
      expect(`leaked ${vol} volume container ${holderName} ${execHolder}`);
      const exec = json.findings.find((f) => f.holder.pids.includes(execHolder));
      assert.ok(exec?.holder.owner.kind === "container" && exec.holder.owner.runtime === "podman");
      assert.ok(
        json.findings.every((f) => f.severity === "leaked"),
        rows.join("\n"),
      );
      const table = leak(["scan", web]);
      assert.equal(table.code, 3, table.stderr);
      assert.match(table.stdout, new RegExp(`leaked +PID ${hostHolder} \\(sleep\\)`));
    });

    it("rm --force-unmount releases web's copies and removes it; the kernel shows none left", () => {
      const r = leak(["rm", "--force-unmount", web]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(
        r.stdout,
        new RegExp(`^${web}: released \\d+ leaked mounts?, removed; verified: nothing left$`, "m"),
      );
      assert.deepEqual(copiesOf(shmEnd()), []);
      assert.equal(podman(["container", "exists", web]).code, 1, "web is gone");
      assert.ok(safeNs(hostHolder) !== null && safeNs(execHolder) !== null, "the holders keep running");
    });

    it("volume rm --force-unmount releases the volume's copies and removes it; the kernel shows none left", () => {
      const r = leak(["volume", "rm", "--force-unmount", vol]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(
        r.stdout,
        new RegExp(`^${vol}: released \\d+ leaked mounts?, removed; verified: nothing left$`, "m"),
      );
      assert.deepEqual(copiesOf(volEnd()), []);
      assert.equal(podman(["volume", "exists", vol]).code, 1, "the volume is gone");
    });
  });

  describe("containers removed while they are listed", () => {
    const scope = new PodmanScope();
    after(() => scope.cleanup());

    // Podman answers an inspect with 500 ("does not exist in database"), not 404, for a moment
    // while it removes a container (about 1 request in 200 during a `podman rm`, measured with
    // curl). A scan that lists just then must count the container gone, not fail.
    it("are gone to the inventory, never an error", { timeout: 120_000 }, async () => {
      const client = new DockerodeClient(
        { host: HOST, context: "default", source: "test", configDir: "/nonexistent" },
        { rawGlobals: [] },
      );
      let listings = 0;
      try {
        for (let round = 0; round < 20; round++) {
          const name = scope.container(uniqueName("churn"));
          podmanOk(["create", "--name", name, IMAGE, "sleep", "1000"]);
          const rm = spawn("podman", podmanArgs(["rm", "-f", name]), { env: PODMAN_ENV, stdio: "ignore" });
          let removed = false;
          const exited = new Promise<void>((resolve) =>
            rm.on("exit", () => {
              removed = true;
              resolve();
            }),
          );
          while (!removed) {
            await client.containers();
            listings++;
          }
          await exited;
        }
      } finally {
        client.close();
      }
      assert.ok(listings >= 20, `listed ${listings} times`);
    });
  });

  describe("a mount below a volume's _data in Podman's own namespace", () => {
    const scope = new PodmanScope();
    let sub = "";
    after(() => {
      if (sub) spawnSync("umount", ["-l", sub]);
      scope.cleanup();
    });

    it("is stale; volume rm leaves it (Podman would drop the volume and keep the mount), --force-unmount releases it", () => {
      const vol = scope.volume(uniqueName("subvol"));
      podmanOk(["volume", "create", vol]);
      const data = podmanOk(["volume", "inspect", "--format", "{{.Mountpoint}}", vol]);
      sub = `${data}/sub`;
      assert.equal(spawnSync("mkdir", ["-p", sub]).status, 0);
      assert.equal(spawnSync("mount", ["-t", "tmpfs", "dlt-sub", sub]).status, 0);
      const plain = leak(["volume", "rm", vol]);
      assert.equal(plain.code, 3, `${plain.stdout}\n${plain.stderr}`);
      assert.match(plain.stdout, /held by the Podman service \(podman PID \d+\)/);
      assert.equal(podman(["volume", "exists", vol]).code, 0, "the volume is kept");
      const forced = leak(["volume", "rm", "--force-unmount", vol]);
      assert.equal(forced.code, 0, `${forced.stdout}\n${forced.stderr}`);
      assert.equal(hostMountinfoLines(`${vol}/_data/sub`).length, 0, "no process shows the submount");
      assert.equal(podman(["volume", "exists", vol]).code, 1, "the volume is gone");
      sub = "";
    });
  });
});
