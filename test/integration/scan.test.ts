/**
 * `docker leak scan` on real leaks made on the private daemon (the recipes of DESIGN.md,
 * "Testing"), asserting on its JSON, table, quiet output and exit status.
 *
 * Other sessions may use the daemon at the same time: every assertion looks only at the
 * containers, volumes and holders this file made (a foreign holder may add findings of its own).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { mountLineFingerprint } from "../../src/helper/protocol.js";
import type { Finding } from "../../src/model/findings.js";
import {
  dockerOk,
  hostMountinfoLines,
  MOUNT_CAPABLE,
  orderMember,
  plugin,
  pluginAsync,
  privateNamespaceHolder,
  type Run,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  unshareHolder,
  waitForOwnNamespace,
} from "../support/daemon.js";
import { helperContainers } from "../support/helper.js";
import { type JsonRun, scanJson } from "../support/scan.js";

/**
 * Helper containers the daemon created while `run` ran (from its event log, since such a
 * container removes itself). Another session scanning the same daemon at that moment would
 * show up here too.
 */
function helpersCreatedDuring(run: () => void): string[] {
  const since = Date.now() / 1000;
  run();
  const until = Date.now() / 1000 + 1;
  const out = dockerOk([
    "events",
    "--since",
    since.toFixed(3),
    "--until",
    until.toFixed(3),
    "--filter",
    "type=container",
    "--filter",
    "event=create",
    "--filter",
    "label=io.docker-leak.helper",
    "--format",
    "{{.Actor.Attributes.name}}",
  ]);
  return out ? out.split("\n") : [];
}

/** Short, readable evidence for assertion messages. */
function evidence(r: JsonRun): string {
  const brief = r.json.findings.map((f) => ({
    severity: f.severity,
    target: f.target,
    resource: f.resource.kind,
    owner: f.holder.owner,
    pids: f.holder.pids,
    mountPoint: f.mount?.mountPoint ?? null,
  }));
  return `exit ${r.code}\nfindings: ${JSON.stringify(brief, null, 1)}\ndetached: ${JSON.stringify(r.json.detached)}\nstderr: ${r.stderr}`;
}

/** The error message of a failed run (with --format json it comes as {"error": …} on stderr). */
function errorText(r: Run): string {
  try {
    const e = JSON.parse(r.stderr);
    if (typeof e?.error === "string") return e.error;
  } catch {
    // plain text
  }
  return r.stderr.trim();
}

function ofContainer(r: JsonRun, id: string): Finding[] {
  return r.json.findings.filter((f) => f.target.kind === "container" && f.target.id === id);
}

function ofVolume(r: JsonRun, name: string): Finding[] {
  return r.json.findings.filter((f) => f.target.kind === "volume" && f.target.name === name);
}

function mntns(pid: number): number {
  return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/mnt`))![1]);
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Whether our own (the daemon's, on this host) mount table shows `needle`. */
function mountedHere(needle: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8").includes(needle);
}

/** `docker run -d` of a sleeping busybox; returns the full ID. */
function runSleeping(scope: Scope, name: string, flags: string[] = []): string {
  scope.container(name);
  return dockerOk(["run", "-d", "--name", name, ...flags, TEST_IMAGE, "sleep", "600"]);
}

/** Stops a container at once (busybox's sleep as PID 1 ignores SIGTERM) and waits for its shm to go. */
async function stopNow(id: string): Promise<void> {
  dockerOk(["stop", "-t", "0", id]);
  await waitFor(`the daemon to unmount ${id}'s mounts`, () => !mountedHere(`/containers/${id}/mounts/`));
}

