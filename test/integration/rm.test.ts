/**
 * `docker leak rm` and `docker leak volume rm` on real leaks, asserting on what the kernel shows
 * afterwards (the mountinfo of every process) as well as on what the plugin printed.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  assertCountWithin,
  busyVolume,
  docker,
  dockerOk,
  hostMountinfoLines,
  kernelCopyRange,
  MOUNT_CAPABLE,
  plugin,
  pluginAsync,
  privateNamespaceHolder,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  unshareHolder,
  waitForOwnNamespace,
} from "../support/daemon.js";

const alive = (pid: number) => spawnSync("kill", ["-0", String(pid)]).status === 0;
const exists = (name: string) => docker(["inspect", name]).code === 0;

/** A stopped `--ipc shareable` container (its shm is a tmpfs the daemon made). */
function shareable(scope: Scope, what: string): { name: string; id: string } {
  const name = scope.container(uniqueName(what));
  const id = dockerOk(["run", "-d", "--name", name, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"]);
  return { name, id };
}

/** A running container that may unshare and sees the host at /rootfs, as holders inside containers do. */
function holderContainer(scope: Scope, what: string): { name: string; id: string } {
  const name = scope.container(uniqueName(what));
  const id = dockerOk([
    "run",
    "-d",
    "--name",
    name,
    ...MOUNT_CAPABLE,
    "-v",
    "/:/rootfs:ro",
    TEST_IMAGE,
    "sleep",
    "600",
  ]);
  return { name, id };
}

/** A container whose own process makes a private namespace (a holder inside a container). */
async function containerHolder(scope: Scope): Promise<{ name: string; pid: number }> {
  const { name, id } = holderContainer(scope, "holder");
  dockerOk(["exec", "-d", name, "unshare", "-m", "--propagation", "private", "sleep", "599"]);
  for (let i = 0; i < 100; i++) {
    const r = spawnSync("pgrep", ["-f", "^sleep 599$"], { encoding: "utf8" });
    for (const p of r.stdout.split("\n").filter(Boolean).map(Number)) {
      const cgroup = spawnSync("cat", [`/proc/${p}/cgroup`], { encoding: "utf8" }).stdout;
      if (cgroup.includes(id)) {
        await waitForOwnNamespace(p);
        return { name, pid: p };
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the holder inside the container did not start");
}

function heldBy(id: string, pid: number): boolean {
  return hostMountinfoLines(id).some((l) => l.pid === pid);
}

describe("docker leak rm", () => {
  const scope = new Scope();
  let target: { name: string; id: string };
  let other: { name: string; id: string };
  let hostHolder: number;
  let inContainer: { name: string; pid: number };

  before(async () => {
    requireDaemon();
    target = shareable(scope, "rm-target");
    other = shareable(scope, "rm-other");
    hostHolder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(hostHolder);
    inContainer = await containerHolder(scope);
    dockerOk(["stop", "-t", "0", target.name, other.name]);
    assert.ok(
      heldBy(target.id, hostHolder) && heldBy(target.id, inContainer.pid),
      "recipe: target's shm is held",
    );
    assert.ok(heldBy(other.id, hostHolder), "recipe: the other container's shm is held");
  });
  after(() => scope.cleanup());

  it("without --force-unmount leaves a held container alone and names the holders", () => {
    const r = plugin(["rm", target.name]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, new RegExp(`${target.name}: not removed`));
    assert.match(r.stdout, new RegExp(`PID ${hostHolder} \\(sleep\\)`));
    assert.match(r.stdout, new RegExp(`inside container ${inContainer.name}`));
    assert.match(r.stderr, /--force-unmount/);
    assert.ok(exists(target.name));
  });

  it("--dry-run prints the plan and changes nothing", () => {
    const copies = kernelCopyRange(target.name);
    const r = plugin(["rm", "--force-unmount", "--dry-run", target.name]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ACTION\s+NAMESPACE\s+PIDS\s+OWNER\s+MOUNT ID\s+MOUNT POINT/);
    assert.match(r.stdout, new RegExp(`umount\\s+mnt:\\[\\d+\\]\\s+${hostHolder}\\s`));
    assert.match(r.stdout, new RegExp(`${target.id}/mounts/shm`));
    assertCountWithin(
      r.stdout,
      new RegExp(`^${target.name}: would be released from (\\d+) leaked mounts?, removed$`, "m"),
      copies,
    );
    assert.ok(exists(target.name), "container still there");
    assert.ok(heldBy(target.id, hostHolder) && heldBy(target.id, inContainer.pid), "mounts still held");
  });

  it("--dry-run without --force-unmount removes nothing either", () => {
    const idle = scope.container(uniqueName("dry-idle"));
    dockerOk(["create", "--name", idle, TEST_IMAGE]);
    const r = plugin(["rm", "--dry-run", idle]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${idle}: would be removed$`, "m"));
    assert.ok(exists(idle));
  });

  it("-f without --force-unmount does not even stop a running container whose mounts are held", async () => {
    const busy = shareable(scope, "captured");
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    const r = plugin(["rm", "-f", busy.name]);
    assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
    assert.match(
      r.stdout,
      new RegExp(`${busy.name}: not removed: \\d+ mounts? held in other mount namespaces`),
    );
    assert.equal(dockerOk(["inspect", "-f", "{{.State.Running}}", busy.name]), "true");
  });

  it("a running container is refused without -f and left alone", () => {
    const running = scope.container(uniqueName("running"));
    dockerOk(["run", "-d", "--name", running, TEST_IMAGE, "sleep", "600"]);
    const r = plugin(["rm", "--force-unmount", running]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`cannot remove ${running}: container [0-9a-f]{12} is running; stop it first or use -f`),
    );
    assert.equal(dockerOk(["inspect", "-f", "{{.State.Running}}", running]), "true");
  });

  it("a missing name and an ambiguous prefix are clear errors that change nothing", () => {
    const missing = plugin(["rm", "--force-unmount", target.name, "dlt-no-such-container"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), "docker leak: No such container: dlt-no-such-container");
    assert.ok(exists(target.name), "the valid target was not touched either");
    // Two of our containers share a first ID character (16 possibilities, 3 containers: retry until so).
    const ids = [target.id, other.id];
    while (new Set(ids.map((i) => i[0])).size === ids.length) {
      ids.push(dockerOk(["create", "--name", scope.container(uniqueName("prefix")), TEST_IMAGE]));
    }
    const shared = ids.find((i, n) => ids.findIndex((j) => j[0] === i[0]) !== n)!;
    const prefix = shared[0]!;
    const all = dockerOk(["ps", "-aq", "--no-trunc"]).split("\n");
    if (all.filter((i) => i.startsWith(prefix)).length > 1) {
      const r = plugin(["rm", "--force-unmount", prefix]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`"${prefix}" is ambiguous: it is a prefix of \\d+ container IDs`));
    }
    assert.ok(exists(target.name) && heldBy(target.id, hostHolder));
  });

  it("--force-unmount releases exactly the target's mounts, removes it, and nothing of it is left", () => {
    const copies = kernelCopyRange(target.name);
    assert.ok(copies.min >= 2, `recipe: ${copies.min} copies of the shm`);
    const r = plugin(["rm", "--force-unmount", target.name]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assertCountWithin(
      r.stdout,
      new RegExp(`^${target.name}: released (\\d+) leaked mounts?, removed; verified: nothing left$`, "m"),
      copies,
    );
    assert.ok(!exists(target.name), "removed");
    assert.deepEqual(hostMountinfoLines(target.id), [], "no mountinfo line anywhere names it");
    assert.ok(alive(hostHolder) && alive(inContainer.pid), "both holders still run");
    assert.ok(
      heldBy(other.id, hostHolder) && heldBy(other.id, inContainer.pid),
      "no collateral: the other leak is still held",
    );
  });

  it("two concurrent runs on the same container: one removes it, the other reports it gone", async () => {
    const twin = shareable(scope, "rm-twin");
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    dockerOk(["stop", "-t", "0", twin.name]);
    assert.ok(heldBy(twin.id, holder));
    const run = () =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = pluginAsync(["rm", "--force-unmount", twin.name]);
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("exit", (code) => resolve({ code, out, err }));
      });
    const results = await Promise.all([run(), run()]);
    for (const r of results) {
      assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.out} ${r.err}`);
      assert.doesNotMatch(r.err, /internal error|\n\s+at /);
    }
    assert.ok(results.some((r) => r.code === 0 && /removed/.test(r.out)));
    const loser = results.find((r) => r.code === 1);
    if (loser) assert.match(loser.err, new RegExp(`No such container: ${twin.name}`));
    assert.ok(!exists(twin.name));
    assert.deepEqual(hostMountinfoLines(twin.id), []);
  });
});

describe("docker leak rm: locked mounts (user-namespace holders)", () => {
  const scope = new Scope();
  before(() => requireDaemon());
  after(() => scope.cleanup());

  /** A holder in its own user namespace: the copies it gets are locked and cannot be unmounted. */
  async function userNamespaceHolder(): Promise<number> {
    const pid = unshareHolder(scope, [
      "-U",
      "-m",
      "--map-root-user",
      "--propagation",
      "private",
      "sleep",
      "600",
    ]);
    await waitForOwnNamespace(pid);
    return pid;
  }

  it("a locked copy that cannot be unmounted goes when removal deletes its mount point", async () => {
    const target = shareable(scope, "locked");
    const holder = await userNamespaceHolder();
    dockerOk(["stop", "-t", "0", target.name]);
    assert.ok(heldBy(target.id, holder), "recipe: held by the user-namespace holder");
    const copies = kernelCopyRange(target.name);
    const r = plugin(["rm", "--force-unmount", target.name]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assertCountWithin(
      r.stdout,
      new RegExp(
        `^${target.name}: (\\d+) locked mounts? \\(user-namespace holder\\) detached by removing the mount point, removed; verified: nothing left$`,
        "m",
      ),
      copies,
    );
    assert.deepEqual(hostMountinfoLines(target.id), []);
    assert.ok(alive(holder), "the holder still runs");
  });

  it("--restart-holders restarts a holder container (never a host process) when unmounting failed", async () => {
    const target = shareable(scope, "locked-c");
    const hostHolder = await userNamespaceHolder();
    const { name: holderName, id: holderId } = holderContainer(scope, "userns-holder");
    dockerOk([
      "exec",
      "-d",
      holderName,
      "unshare",
      "-U",
      "-r",
      "-m",
      "--propagation",
      "private",
      "sleep",
      "597",
    ]);
    for (let i = 0; i < 100 && !hostMountinfoLines(target.id).some((l) => l.line.includes("/rootfs/")); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const startedBefore = dockerOk(["inspect", "-f", "{{.State.StartedAt}}", holderId]);
    dockerOk(["stop", "-t", "0", target.name]);
    const r = plugin(["rm", "--force-unmount", "--restart-holders", target.name]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`restarted holder container ${holderId.slice(0, 12)}`));
    assert.notEqual(
      dockerOk(["inspect", "-f", "{{.State.StartedAt}}", holderId]),
      startedBefore,
      "restarted",
    );
    assert.equal(dockerOk(["inspect", "-f", "{{.State.Running}}", holderId]), "true");
    assert.ok(alive(hostHolder), "the host process holder was not touched");
    assert.deepEqual(hostMountinfoLines(target.id), []);
  });
});

describe("docker leak volume rm", () => {
  const scope = new Scope();
  before(() => requireDaemon());
  after(() => scope.cleanup());

  it("removes a volume that docker volume rm cannot (a mount propagated below _data)", () => {
    const { volume, data } = busyVolume(scope, "rshared");
    const plain = docker(["volume", "rm", volume]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /device or resource busy/);

    const dry = plugin(["volume", "rm", "--force-unmount", "--dry-run", volume]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`${data}/sub`));
    assert.equal(docker(["volume", "inspect", volume]).code, 0);

    const r = plugin(["volume", "rm", "--force-unmount", volume]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      new RegExp(`^${volume}: released 1 leaked mount, removed; verified: nothing left$`, "m"),
    );
    assert.equal(docker(["volume", "inspect", volume]).code, 1, "volume removed");
    assert.deepEqual(hostMountinfoLines(`/volumes/${volume}/`), []);
  });

  it("releases and removes a device-backed volume held after its container is gone", async () => {
    const volume = scope.volume(uniqueName("tmpfsvol"));
    dockerOk(["volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", volume]);
    const c = scope.container(uniqueName("tmpfsvol-user"));
    dockerOk(["run", "-d", "--name", c, "-v", `${volume}:/data`, TEST_IMAGE, "sleep", "600"]);
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    dockerOk(["rm", "-f", c]);
    assert.ok(
      hostMountinfoLines(`/volumes/${volume}/_data`).some((l) => l.pid === holder),
      "recipe: held",
    );

    const inUse = scope.container(uniqueName("tmpfsvol-inuse"));
    dockerOk(["create", "--name", inUse, "-v", `${volume}:/data`, TEST_IMAGE]);
    const refused = plugin(["volume", "rm", "--force-unmount", volume]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`cannot remove volume ${volume}: volume is in use`));
    assert.ok(
      hostMountinfoLines(`/volumes/${volume}/_data`).some((l) => l.pid === holder),
      "nothing changed",
    );
    dockerOk(["rm", inUse]);

    const r = plugin(["volume", "rm", "--force-unmount", volume]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(hostMountinfoLines(`/volumes/${volume}/_data`), [], "released everywhere");
    assert.equal(docker(["volume", "inspect", volume]).code, 1, "removed");
    assert.ok(alive(holder), "the holder still runs");
  });

  it("a missing volume is a clear error", () => {
    const r = plugin(["volume", "rm", "--force-unmount", "dlt-no-such-volume"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "docker leak: No such volume: dlt-no-such-volume");
  });
});
