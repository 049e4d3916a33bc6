import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { analyze } from "../../src/model/analyze.js";
import type { ContainerInfo, Inventory } from "../../src/model/inventory.js";
import { parseMountinfoLine } from "../../src/model/mountinfo.js";
import { normalizeHostPath, ResourceIndex, showsHostPath } from "../../src/model/resources.js";
import { loadFixture, loadHandwritten } from "./fixtures.js";

const ID = "ab".repeat(32);
const HASH = "cd".repeat(32);

function inventory(
  root: string,
  container: Partial<ContainerInfo>,
  volumes: Inventory["volumes"] = [],
): Inventory {
  const base = loadHandwritten("desktop-fallback").inventory;
  const c: ContainerInfo = {
    ...(base.containers[0] as ContainerInfo),
    id: ID,
    name: "c",
    mounts: [],
    ...container,
  };
  return { daemon: { ...base.daemon, rootDir: root }, containers: [c], volumes };
}

const identify = (inv: Inventory, line: string) => new ResourceIndex(inv).identify(parseMountinfoLine(line));

describe("ResourceIndex.identify", () => {
  it("a bind whose root is relative to a filesystem mounted at the daemon root", () => {
    const inv = inventory("/var/lib/docker", {});
    assert.deepEqual(identify(inv, `90 80 8:17 /containers/${ID}/hosts /etc/hosts rw - ext4 /dev/sdb1 rw`), {
      kind: "container-file",
      containerId: ID,
      path: `/var/lib/docker/containers/${ID}/hosts`,
    });
    // …but not when the part before /containers/ is not the end of the root
    assert.equal(
      identify(inv, `90 80 8:17 /elsewhere/containers/${ID}/hosts /etc/hosts rw - ext4 /dev/sdb1 rw`),
      null,
    );
  });

  it("netns files: SandboxKey under /var/run matches a mount under /run", () => {
    const inv = inventory("/var/lib/docker", { sandboxKey: "/var/run/docker/netns/0a1b2c3d4e5f" });
    assert.deepEqual(
      identify(inv, "50 25 0:4 net:[4026532400] /run/docker/netns/0a1b2c3d4e5f rw - nsfs nsfs rw"),
      {
        kind: "netns",
        containerId: ID,
        path: "/run/docker/netns/0a1b2c3d4e5f",
      },
    );
    assert.equal(identify(inv, "50 25 0:4 net:[4026532400] /run/other/0a1b2c3d4e5f rw - nsfs nsfs rw"), null);
  });

  it("devicemapper by mount point and by device source", () => {
    const inv = inventory("/var/lib/docker", {
      graphDriver: { name: "devicemapper", data: { DeviceName: `docker-253:0-99-${HASH}`, DeviceId: "3" } },
    });
    const byPath = identify(
      inv,
      `60 40 253:5 / /var/lib/docker/devicemapper/mnt/${HASH} rw - xfs /dev/mapper/x rw`,
    );
    const bySource = identify(inv, `61 40 253:5 /rootfs / rw - xfs /dev/mapper/docker-253:0-99-${HASH} rw`);
    assert.equal(byPath?.kind, "rootfs");
    assert.deepEqual(bySource, byPath);
  });

  it("fuse-overlayfs and zfs by mount point", () => {
    const fuse = inventory("/home/u/.local/share/docker", {
      graphDriver: {
        name: "fuse-overlayfs",
        data: { MergedDir: `/home/u/.local/share/docker/fuse-overlayfs/${HASH}/merged` },
      },
    });
    const line = `70 40 0:60 / /home/u/.local/share/docker/fuse-overlayfs/${HASH}/merged rw - fuse.fuse-overlayfs fuse-overlayfs rw`;
    assert.equal(identify(fuse, line)?.kind, "rootfs");
    const zfs = inventory("/var/lib/docker", {
      graphDriver: {
        name: "zfs",
        data: { Dataset: "pool/d", Mountpoint: `/var/lib/docker/zfs/graph/${HASH}` },
      },
    });
    assert.equal(
      identify(zfs, `71 40 0:61 / /var/lib/docker/zfs/graph/${HASH} rw - zfs pool/d rw`)?.kind,
      "rootfs",
    );
  });

  it("secrets and other container tmpfs, and a removed container's shm by its path", () => {
    const inv = inventory("/var/lib/docker", {});
    assert.equal(
      identify(inv, `72 40 0:62 / /var/lib/docker/containers/${ID}/mounts/secrets ro - tmpfs tmpfs rw`)?.kind,
      "container-mount",
    );
    const gone = "ef".repeat(32);
    assert.deepEqual(identify(inv, `73 40 0:63 / /var/lib/docker/containers/${gone}/shm rw - tmpfs shm rw`), {
      kind: "shm",
      containerId: gone,
      path: `/var/lib/docker/containers/${gone}/shm`,
    });
  });

  it("volumes: the mount, a bind of _data seen in a container, below _data, and a plugin's mountpoint", () => {
    const vols = [
      { name: "v", driver: "local", mountpoint: "/var/lib/docker/volumes/v/_data", options: {}, labels: {} },
      {
        name: "p",
        driver: "rbd",
        mountpoint: "/var/lib/docker/plugins/abc/propagated-mount/p",
        options: {},
        labels: {},
      },
    ];
    const inv = inventory("/var/lib/docker", {}, vols);
    assert.equal(
      identify(inv, "80 40 0:70 / /var/lib/docker/volumes/v/_data rw - tmpfs tmpfs rw")?.kind,
      "volume",
    );
    assert.equal(
      identify(inv, "81 40 254:1 /var/lib/docker/volumes/v/_data /data rw - ext4 /dev/vda1 rw")?.kind,
      "volume",
    );
    assert.equal(
      identify(inv, "82 40 254:1 /volumes/v/_data/sub /data rw - ext4 /dev/sdb rw")?.kind,
      "volume",
    );
    assert.deepEqual(identify(inv, "83 80 0:71 / /var/lib/docker/volumes/v/_data/sub rw - tmpfs none rw"), {
      kind: "volume-submount",
      volumeName: "v",
      path: "/var/lib/docker/volumes/v/_data/sub",
    });
    assert.equal(
      identify(inv, "84 40 252:0 / /var/lib/docker/plugins/abc/propagated-mount/p rw - ext4 /dev/rbd0 rw")
        ?.kind,
      "volume",
    );
    assert.equal(
      identify(inv, "85 84 0:72 / /var/lib/docker/plugins/abc/propagated-mount/p/x rw - tmpfs none rw")?.kind,
      "volume-submount",
    );
    assert.equal(
      identify(inv, "86 40 254:1 /var/lib/docker /x rw - ext4 /dev/vda1 rw"),
      null,
      "the root itself is nobody's",
    );
  });
});