/** Host PIDs of the processes of container `id` whose argv is exactly `argv`. */
function containerProcesses(id: string, argv: string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").slice(0, -1);
      if (cmdline.join("\0") !== argv.join("\0")) continue;
      if (readFileSync(`/proc/${entry}/cgroup`, "utf8").includes(id)) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** Everything this file makes, checked for leftovers at the end. */
const made = { names: [] as string[], pids: [] as number[] };
function ours(what: string): string {
  const name = uniqueName(what);
  made.names.push(name);
  return name;
}
function holderProcess(pid: number): number {
  made.pids.push(pid);
  return pid;
}

describe("docker leak scan finds real leaks", () => {
  before(() => requireDaemon());

  describe("a stopped --ipc shareable container whose shm a host process holds", () => {
    const scope = new Scope();
    const name = ours("scan-shm");
    const other = ours("scan-shm-other");
    let id = "";
    let otherId = "";
    let holder = 0;
    let scan: JsonRun;

    before(async () => {
      id = runSleeping(scope, name, ["--ipc", "shareable"]);
      otherId = runSleeping(scope, other, ["--ipc", "shareable"]);
      holder = holderProcess(privateNamespaceHolder(scope));
      await waitForOwnNamespace(holder);
      await stopNow(id);
      await stopNow(otherId);
      scan = scanJson([name]);
    });
    after(() => scope.cleanup());

    it("with its output closed before the end (| head -c0): exits 141 without a word, no helper left", async () => {
      // Node reports a closed pipe as EPIPE (it ignores SIGPIPE); unhandled, that crashed the run
      // with a stack trace where a docker command ends silently.
      const child = pluginAsync(["scan", "--format", "json"]);
      child.stdout.destroy();
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString("utf8");
      });
      const [code] = await new Promise<[number | null, string | null]>((resolve) =>
        child.on("close", (c, sig) => resolve([c, sig])),
      );
      assert.equal(code, 141, stderr);
      assert.doesNotMatch(stderr, /EPIPE|internal error|\n\s+at |Unhandled/, stderr);
      assert.deepEqual(helperContainers(), []);
    });

    it("reports the shm as leaked, held by the host process and its PID, and exits 3", () => {
      const shm = ofContainer(scan, id).filter(
        (f) => f.resource.kind === "shm" && f.holder.pids.includes(holder),
      );
      assert.equal(shm.length, 1, evidence(scan));
      const f = shm[0]!;
      assert.equal(f.severity, "leaked");
      assert.deepEqual(
        { kind: f.target.kind, name: "name" in f.target ? f.target.name : null, status: f.target.status },
        { kind: "container", name, status: "exited" },
      );
      assert.equal(f.holder.owner.kind, "process");
      assert.equal(f.holder.namespace, mntns(holder));
      assert.equal(f.holder.leader?.pid, holder);
      assert.equal(f.holder.leader?.comm, "sleep");
      assert.ok(f.mount, "the held mount");
      assert.ok(f.mount.mountPoint.endsWith(`/containers/${id}/mounts/shm`), f.mount.mountPoint);
      assert.equal(f.mount.fstype, "tmpfs");
      assert.ok(f.mount.mountId > 0);
      // The order carries the fingerprint of the line the kernel shows for that mount.
      const line = hostMountinfoLines(`/containers/${id}/mounts/shm`).find(
        (l) => l.pid === holder && l.line.startsWith(`${f.mount!.mountId} `),
      );
      assert.ok(line, "the kernel shows the held mount");
      assert.deepEqual(f.unmount, {
        namespace: mntns(holder),
        members: [orderMember(holder)],
        mountId: f.mount.mountId,
        mountPoint: f.mount.mountPointRaw,
        fingerprint: mountLineFingerprint(line.line),
      });
      assert.ok(f.cause.short && f.cause.full && f.cure.full, "a cause and a cure");
      assert.equal(scan.json.leaks, true);
      assert.equal(scan.code, 3, evidence(scan));
    });

    it("limits the output to the named target", () => {
      assert.ok(scan.json.findings.length > 0, evidence(scan));
      assert.deepEqual(ofContainer(scan, id), scan.json.findings, "only the named container");
      const both = scanJson([id.slice(0, 12), other]);
      assert.equal(both.code, 3);
      assert.ok(ofContainer(both, id).length > 0 && ofContainer(both, otherId).length > 0, evidence(both));
      assert.equal(
        ofContainer(both, id).length + ofContainer(both, otherId).length,
        both.json.findings.length,
      );
    });

    it("shows the container's name and the severity in the table", () => {
      const r = plugin(["scan", name]);
      assert.equal(r.code, 3, r.stderr);
      const lines = r.stdout.trimEnd().split("\n");
      assert.match(lines[0]!, /^TARGET\s+STATE\s+MOUNT\s+SEVERITY\s+HOLDER\s+PIDS/);
      const row = lines.find((l) => l.includes(name));
      assert.ok(row, r.stdout);
      // The target is named as docker ps names it (short ID); the mount point stays a whole path.
      const target = row.split(/\s{2,}/)[0]!;
      assert.equal(target, `${name} (${id.slice(0, 12)})`, row);
      assert.match(row, /\bexited\b/);
      assert.match(row, /\bleaked\b/);
      assert.ok(
        lines.some((l) => /\bleaked\b/.test(l) && new RegExp(`\\b${holder}\\b`).test(l)),
        "a row names the holder's PID",
      );
      assert.match(r.stderr, /leaked/);
    });

    it("-q prints the short ID, -q --no-trunc the full ID", () => {
      const q = plugin(["scan", "-q", name]);
      assert.equal(q.code, 3, q.stderr);
      assert.equal(q.stdout, `${id.slice(0, 12)}\n`);
      const full = plugin(["scan", "-q", "--no-trunc", name]);
      assert.equal(full.code, 3, full.stderr);
      assert.equal(full.stdout, `${id}\n`);
    });

    it("an unknown target is an error that names it (exit 1), and no helper runs", () => {
      const unknown = "dlt-no-such-container-or-volume";
      let r: Run | undefined;
      // Names are checked on the container list before the helper starts.
      assert.deepEqual(
        helpersCreatedDuring(() => {
          r = plugin(["scan", "--format", "json", unknown]);
        }),
        [],
      );
      assert.ok(r);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(errorText(r), new RegExp(`no such container or volume: ${unknown}$`, "i"));
      // The event log does show a helper when one runs: a scan of an existing name.
      const named = helpersCreatedDuring(() => plugin(["scan", "-q", name]));
      assert.ok(
        named.some((n) => n.startsWith("docker-leak-helper-scan-")),
        `a scan's helper is seen: ${named}`,
      );
    });

    it("an ambiguous ID prefix is an error that names it and the candidates (exit 1)", () => {
      // Containers until two of ours share a first hex digit.
      const byFirst = new Map<string, string>();
      let pair: [string, string] | undefined;
      for (let i = 0; i < 17 && !pair; i++) {
        const created = dockerOk(["create", "--name", scope.container(ours("scan-prefix")), TEST_IMAGE]);
        const seen = byFirst.get(created[0]!);
        if (seen) pair = [seen, created];
        else byFirst.set(created[0]!, created);
      }
      assert.ok(pair, "two IDs share a first digit (pigeonhole)");
      let prefix = "";
      while (pair[0][prefix.length] === pair[1][prefix.length]) prefix += pair[0][prefix.length];
      let r: Run | undefined;
      assert.deepEqual(
        helpersCreatedDuring(() => {
          r = plugin(["scan", "--format", "json", prefix]);
        }),
        [],
        "no helper runs",
      );
      assert.ok(r);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      const message = errorText(r);
      assert.match(message, new RegExp(`"${prefix}" is ambiguous`), "names the argument");
      for (const c of pair) assert.ok(message.includes(c.slice(0, 12)), message);
    });
  });

  describe("the same shm held from inside another container", () => {
    const scope = new Scope();
    const name = ours("scan-shm-target");
    const holderName = ours("scan-holder");
    let id = "";
    let holderId = "";
    let holderPid = 0;
    let scan: JsonRun;

    before(async () => {
      id = runSleeping(scope, name, ["--ipc", "shareable"]);
      holderId = runSleeping(scope, holderName, [...MOUNT_CAPABLE, "-v", "/:/rootfs:ro"]);
      const init = Number(dockerOk(["inspect", "-f", "{{.State.Pid}}", holderId]));
      const argv = ["sleep", "607"];
      dockerOk(["exec", "-d", holderId, "unshare", "-m", "--propagation", "private", ...argv]);
      await waitFor("the unshared sleep in the holder container", () => {
        const [pid] = containerProcesses(holderId, argv);
        if (pid === undefined || mntns(pid) === mntns(init)) return false;
        holderPid = pid;
        return true;
      });
      await stopNow(id);
      scan = scanJson([name]);
    });
    after(() => scope.cleanup());

    it("attributes the holder to that container by ID and name", () => {
      // The unshared namespace inside the container (its main namespace may hold an rslave copy
      // too, a finding only where the daemon's root is not shared: taken from the kernel, not assumed).
      const held = ofContainer(scan, id).filter(
        (f) =>
          f.resource.kind === "shm" &&
          f.holder.owner.kind === "container" &&
          f.holder.namespace === mntns(holderPid),
      );
      assert.equal(held.length, 1, evidence(scan));
      const f = held[0]!;
      assert.equal(f.severity, "leaked");
      const owner = f.holder.owner;
      assert.ok(owner.kind === "container");
      assert.equal(owner.id, holderId);
      assert.equal(owner.name, holderName);
      assert.equal(owner.image, TEST_IMAGE);
      assert.equal(owner.known, true);
      assert.equal(owner.mainNamespace, false, "a namespace the container made, not its own");
      assert.ok(f.holder.pids.includes(holderPid), `${holderPid} in ${f.holder.pids}`);
      assert.equal(f.holder.namespace, mntns(holderPid));
      // Seen through the holder's bind of the host's /.
      assert.equal(f.mount?.mountPoint.startsWith("/rootfs/"), true, f.mount?.mountPoint);
      assert.equal(scan.code, 3);
    });
  });

  describe("a device-backed volume held after its container is gone", () => {
    const scope = new Scope();
    const volume = ours("scan-devvol");
    let holder = 0;
    let scan: JsonRun;

    before(async () => {
      scope.volume(volume);
      dockerOk(["volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", volume]);
      const user = runSleeping(scope, ours("scan-voluser"), ["-v", `${volume}:/data`]);
      holder = holderProcess(privateNamespaceHolder(scope));
      await waitForOwnNamespace(holder);
      dockerOk(["rm", "-f", user]);
      await waitFor("the daemon to unmount the volume", () => !mountedHere(`/volumes/${volume}/_data `));
      scan = scanJson([volume]);
    });
    after(() => scope.cleanup());

    it("reports the volume as the leaked target, held by the host process", () => {
      const held = ofVolume(scan, volume).filter((f) => f.holder.pids.includes(holder));
      assert.equal(held.length, 1, evidence(scan));
      const f = held[0]!;
      assert.equal(f.severity, "leaked");
      assert.deepEqual(f.target, { kind: "volume", name: volume, driver: "local", status: "unused" });
      assert.equal(f.resource.kind, "volume");
      assert.equal(f.holder.owner.kind, "process");
      assert.equal(f.mount?.fstype, "tmpfs");
      assert.ok(f.mount?.mountPoint.endsWith(`/volumes/${volume}/_data`), f.mount?.mountPoint);
      assert.equal(scan.code, 3);
      assert.deepEqual(scan.json.findings, ofVolume(scan, volume));
    });

    it("-q prints the volume's name", () => {
      const q = plugin(["scan", "-q", volume]);
      assert.equal(q.code, 3, q.stderr);
      assert.equal(q.stdout, `${volume}\n`);
    });
  });

  describe("a running container captured by a private namespace", () => {
    const scope = new Scope();
    const name = ours("scan-captured");
    let id = "";
    let holder = 0;
    let scan: JsonRun;

    before(async () => {
      id = runSleeping(scope, name, ["--ipc", "shareable"]);
      holder = holderProcess(privateNamespaceHolder(scope));
      await waitForOwnNamespace(holder);
      scan = scanJson([name]);
    });
    after(() => scope.cleanup());

    it("reports its mounts as captured and exits 0", () => {
      const ours = ofContainer(scan, id).filter((f) => f.holder.pids.includes(holder));
      assert.ok(
        ours.some((f) => f.resource.kind === "shm"),
        evidence(scan),
      );
      for (const f of ours) {
        assert.equal(f.severity, "captured", evidence(scan));
        assert.equal(f.target.status, "running");
        assert.equal(f.holder.owner.kind, "process");
      }
      assert.ok(
        scan.json.findings.every((f) => f.severity === "captured"),
        evidence(scan),
      );
      assert.equal(scan.json.leaks, false);
      assert.equal(scan.code, 0, evidence(scan));
    });

    it("shows it in the table, still exiting 0", () => {
      const r = plugin(["scan", name]);
      assert.equal(r.code, 0, r.stderr);
      const row = r.stdout.split("\n").find((l) => l.includes(name));
      assert.ok(row && /\brunning\b/.test(row) && /\bcaptured\b/.test(row), r.stdout);
    });
  });

  describe("a mount propagated back under a volume's _data (rshared)", () => {
    const scope = new Scope();
    const volume = ours("scan-rshared");
    let data = "";
    let scan: JsonRun;

    before(async () => {
      scope.volume(volume);
      dockerOk(["volume", "create", volume]);
      data = dockerOk(["volume", "inspect", "-f", "{{.Mountpoint}}", volume]);
      // Registered before anything can be mounted there: runs before the volume's removal.
      scope.defer(() => {
        for (let i = 0; i < 5 && mountedHere(` ${data}/sub `); i++) spawnSync("umount", [`${data}/sub`]);
      });
      const writer = scope.container(ours("scan-rshared-writer"));
      dockerOk([
        "run",
        "--name",
        writer,
        "-v",
        `${data}:/data:rshared`,
        ...MOUNT_CAPABLE,
        TEST_IMAGE,
        "sh",
        "-c",
        "mkdir -p /data/sub && mount -t tmpfs none /data/sub",
      ]);
      dockerOk(["rm", writer]);
      assert.ok(mountedHere(` ${data}/sub `), "the tmpfs propagated into the daemon's namespace");
      scan = scanJson([volume]);
    });
    after(() => scope.cleanup());

    it("reports the volume as stale, held by the daemon's own namespace", () => {
      const stale = ofVolume(scan, volume).filter((f) => f.mount?.mountPoint === `${data}/sub`);
      assert.equal(stale.length, 1, evidence(scan));
      const f = stale[0]!;
      assert.equal(f.severity, "stale");
      assert.equal(f.resource.kind, "volume-submount");
      assert.equal(f.target.kind, "volume");
      assert.equal(f.target.status, "unused");
      assert.equal(f.holder.owner.kind, "daemon");
      assert.equal(f.holder.namespace, scan.json.daemon.namespace);
      assert.equal(f.mount?.fstype, "tmpfs");
      assert.equal(scan.code, 3, evidence(scan));
    });
  });

  describe("--deep: a holder whose cwd lies in a container's rootfs when it stops", () => {
    const scope = new Scope();
    const name = ours("scan-deep");
    let id = "";
    let merged = "";
    let holder = 0;
    let scan: JsonRun;

    before(async () => {
      id = runSleeping(scope, name);
      merged = dockerOk(["inspect", "-f", "{{.GraphDriver.Data.MergedDir}}", id]);
      // The busybox image has /bin, /etc, /dev, /proc, /sys (no /tmp).
      holder = holderProcess(
        unshareHolder(scope, [
          "-m",
          "--propagation",
          "private",
          "sh",
          "-c",
          `cd '${merged}/bin' && exec sleep 600`,
        ]),
      );
      await waitForOwnNamespace(holder);
      await stopNow(id);
      await waitFor("the daemon to unmount the rootfs", () => !mountedHere(` ${merged} `));
      scan = scanJson(["--deep", name]);
    });
    after(() => scope.cleanup());

    it("reports the rootfs kept alive by the holder (leaked if still mounted there, else pinned)", () => {
      // On kernels >= 3.18 the daemon's rmdir of the merged dir detaches every copy of the
      // overlay mounted on it, so the holder keeps a detached overlay alive by its cwd alone.
      const stillMounted = readFileSync(`/proc/${holder}/mountinfo`, "utf8").includes(` ${merged} `);
      const held = ofContainer(scan, id).filter(
        (f) => f.resource.kind === "rootfs" && f.holder.pids.includes(holder),
      );
      assert.equal(held.length, 1, `rootfs held by PID ${holder}: ${evidence(scan)}`);
      const f = held[0]!;
      assert.equal(f.target.status, "exited");
      if (stillMounted) {
        assert.equal(f.severity, "leaked");
      } else {
        assert.equal(f.severity, "pinned");
        assert.equal(f.mount, null);
        assert.ok(
          f.pinned.some((p) => p.pid === holder && p.kind === "cwd"),
          JSON.stringify(f.pinned),
        );
      }
      assert.equal(scan.code, 3, evidence(scan));
    });
  });
});

// Every scope has been cleaned up by now: nothing this file made may remain.
after(() => {
  const containers = new Set(dockerOk(["ps", "-a", "--format", "{{.Names}}"]).split("\n"));
  const volumes = new Set(dockerOk(["volume", "ls", "-q"]).split("\n"));
  assert.deepEqual(
    made.names.filter((n) => containers.has(n) || volumes.has(n)),
    [],
    "containers or volumes left behind",
  );
  const alive = made.pids.filter((pid) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  });
  assert.deepEqual(alive, [], "holder processes left running");
  const mounts = readFileSync("/proc/self/mountinfo", "utf8");
  assert.deepEqual(
    made.names.filter((n) => mounts.includes(`/${n}/`)),
    [],
    "mounts left behind",
  );
});
