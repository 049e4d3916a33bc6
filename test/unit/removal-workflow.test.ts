/**
 * The removal workflow (src/core/removal.ts) without root or a daemon: a fake daemon
 * (test/support/fake-docker.ts) holds a recorded host's inventory and mount namespaces, runs the
 * helper's verbs on that state and answers removals as scripted.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CoreDeps } from "../../src/core/deps.js";
import { InterruptedRemoval, type RemovalOptions, runRemoval } from "../../src/core/removal.js";
import { ApiError } from "../../src/docker/client.js";
import { TargetError } from "../../src/model/targets.js";
import { removalExitCode } from "../../src/render/removal.js";
import { FakeDocker } from "../support/fake-docker.js";
import { fakeHelper, fixtureText, loadInventory } from "./fixtures.js";

const helper = fakeHelper();
const fake = helper.docker;

function deps(docker: FakeDocker, signal?: AbortSignal): CoreDeps {
  return {
    docker,
    helperDir: helper.dir,
    version: "0.1.0",
    now: () => new Date("2026-12-02T00:00:00Z"),
    ...(signal ? { signal } : {}),
  };
}

const opts = (over: Partial<RemovalOptions>): RemovalOptions => ({
  kind: "container",
  refs: ["dl-fixture-shm"],
  forceUnmount: false,
  dryRun: false,
  restartHolders: false,
  force: false,
  removeVolumes: false,
  ...over,
});

/** The held copy of dl-fixture-shm's shm in the recorded holder's namespace. */
function heldShm(d: FakeDocker): { ns: number; id: number } {
  const scan = fixtureText("shm-leaked-host", "scan.ndjson")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const self = scan.find((r) => r.type === "self");
  const daemonNs = scan.find((r) => r.type === "process" && r.pid === self.ppid).mntns;
  const ns = scan.find(
    (r) =>
      r.type === "namespace" &&
      r.mntns !== daemonNs &&
      r.mntns !== self.mntns &&
      r.mountinfo?.some((l: string) => l.includes("/mounts/shm")),
  );
  const line: string = ns.mountinfo.find((l: string) => l.includes("/mounts/shm"));
  const id = Number(line.split(" ")[0]);
  assert.ok(d.mountIds(ns.mntns).includes(id));
  return { ns: ns.mntns, id };
}

describe("rm without --force-unmount", () => {
  it("a held container is left alone (not removed), exit 3, its holders named", async () => {
    const d = fake("shm-leaked-host");
    const r = await runRemoval(deps(d), opts({}));
    const [t] = r.targets;
    assert.equal(t?.status, "held");
    assert.equal(t?.removed, false);
    assert.equal(t?.remaining.length, 1);
    assert.equal(t?.remaining[0]?.resource.kind, "shm");
    assert.equal(removalExitCode(r), 3);
    assert.ok(d.containerIds().length === 1, "not removed");
    assert.ok(!d.calls.some((c) => c.startsWith("umount") || c.startsWith("remove ")));
  });

  it("--dry-run says exactly that, with the same status (the dry run used to say nothing and exit 0)", async () => {
    const d = fake("shm-leaked-host");
    const r = await runRemoval(deps(d), opts({ dryRun: true }));
    assert.equal(r.targets[0]?.status, "held");
    assert.equal(removalExitCode(r), 3);
    assert.deepEqual(
      d.calls.filter((c) => !c.startsWith("create") && c !== "load image"),
      [],
    );
  });

  it("a free container is removed", async () => {
    const d = fake("shm-leaked-host");
    d.dropNamespace(heldShm(d).ns); // the holder exited
    const r = await runRemoval(deps(d), opts({}));
    assert.equal(r.targets[0]?.status, "removed");
    assert.equal(removalExitCode(r), 0);
    assert.deepEqual(d.containerIds(), []);
  });
});

