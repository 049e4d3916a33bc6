/**
 * Holder attribution (src/model/holders.ts): a process is named as a container's only when this
 * daemon's cgroup layout and the process tree agree; a cgroup name alone is a claim.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ProcessRecord } from "../../src/helper/protocol.js";
import { expandSlice, expectedCgroupPath, HolderAttribution } from "../../src/model/holders.js";
import type { ContainerInfo, DaemonFacts, Inventory } from "../../src/model/inventory.js";
import { ResourceIndex } from "../../src/model/resources.js";

const ID = "ab".repeat(32);
const DAEMON: DaemonFacts = {
  id: "X",
  serverVersion: "20.10",
  osType: "linux",
  architecture: "x86_64",
  kernelVersion: "6.1",
  rootDir: "/var/lib/docker",
  driver: "overlay2",
  cgroupVersion: "1",
  cgroupDriver: "cgroupfs",
  securityOptions: [],
};

function container(over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: ID,
    name: "tools",
    image: "busybox",
    imageId: "sha256:00",
    status: "running",
    pid: 100,
    graphDriver: { name: "overlay2", data: {} },
    ipcMode: "private",
    shmSize: 0,
    sandboxKey: "",
    networkMode: "default",
    pidMode: "",
    mounts: [],
    volumesFrom: [],
    labels: {},
    ...over,
  };
}

function proc(pid: number, ppid: number, mntns: number, cgroup: string[]): ProcessRecord {
  return {
    type: "process",
    pid,
    ppid,
    start: pid * 10,
    comm: "sleep",
    cmdline: ["sleep", "600"],
    cmdlineTruncated: false,
    mntns,
    root: "/",
    cgroup,
  };
}

function attribution(inv: Inventory, procs: ProcessRecord[]): HolderAttribution {
  return new HolderAttribution(new ResourceIndex(inv, null), new Map(procs.map((p) => [p.pid, p])), inv);
}

const DAEMON_NS = { namespace: 1, pid: null };

describe("holder attribution", () => {
  const shim = proc(90, 1, 1, ["4:pids:/"]);
  const init = proc(100, 90, 500, [`4:pids:/docker/${ID}`]);

  it("a process of the container (cgroup where this daemon puts it, descended from its init) is the container", () => {
    const unshared = proc(150, 100, 600, [`4:pids:/docker/${ID}`]);
    const h = attribution({ daemon: DAEMON, containers: [container()], volumes: [] }, [shim, init, unshared]);
    const holder = h.ofNamespace(600, [150], DAEMON_NS);
    assert.equal(holder.owner.kind, "container");
    assert.ok(
      holder.owner.kind === "container" && holder.owner.id === ID && holder.owner.mainNamespace === false,
    );
  });

  it("a docker exec'd process (a child of the container's shim) is the container", () => {
    const exec = proc(160, 90, 700, [`4:pids:/docker/${ID}`]);
    const h = attribution({ daemon: DAEMON, containers: [container()], volumes: [] }, [shim, init, exec]);
    assert.equal(h.ofNamespace(700, [160], DAEMON_NS).owner.kind, "container");
  });

  it("a spoofed docker-<id>.scope in a user's delegated slice is only a claim", () => {
    const spoof = proc(170, 1, 800, [
      `0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker-${ID}.scope`,
    ]);
    const h = attribution({ daemon: DAEMON, containers: [container()], volumes: [] }, [shim, init, spoof]);
    const owner = h.ofNamespace(800, [170], DAEMON_NS).owner;
    assert.deepEqual(owner, { kind: "process", claimedContainer: ID });
  });

  it("the right cgroup without the process tree is only a claim (a process moved there by someone else)", () => {
    const stray = proc(180, 1, 900, [`4:pids:/docker/${ID}`]);
    const h = attribution({ daemon: DAEMON, containers: [container()], volumes: [] }, [shim, init, stray]);
    assert.deepEqual(h.ofNamespace(900, [180], DAEMON_NS).owner, { kind: "process", claimedContainer: ID });
  });

  it("a stopped container cannot vouch for a process left in its cgroup", () => {
    const left = proc(190, 1, 950, [`4:pids:/docker/${ID}`]);
    const h = attribution(
      { daemon: DAEMON, containers: [container({ status: "exited", pid: 0 })], volumes: [] },
      [left],
    );
    assert.equal(h.ofNamespace(950, [190], DAEMON_NS).owner.kind, "process");
  });

  it("where this daemon puts containers: cgroupfs and systemd drivers, custom parents, rootless", () => {
    assert.deepEqual(expectedCgroupPath(container(), DAEMON), { path: `/docker/${ID}`, suffixOnly: false });
    assert.deepEqual(
      expectedCgroupPath(container({ cgroupParent: "/ci/jobs/" }), DAEMON).path,
      `/ci/jobs/${ID}`,
    );
    const systemd = { ...DAEMON, cgroupDriver: "systemd" };
    assert.equal(expectedCgroupPath(container(), systemd).path, `/system.slice/docker-${ID}.scope`);
    assert.equal(
      expectedCgroupPath(container({ cgroupParent: "ci-jobs.slice" }), systemd).path,
      `/ci.slice/ci-jobs.slice/docker-${ID}.scope`,
    );
    const rootless = { ...systemd, securityOptions: ["name=rootless"] };
    assert.deepEqual(expectedCgroupPath(container(), rootless), {
      path: `/user.slice/docker-${ID}.scope`,
      suffixOnly: true,
    });
    assert.equal(expandSlice("a-b-c.slice"), "a.slice/a-b.slice/a-b-c.slice");
  });

  it("where Podman puts containers: /libpod_parent/libpod-<id> (cgroupfs), machine.slice/libpod-<id>.scope (systemd)", () => {
    const podman = { ...DAEMON, engine: "podman" as const };
    assert.deepEqual(expectedCgroupPath(container(), podman), {
      path: `/libpod_parent/libpod-${ID}`,
      suffixOnly: false,
    });
    assert.equal(expectedCgroupPath(container({ cgroupParent: "/ci" }), podman).path, `/ci/libpod-${ID}`);
    const systemd = { ...podman, cgroupDriver: "systemd" };
    assert.equal(expectedCgroupPath(container(), systemd).path, `/machine.slice/libpod-${ID}.scope`);
    assert.equal(
      expectedCgroupPath(container({ cgroupParent: "ci-jobs.slice" }), systemd).path,
      `/ci.slice/ci-jobs.slice/libpod-${ID}.scope`,
    );
  });
});
