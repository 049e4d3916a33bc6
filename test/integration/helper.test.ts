/**
 * The helper, run through the plugin's image builder and runner on the private daemon, against
 * mount namespaces, mounts and processes the tests make on the host.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LABEL_HELPER } from "../../src/docker/helper-image.js";
import { helperHostConfig } from "../../src/docker/helper-runner.js";
import { helperSeccompProfile, NEWER_KERNEL_CALLS } from "../../src/docker/seccomp.js";
import { formatUnmountOrder, mountLineFingerprint } from "../../src/helper/protocol.js";
import {
  docker,
  dockerOk,
  hostMountinfoLines,
  MOUNT_CAPABLE,
  mntnsOf,
  orderMember,
  privateNamespaceHolder,
  REPO_ROOT,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  unshareHolder,
  waitForOwnNamespace,
} from "../support/daemon.js";
import {
  type AnyRecord,
  type HelperHarness,
  helperContainers,
  helperHarness,
  runVerb,
} from "../support/helper.js";

let h: HelperHarness;
const scope = new Scope();

function mountIdOf(pid: number, mountPoint: string): number {
  const line = hostMountinfoLines(` ${mountPoint} `).find((l) => l.pid === pid);
  assert.ok(line, `no mount at ${mountPoint} in pid ${pid}`);
  return Number(line.line.split(" ")[0]);
}

/** Runs `script` with sh in a new private mount namespace; returns the PID of its final exec. */
async function inPrivateNamespace(script: string): Promise<number> {
  const pid = unshareHolder(scope, ["-m", "--propagation", "private", "sh", "-c", script]);
  await waitForOwnNamespace(pid);
  return pid;
}