describe("rm --force-unmount", () => {
  it("releases exactly the held copy, removes the container and verifies", async () => {
    const d = fake("shm-leaked-host");
    const { ns, id } = heldShm(d);
    const r = await runRemoval(deps(d), opts({ forceUnmount: true }));
    const [t] = r.targets;
    assert.equal(t?.status, "removed", JSON.stringify(t));
    assert.equal(t?.released, 1);
    assert.equal(t?.orders.length, 1);
    assert.equal(t?.orders[0]?.result?.ok, true);
    assert.ok(!d.mountIds(ns).includes(id), "unmounted in the holder's namespace");
    assert.deepEqual(d.containerIds(), []);
    assert.deepEqual(
      d.calls.filter((c) => !c.startsWith("create") && c !== "load image"),
      ["umount 1", `remove ${t?.id}`],
    );
  });

  it("--dry-run plans the same order and changes nothing", async () => {
    const d = fake("shm-leaked-host");
    const { ns, id } = heldShm(d);
    const r = await runRemoval(deps(d), opts({ forceUnmount: true, dryRun: true }));
    const [t] = r.targets;
    assert.equal(t?.status, "would-remove");
    assert.deepEqual(
      t?.orders.map((o) => [o.finding.unmount?.namespace, o.finding.unmount?.mountId, o.result]),
      [[ns, id, null]],
    );
    assert.equal(removalExitCode(r), 0);
    assert.ok(d.mountIds(ns).includes(id));
    assert.equal(d.containerIds().length, 1);
  });

  it("an order the helper refuses (a locked mount) leaves the container held, with the reason", async () => {
    const d = fake("shm-leaked-host");
    const { id } = heldShm(d);
    d.umountFailures.set(id, {
      stage: "umount",
      errno: "EINVAL",
      message: "umount: Invalid argument",
      locked: true,
    });
    // The kernel does not detach the copy when the container's directory goes (an old kernel).
    d.removalErrors.set(loadInventory("shm-leaked-host").containers[0]!.id, [
      new ApiError("remove container: unlinkat /x/mounts/shm: device or resource busy", 500),
      new ApiError("remove container: unlinkat /x/mounts/shm: device or resource busy", 500),
      new ApiError("remove container: unlinkat /x/mounts/shm: device or resource busy", 500),
      new ApiError("remove container: unlinkat /x/mounts/shm: device or resource busy", 500),
    ]);
    const r = await runRemoval(deps(d), opts({ forceUnmount: true }));
    const [t] = r.targets;
    assert.equal(t?.status, "held");
    assert.equal(t?.removed, false);
    assert.match(t?.failures.join("\n") ?? "", /a locked mount/);
    assert.equal(removalExitCode(r), 3);
  });

  it("device or resource busy: releases what holds the daemon's path and retries, bounded", async () => {
    const d = fake("shm-leaked-host");
    const { ns, id } = heldShm(d);
    const cid = loadInventory("shm-leaked-host").containers[0]!.id;
    // The first order fails (stale), the removal then says busy: the retry orders it again.
    d.umountFailures.set(id, { stage: "check", errno: "ESTALE", message: "changed" });
    d.removalErrors.set(cid, [
      new ApiError(
        `remove container: unlinkat /var/lib/docker-leak-test/root/containers/${cid}/mounts/shm: device or resource busy`,
        500,
      ),
    ]);
    const removeFailure = d.umountFailures;
    const r = await runRemoval(
      {
        ...deps(d),
        onProgress: (e) => {
          if (e.kind === "remove") removeFailure.delete(id); // the retry's order succeeds
        },
      },
      opts({ forceUnmount: true }),
    );
    const [t] = r.targets;
    assert.equal(t?.status, "removed", JSON.stringify(t));
    assert.ok(!d.mountIds(ns).includes(id));
    assert.equal(d.calls.filter((c) => c.startsWith("umount")).length, 2);
  });

  it("409 removal in progress, then gone: another run removed it, the goal is reached", async () => {
    const d = fake("shm-leaked-host");
    const cid = loadInventory("shm-leaked-host").containers[0]!.id;
    d.removalErrors.set(cid, [
      new ApiError("remove container: removal of container is already in progress", 409),
      new ApiError(`No such container: ${cid}`, 404),
    ]);
    const r = await runRemoval(deps(d), opts({ forceUnmount: true }));
    assert.equal(r.targets[0]?.status, "removed");
  });

  it("a running container without -f is refused and nothing runs", async () => {
    const inv = loadInventory("shm-leaked-host");
    const running = inv.containers.map((c) => ({ ...c, status: "running" as const, pid: 1 }));
    const d = new FakeDocker(
      inv.daemon,
      running,
      inv.volumes,
      fixtureText("shm-leaked-host", "scan.ndjson"),
      helper.layer(),
    );
    const r = await runRemoval(deps(d), opts({ forceUnmount: true }));
    assert.equal(r.targets[0]?.status, "refused");
    assert.match(r.targets[0]?.reason ?? "", /is running; stop it first or use -f/);
    assert.equal(removalExitCode(r), 1);
    assert.deepEqual(d.calls, []);
  });

  it("unknown and ambiguous names change nothing", async () => {
    const d = fake("shm-leaked-host");
    await assert.rejects(runRemoval(deps(d), opts({ refs: ["dl-fixture-shm", "nope"] })), TargetError);
    assert.deepEqual(d.calls, []);
  });

  it("interrupted while unmounting: the partial report comes with the InterruptedError", async () => {
    const d = fake("shm-leaked-host");
    const controller = new AbortController();
    const run = runRemoval(
      {
        ...deps(d, controller.signal),
        onProgress: (e) => {
          if (e.kind === "unmount") controller.abort();
        },
      },
      opts({ forceUnmount: true }),
    );
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof InterruptedRemoval);
      assert.equal(err.report.targets[0]?.ref, "dl-fixture-shm");
      assert.notEqual(err.report.targets[0]?.status, "removed");
      return true;
    });
    assert.equal(d.containerIds().length, 1, "nothing removed after the signal");
  });
});

describe("volume rm --force-unmount", () => {
  it("releases the stale mount below _data in the daemon's namespace and removes the volume", async () => {
    const d = fake("volume-stale");
    const r = await runRemoval(
      deps(d),
      opts({ kind: "volume", refs: ["dl-fixture-vol2"], forceUnmount: true }),
    );
    const [t] = r.targets;
    assert.equal(t?.status, "removed", JSON.stringify(t));
    assert.equal(t?.released, 1);
    assert.deepEqual(d.volumeNames(), []);
  });

  it("a volume a container binds below its _data is refused", async () => {
    const inv = loadInventory("volume-stale");
    const v = inv.volumes[0]!;
    const user = {
      ...loadInventory("shm-leaked-host").containers[0]!,
      mounts: [{ type: "bind", source: `${v.mountpoint}/sub`, destination: "/x", propagation: "rshared" }],
    };
    const d = new FakeDocker(
      inv.daemon,
      [user],
      inv.volumes,
      fixtureText("volume-stale", "scan.ndjson"),
      helper.layer(),
    );
    const r = await runRemoval(deps(d), opts({ kind: "volume", refs: [v.name], forceUnmount: true }));
    assert.equal(r.targets[0]?.status, "refused");
    assert.match(r.targets[0]?.reason ?? "", /volume is in use/);
    assert.deepEqual(d.volumeNames(), [v.name]);
  });
});