describe("paths", () => {
  it("normalizeHostPath folds /var/run, repeated and trailing slashes", () => {
    assert.equal(normalizeHostPath("/var/run/docker/"), "/run/docker");
    assert.equal(normalizeHostPath("/var//lib/docker"), "/var/lib/docker");
    assert.equal(normalizeHostPath("/var/runner"), "/var/runner");
    assert.equal(normalizeHostPath("/"), "/");
  });

  it("showsHostPath matches whole suffixes only", () => {
    assert.ok(showsHostPath("/rootfs/var/lib/docker/x", "/var/lib/docker/x"));
    assert.ok(!showsHostPath("/var/lib/docker/x", "/rootfs/var/lib/docker/x"));
    assert.ok(!showsHostPath("/anything", "/"));
  });
});

describe("analyze is total", () => {
  it("reports unparsable mountinfo lines as warnings and carries on", () => {
    const { inventory: inv, scan } = loadFixture("shm-leaked-host");
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 60 }), { maxLength: 5 }), (garbage) => {
        const noisy = {
          ...scan,
          namespaces: scan.namespaces.map((ns) => ({
            ...ns,
            mountinfo: [...(ns.mountinfo ?? []), ...garbage],
          })),
        };
        const report = analyze({ inventory: inv, scan: noisy });
        assert.ok(report.findings.some((f) => f.severity === "leaked"));
      }),
      { numRuns: 100 },
    );
    const broken = {
      ...scan,
      namespaces: scan.namespaces.map((ns) => ({ ...ns, mountinfo: [...(ns.mountinfo ?? []), "1 2 3"] })),
    };
    assert.match(analyze({ inventory: inv, scan: broken }).warnings.join("\n"), /malformed mountinfo line/);
  });

  it("a copy of a removed container's shm is leaked, named by the ID in its path", () => {
    const { inventory: inv, scan } = loadFixture("shm-leaked-host");
    const report = analyze({ inventory: { ...inv, containers: [] }, scan });
    const [f] = report.findings;
    assert.equal(report.findings.length, 1);
    assert.equal(f?.severity, "leaked");
    assert.deepEqual(f?.target, {
      kind: "container",
      id: "de6023ea820805a9e4b1df4f327d18897e7e109f226a236b019a1e6af18e591d",
      name: null,
      image: null,
      status: "removed",
    });
    assert.equal(f?.cure.immediate, null, "nothing left for docker leak rm to remove");
  });

  it("an unreadable namespace is a warning and a count", () => {
    const { inventory: inv, scan } = loadFixture("shm-leaked-host");
    const holder = scan.namespaces.find((ns) => ns.mntns === 4026532755);
    assert.ok(holder);
    const unreadable = {
      ...scan,
      namespaces: scan.namespaces.map((ns) =>
        ns === holder
          ? { ...ns, readVia: null, mountinfo: null, errno: "EACCES", message: "Permission denied" }
          : ns,
      ),
    };
    const report = analyze({ inventory: inv, scan: unreadable });
    assert.deepEqual(report.findings, []);
    assert.equal(report.stats.namespacesUnreadable, 1);
    assert.match(
      report.warnings.join("\n"),
      /mount namespace 4026532755 \(PIDs 14229\) could not be read: EACCES Permission denied/,
    );
  });
});
