import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CgroupOwner,
  classifyCgroupPath,
  ownerFromCgroup,
  parseCgroupLine,
} from "../../src/model/cgroup.js";

const ID = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00998877665544332211";
const ID2 = "aa".repeat(32);
const UID = "8d1f5c3e-2b4a-4c6d-9e8f-0a1b2c3d4e5f";
const container = (runtime: string, podUid: string | null = null, ids = [ID]): CgroupOwner =>
  ({ kind: "container", containerId: ids[0], containerIds: ids, runtime, podUid }) as CgroupOwner;

describe("parseCgroupLine", () => {
  it("parses v1 and v2 lines, and paths with colons", () => {
    assert.deepEqual(parseCgroupLine("4:memory:/docker/x"), {
      hierarchyId: 4,
      controllers: ["memory"],
      path: "/docker/x",
    });
    assert.deepEqual(parseCgroupLine("1:name=systemd:/"), {
      hierarchyId: 1,
      controllers: ["name=systemd"],
      path: "/",
    });
    assert.deepEqual(parseCgroupLine("3:cpu,cpuacct:/a"), {
      hierarchyId: 3,
      controllers: ["cpu", "cpuacct"],
      path: "/a",
    });
    assert.deepEqual(parseCgroupLine("0::/a.slice:cri-containerd:b"), {
      hierarchyId: 0,
      controllers: [],
      path: "/a.slice:cri-containerd:b",
    });
  });

  it("rejects garbage", () => {
    for (const bad of ["", "0:", "x::/", "0::relative", "no colons"])
      assert.equal(parseCgroupLine(bad), null, bad);
  });
});

describe("classifyCgroupPath", () => {
  const cases: Array<[string, string, CgroupOwner]> = [
    ["cgroup v1, cgroupfs driver", `/docker/${ID}`, container("docker")],
    ["systemd driver", `/system.slice/docker-${ID}.scope`, container("docker")],
    [
      "rootless, systemd driver",
      `/user.slice/user-1000.slice/user@1000.service/user.slice/docker-${ID}.scope`,
      container("docker"),
    ],
    ["docker-in-docker nests IDs", `/docker/${ID}/docker/${ID2}`, container("docker", null, [ID, ID2])],
    ["kubepods cgroupfs", `/kubepods/burstable/pod${UID}/${ID}`, container("unknown", UID)],
    ["kubepods guaranteed cgroupfs", `/kubepods/pod${UID}/${ID}`, container("unknown", UID)],
    [
      "kubepods systemd, containerd",
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll("-", "_")}.slice/cri-containerd-${ID}.scope`,
      container("containerd", UID),
    ],
    [
      "kubepods systemd, cri-o",
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice/crio-${ID}.scope`,
      container("cri-o", UID),
    ],
    [
      "kubepods systemd guaranteed, cri-dockerd",
      `/kubepods.slice/kubepods-pod${UID.replaceAll("-", "_")}.slice/docker-${ID}.scope`,
      container("docker", UID),
    ],
    [
      "containerd's slice:prefix:id form",
      `/system.slice/containerd.service/kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice:cri-containerd:${ID}`,
      container("containerd", UID),
    ],
    [
      "pod without a container (conmon-less pod cgroup)",
      `/kubepods/burstable/pod${UID}`,
      { kind: "pod", podUid: UID },
    ],
    ["podman", `/machine.slice/libpod-${ID}.scope`, container("podman")],
    [
      "a system service",
      "/system.slice/cron.service",
      { kind: "unit", unit: "cron.service", manager: "system" },
    ],
    [
      "a user service nested in slices",
      "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-x.slice/syncthing.service",
      { kind: "unit", unit: "syncthing.service", manager: "user" },
    ],
    [
      "the user manager itself",
      "/user.slice/user-1000.slice/user@1000.service/init.scope",
      { kind: "unit", unit: "user@1000.service", manager: "system" },
    ],
    ["a login session", "/user.slice/user-1000.slice/session-3.scope", { kind: "none" }],
    ["init", "/init.scope", { kind: "none" }],
    ["root", "/", { kind: "none" }],
    ["something custom", "/process_api/4c5bbfdc45e8f5d4c32816a491b5aed7", { kind: "none" }],
    ["a short hex name is not a container", "/docker/abc123", { kind: "none" }],
  ];
  for (const [what, path, expected] of cases) {
    it(what, () => assert.deepEqual(classifyCgroupPath(path), expected));
  }
});

describe("ownerFromCgroup", () => {
  it("prefers the most specific line", () => {
    assert.deepEqual(
      ownerFromCgroup(["4:memory:/system.slice/foo.service", `1:name=systemd:/docker/${ID}`, "0::/"]),
      container("docker"),
    );
  });

  it("prefers the unified line, then name=systemd, on a tie", () => {
    assert.deepEqual(ownerFromCgroup(["3:cpu:/system.slice/a.service", "0::/system.slice/b.service"]), {
      kind: "unit",
      unit: "b.service",
      manager: "system",
    });
    assert.deepEqual(
      ownerFromCgroup(["3:cpu:/system.slice/a.service", "1:name=systemd:/system.slice/b.service"]),
      {
        kind: "unit",
        unit: "b.service",
        manager: "system",
      },
    );
  });

  it("is nobody for hosts processes and unreadable lines", () => {
    assert.deepEqual(ownerFromCgroup(["9:name=systemd:/", "4:memory:/process_api/x", "0::/"]), {
      kind: "none",
    });
    assert.deepEqual(ownerFromCgroup([]), { kind: "none" });
    assert.deepEqual(ownerFromCgroup(["garbage"]), { kind: "none" });
  });
});
