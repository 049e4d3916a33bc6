import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Finding } from "../../src/model/findings.js";
import { noMountFacts } from "../../src/model/propagation.js";
import { busyPathFromError, findingsAtOrBelow, isBusyError, planUnmounts } from "../../src/model/removal.js";

describe("reading the daemon's 'device or resource busy' errors", () => {
  const recorded: [string, string][] = [
    [
      // docker volume rm on the rshared recipe (recorded from the private daemon, dockerd 20.10)
      "remove t-rv: error removing volume path '/var/lib/docker-leak-test/root/volumes/t-rv/_data': unlinkat /var/lib/docker-leak-test/root/volumes/t-rv/_data/sub: device or resource busy",
      "/var/lib/docker-leak-test/root/volumes/t-rv/_data/sub",
    ],
    [
      // devicemapper on RHEL/CentOS 7 without fs.may_detach_mounts (documented in moby#27381)
      'driver "devicemapper" failed to remove root filesystem for 0e8c2f0a7d2b: remove /var/lib/docker/devicemapper/mnt/5fb2c4c5b0b1a0e3b0a7a4b6d2d1c8f7e2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7: device or resource busy',
      "/var/lib/docker/devicemapper/mnt/5fb2c4c5b0b1a0e3b0a7a4b6d2d1c8f7e2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7",
    ],
    [
      // overlay2 on kernels < 3.18
      'driver "overlay2" failed to remove root filesystem for 9a1b: unlinkat /var/lib/docker/overlay2/3c4d/merged: device or resource busy',
      "/var/lib/docker/overlay2/3c4d/merged",
    ],
    [
      // the old shm layout (Docker < 17.06)
      "Unable to remove filesystem for 9a1b: remove /var/lib/docker/containers/9a1b/shm: device or resource busy",
      "/var/lib/docker/containers/9a1b/shm",
    ],
  ];
  for (const [message, path] of recorded) {
    it(`finds ${path}`, () => {
      assert.ok(isBusyError(message));
      assert.equal(busyPathFromError(message), path);
    });
  }
  it("other errors are not busy errors", () => {
    assert.equal(isBusyError("No such container: x"), false);
    assert.equal(busyPathFromError("remove x: permission denied"), null);
  });
});

function finding(ns: number, mountId: number, depth: number, targetId: string, path: string): Finding {
  return {
    severity: "leaked",
    target: { kind: "container", id: targetId, name: targetId, image: null, status: "exited" },
    resource: { kind: "shm", containerId: targetId, path },
    holder: { namespace: ns, pids: [ns], leader: null, owner: { kind: "process" } },
    mount: {
      mountId,
      parentId: 1,
      mountPoint: path,
      mountPointRaw: path,
      root: "/",
      fstype: "tmpfs",
      source: "shm",
      dev: "0:1",
      propagation: "private",
      peerGroup: null,
      masterGroup: null,
      depth,
    },
    pinned: [],
    cause: {
      short: "",
      full: "",
      facts: noMountFacts("shm", "process"),
    },
    cure: { short: "", full: "", immediate: null },
    unmount: {
      namespace: ns,
      members: [{ pid: ns, start: 1 }],
      mountId,
      mountPoint: path,
      fingerprint: "0000000000000000",
    },
  };
}

describe("planUnmounts", () => {
  const a1 = finding(10, 101, 1, "aaa", "/d/containers/aaa/mounts/shm");
  const a2 = finding(10, 102, 2, "aaa", "/d/containers/aaa/mounts/shm/sub");
  const a3 = finding(20, 103, 1, "aaa", "/d/containers/aaa/mounts/shm");
  const b1 = finding(10, 201, 1, "bbb", "/d/containers/bbb/mounts/shm");
  const pinned = { ...finding(30, 0, 0, "aaa", "/d/overlay2/x/merged"), mount: null, unmount: null };

  it("orders only the target's mounts, deepest first in each namespace", () => {
    const plan = planUnmounts(
      [b1, a1, a3, a2, pinned],
      (f) => f.target.kind === "container" && f.target.id === "aaa",
    );
    assert.deepEqual(
      plan.map((p) => `${p.order.namespace} ${p.order.mountId} ${p.order.mountPoint}`),
      [
        "10 102 /d/containers/aaa/mounts/shm/sub",
        "10 101 /d/containers/aaa/mounts/shm",
        "20 103 /d/containers/aaa/mounts/shm",
      ],
    );
  });

  it("the EBUSY retry picks the held mounts at or below the daemon's busy path", () => {
    const busy = busyPathFromError(
      "Unable to remove filesystem for aaa: remove /d/containers/aaa/mounts/shm: device or resource busy",
    )!;
    assert.deepEqual(
      findingsAtOrBelow([a1, a2, a3, b1], busy).map((f) => f.mount?.mountId),
      [101, 102, 103],
    );
  });
});