describe("the helper through the plugin's runner", () => {
  before(async () => {
    requireDaemon();
    h = await helperHarness();
  });
  after(() => scope.cleanup());

  it("version answers with the plugin version and protocol 2", async () => {
    const out = await runVerb(h, "version", []);
    assert.equal(out.exitCode, 0, out.stderr);
    assert.deepEqual(out.records, [{ type: "version", version: "0.1.0", protocol: 2 }]);
  });

  it("scan reports a private namespace made on the host, with its PID and cgroup lines", async () => {
    const pid = privateNamespaceHolder(scope);
    await waitForOwnNamespace(pid);
    const out = await runVerb(h, "scan", ["--filter", "/nonexistent-filter"]);
    assert.equal(out.exitCode, 0, out.stderr);
    const proc = out.records.find((r) => r.type === "process" && r.pid === pid);
    assert.ok(proc, "holder process reported");
    assert.equal(proc.comm, "sleep");
    assert.deepEqual(proc.cmdline, ["sleep", "600"]);
    assert.ok(proc.cgroup.length > 0 && proc.cgroup.every((l: string) => /^\d+:[^:]*:\//.test(l)));
    const ns = out.records.find((r) => r.type === "namespace" && r.mntns === proc.mntns);
    assert.ok(ns, "its namespace reported once");
    assert.ok(ns.pids.includes(pid));
    assert.deepEqual(ns.mountinfo, [], "the filter matched nothing");
    const self = out.records.find((r) => r.type === "self");
    assert.notEqual(self?.mntns, proc.mntns);
    assert.equal(out.records.at(-1)?.type, "summary");
    const namespaces = out.records.filter((r) => r.type === "namespace").map((r) => r.mntns);
    assert.equal(new Set(namespaces).size, namespaces.length, "each namespace once");
  });

  it("scan reports a namespace made inside a container, attributed by cgroup", async () => {
    const name = scope.container(uniqueName("nsholder"));
    const id = dockerOk(["run", "-d", "--name", name, ...MOUNT_CAPABLE, TEST_IMAGE, "sleep", "600"]);
    dockerOk(["exec", "-d", name, "unshare", "-m", "--propagation", "private", "sleep", "601"]);
    let holder: AnyRecord | undefined;
    let out: Awaited<ReturnType<typeof runVerb>> | undefined;
    for (let i = 0; i < 20 && !holder; i++) {
      out = await runVerb(h, "scan", ["--filter", id]);
      holder = out.records.find((r) => r.type === "process" && r.cmdline?.join(" ") === "sleep 601");
      if (!holder) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(holder && out, "the holder inside the container was reported");
    assert.ok(
      holder.cgroup.some((l: string) => l.includes(id)),
      "its cgroup names the container",
    );
    const containerInit = out.records.find(
      (r) =>
        r.type === "process" &&
        r.cmdline?.join(" ") === "sleep 600" &&
        r.cgroup.some((l: string) => l.includes(id)),
    );
    assert.ok(containerInit);
    assert.notEqual(containerInit.mntns, holder.mntns, "unshare made a new namespace");
    const ns = out.records.find((r) => r.type === "namespace" && r.mntns === holder.mntns);
    assert.deepEqual(ns?.pids, [holder.pid]);
    assert.ok(
      ns.mountinfo.some((l: string) => l.includes(`/containers/${id}/`)),
      "its copy of the container's binds",
    );
  });

  it("--deep reports a process whose cwd is on a detached tmpfs", async () => {
    const dir = `/tmp/${uniqueName("deep")}`;
    const pid = await inPrivateNamespace(
      `mkdir -p ${dir} && mount -t tmpfs dlt-deep ${dir} && cd ${dir} && umount -l ${dir} && exec sleep 600`,
    );
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    const out = await runVerb(h, "scan", ["--filter", "/nonexistent-filter", "--deep"]);
    assert.equal(out.exitCode, 0, out.stderr);
    const pinned = out.records.filter((r) => r.type === "pinned" && r.pid === pid);
    assert.ok(
      // A detached mount's root reads as "/" through /proc/PID/cwd; its device is the tmpfs's.
      pinned.some((p) => p.kind === "cwd" && /^0:\d+$/.test(p.dev) && p.fd === null && p.mountId > 0),
      JSON.stringify(pinned),
    );
    // Our own processes are not pinned.
    assert.equal(out.records.filter((r) => r.type === "pinned" && r.pid === process.pid).length, 0);
  });

  it("--deep keeps checking cwd/root/exe after a process that runs from a memfd (mount ID 0)", async () => {
    // runc runs from a memfd copy of itself: its exe is on a kernel-internal mount with ID 0,
    // which once made the helper give up on cwd/root/exe for every later process.
    const bin = join(mkdtempSync(join(tmpdir(), "dlt-memfd-")), "memfd-exec");
    scope.defer(() => rmSync(dirname(bin), { recursive: true, force: true }));
    execFileSync("gcc", ["-O2", "-o", bin, join(REPO_ROOT, "test/support/memfd-exec.c")]);
    const memfdPid = unshareHolder(scope, ["--", bin, "/bin/busybox", "sleep", "600"]);
    for (
      let i = 0;
      i < 100 && !spawnSync("readlink", [`/proc/${memfdPid}/exe`]).stdout.includes("memfd:");
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    assert.match(spawnSync("readlink", [`/proc/${memfdPid}/exe`], { encoding: "utf8" }).stdout, /^\/memfd:/);
    const dir = `/tmp/${uniqueName("deep-after-memfd")}`;
    const pid = await inPrivateNamespace(
      `mkdir -p ${dir} && mount -t tmpfs dlt-deep ${dir} && cd ${dir} && umount -l ${dir} && exec sleep 600`,
    );
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    assert.ok(pid > memfdPid, "the pinned holder is scanned after the memfd process");
    const out = await runVerb(h, "scan", ["--filter", "/nonexistent-filter", "--deep"]);
    assert.equal(out.exitCode, 0, out.stderr);
    assert.doesNotMatch(out.stderr, /does not report the mount ID/);
    assert.ok(
      out.records.some((r) => r.type === "pinned" && r.pid === pid && r.kind === "cwd"),
      "the detached cwd after the memfd process is reported",
    );
    assert.equal(out.records.filter((r) => r.type === "pinned" && r.pid === memfdPid).length, 0);
  });

  it("helper containers are created unprivileged, without network, read-only, with only their capabilities", async () => {
    const seen: Record<string, AnyRecord> = {};
    for (const [key, mode, args] of [
      ["scan", "scan", ["--filter", "/nonexistent-filter"]],
      ["deep", "scan", ["--filter", "/nonexistent-filter", "--deep"]],
      ["umount", "umount", []],
    ] as const) {
      await runVerb(h, mode, [...args], {
        afterCreate: async (id) => {
          seen[key] = JSON.parse(dockerOk(["inspect", id]))[0];
        },
      });
    }
    for (const [key, mode, caps] of [
      ["scan", "scan", ["CAP_SYS_PTRACE"]],
      ["deep", "scan", ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"]],
      ["umount", "umount", ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_CHROOT"]],
    ] as const) {
      const hc = seen[key]!.HostConfig;
      assert.equal(hc.Privileged, false, mode);
      assert.equal(hc.PidMode, "host");
      // This daemon applies seccomp: the helper's allowlist (no socket calls at all) lets it
      // share the host's network namespace.
      assert.equal(hc.NetworkMode, "host");
      assert.equal(hc.ReadonlyRootfs, true);
      // The daemon itself adds label=disable to containers in the host PID namespace.
      assert.deepEqual(
        hc.SecurityOpt.filter((o: string) => o !== "label=disable"),
        ["no-new-privileges", `seccomp=${JSON.stringify(helperSeccompProfile(mode))}`],
      );
      assert.deepEqual(hc.CapDrop, ["ALL"]);
      assert.deepEqual(
        [...hc.CapAdd].map((c: string) => (c.startsWith("CAP_") ? c : `CAP_${c}`)).sort(),
        [...caps].sort(),
        key,
      );
      assert.equal(hc.PidsLimit, 32);
      assert.equal(hc.Memory, 512 * 1024 * 1024);
      assert.equal(seen[key]!.Config.Labels[LABEL_HELPER], mode);
      assert.equal(seen[key]!.Image, h.image);
    }
  });

  it("under the helper's HostConfig a process cannot make a socket or ptrace, but can read /proc", async () => {
    // busybox (static) stands in for a helper gone wrong: same HostConfig, other commands.
    const inHelperConfig = async (mode: "scan" | "umount", cmd: string[]) => {
      const id = await h.docker.createContainer({
        name: uniqueName("seccomp"),
        Labels: {},
        Image: TEST_IMAGE,
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        HostConfig: { ...helperHostConfig(mode, h.daemon), AutoRemove: false },
      });
      scope.defer(() => docker(["rm", "-f", id]));
      const streams = await h.docker.attachContainer(id);
      let out = "";
      streams.stdout.on("data", (d: Buffer) => (out += d));
      streams.stderr.on("data", (d: Buffer) => (out += d));
      await h.docker.startContainer(id);
      // "not-running" (the default), not "next-exit": a process that exits at once (nc, refused
      // a socket) has already exited by now, and there would be no next exit to wait for.
      const exitCode = await h.docker.waitContainer(id);
      await streams.ended;
      return { exitCode, out };
    };
    for (const mode of ["scan", "umount"] as const) {
      // In the host's network namespace, where 127.0.0.1:9 would at least answer "refused".
      const nc = await inHelperConfig(mode, ["nc", "-w", "1", "127.0.0.1", "9"]);
      assert.notEqual(nc.exitCode, 0, nc.out);
      assert.match(nc.out, /socket: Operation not permitted/, mode);
    }
    const readProc = await inHelperConfig("scan", ["cat", "/proc/1/comm"]);
    assert.equal(readProc.exitCode, 0, readProc.out);
    assert.equal(readProc.out.trim(), readFileSync("/proc/1/comm", "utf8").trim(), "host PID 1");
  });

  describe("umount", () => {
    const dir = `/tmp/${uniqueName("umount")}`;
    let holder = 0;
    before(async () => {
      mkdirSync(dir, { recursive: true });
      // The same path carries a tmpfs in the holder's private namespace and another in ours.
      holder = await inPrivateNamespace(`mount -t tmpfs dlt-theirs ${dir} && exec sleep 600`);
      for (let i = 0; i < 50 && !hostMountinfoLines(" dlt-theirs ").some((l) => l.pid === holder); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      execFileSync("mount", ["-t", "tmpfs", "dlt-ours", dir]);
      scope.defer(() => {
        spawnSync("umount", [dir]);
        rmSync(dir, { recursive: true, force: true });
      });
    });

    /** The order the plugin would give for mount `id` of the holder's namespace. */
    const order = (id: number, fingerprint = fingerprintOf(id)) =>
      formatUnmountOrder({
        namespace: mntnsOf(holder),
        members: [orderMember(holder)],
        mountId: id,
        mountPoint: dir,
        fingerprint,
      });
    const fingerprintOf = (id: number) => {
      const line = hostMountinfoLines(" dlt-theirs ").find(
        (l) => l.pid === holder && l.line.startsWith(`${id} `),
      );
      return mountLineFingerprint(line?.line ?? "");
    };

    it("refuses a stale order (wrong mount ID) and unmounts nothing", async () => {
      const id = mountIdOf(holder, dir);
      const out = await runVerb(h, "umount", [order(id + 100000, fingerprintOf(id))]);
      assert.equal(out.exitCode, 0, out.stderr);
      const result = out.records.find((r) => r.type === "result");
      assert.equal(result?.ok, false);
      assert.equal(result?.stage, "check");
      assert.equal(result?.errno, "ESTALE");
      assert.ok(
        hostMountinfoLines(" dlt-theirs ").some((l) => l.pid === holder),
        "still mounted",
      );
    });

    it("refuses an order whose mountinfo line fingerprint no longer matches", async () => {
      const line = hostMountinfoLines(" dlt-theirs ").find((l) => l.pid === holder)!;
      const id = Number(line.line.split(" ")[0]);
      const out = await runVerb(h, "umount", [order(id, mountLineFingerprint(`${line.line} changed`))]);
      const result = out.records.find((r) => r.type === "result");
      assert.equal(result?.ok, false);
      assert.equal(result?.stage, "check");
      assert.match(result?.message, /changed since the scan|fingerprint/);
      assert.ok(
        hostMountinfoLines(" dlt-theirs ").some((l) => l.pid === holder),
        "still mounted",
      );
    });

    it("with scan privileges cannot unmount (EPERM)", async () => {
      const id = mountIdOf(holder, dir);
      const out = await runVerb(h, "umount", [order(id)], {
        hostConfigOverride: { CapDrop: ["ALL"], CapAdd: ["SYS_PTRACE"] },
      });
      const result = out.records.find((r) => r.type === "result");
      assert.equal(result?.ok, false);
      assert.equal(result?.errno, "EPERM");
      assert.ok(
        hostMountinfoLines(" dlt-theirs ").some((l) => l.pid === holder),
        "still mounted",
      );
    });

    it("on an emulated old kernel (statx and openat2 answer ENOSYS) verifies by fdinfo and still unmounts only the ordered mount", async () => {
      const other = await inPrivateNamespace(`mount -t tmpfs dlt-old ${dir} && exec sleep 600`);
      for (let i = 0; i < 50 && !hostMountinfoLines(" dlt-old ").some((l) => l.pid === other); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const line = hostMountinfoLines(" dlt-old ").find((l) => l.pid === other)!.line;
      const id = Number(line.split(" ")[0]);
      const out = await runVerb(
        h,
        "umount",
        [
          formatUnmountOrder({
            namespace: mntnsOf(other),
            members: [orderMember(other)],
            mountId: id,
            mountPoint: dir,
            fingerprint: mountLineFingerprint(line),
          }),
        ],
        {
          hostConfigOverride: {
            SecurityOpt: [
              "no-new-privileges",
              `seccomp=${JSON.stringify(helperSeccompProfile("umount", { enosys: [...NEWER_KERNEL_CALLS] }))}`,
            ],
          },
        },
      );
      assert.equal(out.exitCode, 0, out.stderr);
      const result = out.records.find((r) => r.type === "result");
      assert.equal(result?.ok, true, JSON.stringify(result));
      assert.equal(result?.verifiedBy, "fdinfo");
      assert.equal(hostMountinfoLines(" dlt-old ").filter((l) => l.pid === other).length, 0);
      assert.ok(
        hostMountinfoLines(" dlt-ours ").some((l) => l.pid === process.pid),
        "ours is untouched",
      );
    });

    it("unmounts exactly the ordered mount in the holder's namespace", async () => {
      const id = mountIdOf(holder, dir);
      const line = hostMountinfoLines(" dlt-theirs ").find((l) => l.pid === holder)!.line;
      const out = await runVerb(h, "umount", [order(id, mountLineFingerprint(line))]);
      assert.equal(out.exitCode, 0, out.stderr);
      assert.deepEqual(
        out.records.filter((r) => r.type === "result"),
        [
          {
            type: "result",
            index: 0,
            pid: holder,
            mountId: id,
            mountPoint: dir,
            ok: true,
            verifiedBy: "statx",
          },
        ],
      );
      assert.equal(
        hostMountinfoLines(" dlt-theirs ").filter((l) => l.pid === holder).length,
        0,
        "gone from the holder's namespace",
      );
      assert.ok(
        hostMountinfoLines(" dlt-ours ").some((l) => l.pid === process.pid),
        "ours is untouched",
      );
      assert.ok(spawnSync("kill", ["-0", String(holder)]).status === 0, "the holder still runs");
    });
  });

  describe("cleanup", () => {
    it("leaves no helper container after success and after a helper failure", async () => {
      const before = helperContainers();
      const ok = await runVerb(h, "version", []);
      assert.equal(ok.exitCode, 0);
      const bad = await runVerb(h, "scan", ["--no-such-flag"]);
      assert.equal(bad.exitCode, 2);
      assert.match(bad.stderr, /no-such-flag|usage/i);
      assert.deepEqual(
        helperContainers().filter((c) => !before.includes(c)),
        [],
      );
    });

    it("removes the helper container on SIGINT mid-run and exits 130", async () => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(REPO_ROOT, "test/support/interrupted-helper.ts")],
        {
          cwd: REPO_ROOT,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      const created = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          out += d;
          const m = /created ([0-9a-f]{64})/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on("exit", () => reject(new Error(`exited early: ${out} ${err}`)));
      });
      assert.ok(helperContainers().includes(created.slice(0, 12)));
      const code = await new Promise<number | null>((resolve) => {
        child.on("exit", (c) => resolve(c));
        child.kill("SIGINT");
      });
      assert.equal(code, 130);
      assert.match(err, /interrupted by SIGINT/);
      assert.equal(docker(["inspect", created]).code, 1, "the helper container is gone");
    });
  });
});
