/**
 * Identification by place and content (src/model/resources.ts): the daemon's paths are placed
 * through its own mount table, and a mount is a resource only when the kernel's facts (its
 * parent's device and root, its own device and root) lead there. Look-alikes never are.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContainerInfo, Inventory, VolumeInfo } from "../../src/model/inventory.js";
import { MountTable } from "../../src/model/mount-table.js";
import { parseMountinfoLine } from "../../src/model/mountinfo.js";
import { normalizeHostPath, type Resource, ResourceIndex } from "../../src/model/resources.js";

const ROOT = "/var/lib/docker";
const ID = "ab".repeat(32);
const OTHER = "cd".repeat(32);
const GONE = "ef".repeat(32);
const SHM = `${ROOT}/containers/${ID}/mounts/shm`;
const MERGED = `${ROOT}/overlay2/${"12".repeat(32)}/merged`;

function container(over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: ID,
    name: "web",
    image: "busybox",
    imageId: "sha256:00",
    status: "exited",
    pid: 0,
    graphDriver: {
      name: "overlay2",
      data: { MergedDir: MERGED, UpperDir: MERGED.replace(/merged$/, "diff") },
    },
    ipcMode: "shareable",
    shmSize: 67108864,
    sandboxKey: `/var/run/docker/netns/${ID.slice(0, 12)}`,
    networkMode: "default",
    pidMode: "",
    mounts: [],
    volumesFrom: [],
    labels: {},
    ...over,
  };
}

function volume(name: string, over: Partial<VolumeInfo> = {}): VolumeInfo {
  return {
    name,
    driver: "local",
    mountpoint: `${ROOT}/volumes/${name}/_data`,
    options: {},
    labels: {},
    ...over,
  };
}

function inventory(containers: ContainerInfo[], volumes: VolumeInfo[] = []): Inventory {
  return {
    daemon: {
      id: "X",
      serverVersion: "20.10",
      osType: "linux",
      architecture: "x86_64",
      kernelVersion: "6.1",
      rootDir: ROOT,
      driver: "overlay2",
      cgroupVersion: "1",
      cgroupDriver: "cgroupfs",
      securityOptions: [],
    },
    containers,
    volumes,
  };
}

const table = (lines: string[]) => new MountTable(lines.map((l) => parseMountinfoLine(l)));

/** The host's (and daemon's) table: / on 254:0, /run and /tmp tmpfs, the daemon's mounts. */
const HOST_BASE = [
  "20 1 254:0 / / rw shared:1 - ext4 /dev/vda rw",
  "21 20 0:21 / /proc rw shared:2 - proc proc rw",
  "22 20 0:30 / /run rw shared:3 - tmpfs tmpfs rw",
  "23 20 0:31 / /tmp rw shared:4 - tmpfs tmpfs rw",
];

function identify(index: ResourceIndex, t: MountTable, mountId: number): Resource | null | "ignored" {
  const e = t.byId.get(mountId);
  assert.ok(e, `no mount ${mountId}`);
  const id = index.identify(e, t);
  if (id === null) return null;
  return "ignored" in id ? "ignored" : id.resource;
}

describe("MountTable", () => {
  it("places a mount on its parent's filesystem, through binds", () => {
    const t = table([
      ...HOST_BASE,
      `30 20 254:0 ${ROOT} ${ROOT} rw shared:5 - ext4 /dev/vda rw`,
      `31 30 0:40 / ${SHM} rw shared:6 - tmpfs shm rw`,
      "40 20 254:0 / /rootfs rw master:1 - ext4 /dev/vda rw",
      `41 40 0:40 / /rootfs${SHM} rw - tmpfs shm rw`,
    ]);
    assert.deepEqual(t.place(t.byId.get(31)!), { dev: "254:0", path: SHM });
    assert.deepEqual(t.place(t.byId.get(41)!), { dev: "254:0", path: SHM });
    assert.deepEqual(t.resolve(SHM), { dev: "254:0", path: SHM });
    assert.deepEqual(t.resolve("/run/docker/netns/x"), { dev: "0:30", path: "/docker/netns/x" });
  });

  it("resolves like the kernel walks: into the top of a stack, never into a hidden mount", () => {
    const t = table([
      ...HOST_BASE,
      "50 20 0:50 / /srv rw - tmpfs a rw",
      "51 50 0:51 / /srv/x rw - tmpfs b rw", // hidden once 52 covers /srv
      "52 50 0:52 / /srv rw - tmpfs c rw",
    ]);
    assert.deepEqual(t.resolve("/srv/x/y"), { dev: "0:52", path: "/x/y" });
    assert.deepEqual(t.resolve("/srv"), { dev: "254:0", path: "/srv" });
  });

  it("depth is linear however deep mounts are stacked", () => {
    const n = 100_000;
    const lines = ["1 0 254:0 / / rw - ext4 /dev/vda rw"];
    for (let i = 2; i <= n; i++) lines.push(`${i} ${i - 1} 0:${i} / /stack rw - tmpfs t rw`);
    const t = table(lines);
    const start = process.hrtime.bigint();
    let total = 0;
    for (const e of t.entries) total += t.depth(e);
    assert.equal(total, ((n - 1) * n) / 2);
    // Not a timing assertion: a quadratic walk would take minutes here, not this.
    assert.ok(process.hrtime.bigint() - start < 60_000_000_000n);
  });
});

describe("ResourceIndex: resources by place and content", () => {
  const daemonLines = [
    ...HOST_BASE,
    `30 20 254:0 ${ROOT} ${ROOT} rw shared:5 - ext4 /dev/vda rw`,
    `31 30 0:40 / ${SHM} rw shared:6 - tmpfs shm rw,size=65536k`,
    `32 30 0:41 / ${MERGED} rw shared:7 - overlay overlay rw,upperdir=${MERGED.replace(/merged$/, "diff")}`,
  ];

  it("the daemon's own mounts are the resources at their paths", () => {
    const d = table(daemonLines);
    const index = new ResourceIndex(inventory([container({ status: "running" })]), d);
    assert.ok(index.anchored);
    assert.deepEqual(identify(index, d, 31), { kind: "shm", containerId: ID, path: SHM });
    assert.deepEqual(identify(index, d, 32), { kind: "rootfs", containerId: ID, path: MERGED });
    assert.equal(identify(index, d, 23), null);
  });

  it("copies in a private namespace and under a container's /rootfs bind are the resource", () => {
    const d = table(daemonLines);
    const index = new ResourceIndex(inventory([container()]), d);
    const copy = table([
      "120 119 254:0 / / rw - ext4 /dev/vda rw",
      `130 120 254:0 ${ROOT} ${ROOT} rw - ext4 /dev/vda rw`,
      `131 130 0:40 / ${SHM} rw - tmpfs shm rw`,
    ]);
    assert.deepEqual(identify(index, copy, 131), { kind: "shm", containerId: ID, path: SHM });
    const rootfs = table([
      "200 199 0:99 / / rw - overlay overlay rw",
      "201 200 254:0 / /rootfs rw master:1 - ext4 /dev/vda rw",
      `202 201 254:0 ${ROOT} /rootfs${ROOT} rw master:5 - ext4 /dev/vda rw`,
      `203 202 0:40 / /rootfs${SHM} rw - tmpfs shm rw`,
    ]);
    assert.deepEqual(identify(index, rootfs, 203), { kind: "shm", containerId: ID, path: SHM });
  });

  it("look-alikes are nobody's: a tmpfs at a path that ends like the shm, and one over a tmpfs of the user's", () => {
    const d = table([...daemonLines, `60 23 0:77 / /tmp/u${SHM} rw - tmpfs x rw`]);
    const index = new ResourceIndex(inventory([container()]), d);
    assert.equal(identify(index, d, 60), null);
    assert.ok(index.looksLikeResource(d.byId.get(60)!));
    // In an unprivileged user namespace: a tmpfs over /var/lib, then a mount at the exact path.
    const userns = table([
      "300 299 254:0 / / rw - ext4 /dev/vda rw",
      "301 300 0:88 / /var/lib rw - tmpfs x rw,uid=1000",
      `302 301 0:89 / ${SHM} rw - tmpfs y rw,uid=1000`,
    ]);
    assert.equal(identify(index, userns, 302), null);
    // A FUSE filesystem whose own paths mimic a container's file, bound at /etc/hosts.
    const fuse = table([
      "400 399 0:90 / / rw - ext4 x rw",
      `401 400 0:91 ${ROOT}/containers/${ID}/hosts /etc/hosts rw - fuse.x x rw`,
    ]);
    assert.equal(identify(index, fuse, 401), null);
  });

  it("a bind of a container's file on the daemon's filesystem is that container's file", () => {
    const d = table(daemonLines);
    const index = new ResourceIndex(inventory([container()]), d);
    const c = table([
      "500 499 0:92 / / rw - overlay o rw",
      `501 500 254:0 ${ROOT}/containers/${ID}/hosts /etc/hosts rw - ext4 /dev/vda rw`,
    ]);
    assert.deepEqual(identify(index, c, 501), {
      kind: "container-file",
      containerId: ID,
      path: `${ROOT}/containers/${ID}/hosts`,
    });
  });

  it("a filesystem proven by a copy's place is the resource wherever else it is bound", () => {
    // The daemon unmounted the shm when the container stopped; the holder keeps the copy and a bind of it.
    const d = table(daemonLines.filter((l) => !l.startsWith("31 ")));
    const index = new ResourceIndex(inventory([container()]), d);
    const holder = table([
      "120 119 254:0 / / rw - ext4 /dev/vda rw",
      `130 120 254:0 ${ROOT} ${ROOT} rw - ext4 /dev/vda rw`,
      `131 130 0:40 / ${SHM} rw - tmpfs shm rw`,
      "132 120 0:40 / /mnt/x rw - tmpfs shm rw",
    ]);
    const placed = index.identifyByPlace(holder.byId.get(131)!, holder);
    assert.ok(placed && "resource" in placed);
    index.learnSuperblock(holder.byId.get(131)!, placed.resource);
    assert.deepEqual(identify(index, holder, 132), { kind: "shm", containerId: ID, path: SHM });
  });

  it("a removed container is named by a place inside the daemon's containers directory, never by a path elsewhere", () => {
    const d = table(daemonLines);
    const index = new ResourceIndex(inventory([container()]), d);
    const gone = `${ROOT}/containers/${GONE}/mounts/shm`;
    const holder = table([
      "120 119 254:0 / / rw - ext4 /dev/vda rw",
      `130 120 254:0 ${ROOT} ${ROOT} rw - ext4 /dev/vda rw`,
      `131 130 0:45 / ${gone} rw - tmpfs shm rw`,
      `132 120 0:46 / /home/u${gone} rw - tmpfs shm rw`,
    ]);
    assert.deepEqual(identify(index, holder, 131), { kind: "shm", containerId: GONE, path: gone });
    assert.equal(identify(index, holder, 132), null);
  });

  it("volumes: names from the daemon only; below _data in the daemon's namespace; binds of _data", () => {
    const data = `${ROOT}/volumes/data/_data`;
    const d = table([
      ...daemonLines,
      `70 30 0:60 / ${data}/sub rw shared:9 - tmpfs none rw`,
      `71 30 0:61 / ${ROOT}/volumes/ghost/_data/sub rw - tmpfs none rw`,
      `72 23 0:62 / /tmp/h${data}/proc rw - fuse.x x rw`,
    ]);
    const index = new ResourceIndex(inventory([container()], [volume("data")]), d);
    assert.deepEqual(identify(index, d, 70), {
      kind: "volume-submount",
      volumeName: "data",
      path: `${data}/sub`,
    });
    assert.equal(identify(index, d, 71), null, "no volume named ghost exists");
    assert.equal(identify(index, d, 72), null);
    const c = table([
      "500 499 0:92 / / rw - overlay o rw",
      `501 500 254:0 ${data}/x /data rw - ext4 /dev/vda rw`,
    ]);
    assert.deepEqual(identify(index, c, 501), { kind: "volume", volumeName: "data", path: data });
  });

  it("a device volume's filesystem is the volume wherever it is bound, and what is inside it is below it", () => {
    const data = `${ROOT}/volumes/tv/_data`;
    const d = table([
      ...daemonLines,
      `80 30 0:70 / ${data} rw shared:10 - tmpfs tv rw`,
      `81 80 0:71 / ${data}/in rw - tmpfs n rw`,
    ]);
    const index = new ResourceIndex(
      inventory([container()], [volume("tv", { options: { type: "tmpfs" } })]),
      d,
    );
    assert.deepEqual(identify(index, d, 80), { kind: "volume", volumeName: "tv", path: data });
    assert.deepEqual(identify(index, d, 81), {
      kind: "volume-submount",
      volumeName: "tv",
      path: `${data}/in`,
    });
    const c = table(["500 499 0:92 / / rw - overlay o rw", "501 500 0:70 / /data rw - tmpfs tv rw"]);
    assert.deepEqual(identify(index, c, 501), { kind: "volume", volumeName: "tv", path: data });
  });

  it("a bind-type volume of a host directory is not claimed wherever that directory is bound", () => {
    const data = `${ROOT}/volumes/b/_data`;
    const d = table([...daemonLines, `85 30 254:0 /srv/shared ${data} rw - ext4 /dev/vda rw`]);
    const index = new ResourceIndex(
      inventory([container()], [volume("b", { options: { o: "bind", device: "/srv/shared" } })]),
      d,
    );
    const other = table([
      "600 599 254:0 / / rw - ext4 /dev/vda rw",
      "601 600 254:0 /srv/shared /mnt rw - ext4 /dev/vda rw",
    ]);
    assert.equal(identify(index, other, 601), null);
  });

  it("network namespace files: only a container's own, never Docker's shared default", () => {
    const key = `/run/docker/netns/${ID.slice(0, 12)}`;
    const d = table([
      ...daemonLines,
      `90 22 0:4 net:[4026532400] ${key} rw - nsfs nsfs rw`,
      "91 22 0:4 net:[4026531840] /run/docker/netns/default rw - nsfs nsfs rw",
    ]);
    const host = container({
      id: OTHER,
      name: "h",
      networkMode: "host",
      sandboxKey: "/var/run/docker/netns/default",
    });
    const index = new ResourceIndex(inventory([container(), host]), d);
    assert.deepEqual(identify(index, d, 90), { kind: "netns", containerId: ID, path: key });
    assert.equal(identify(index, d, 91), null);
  });

  it("docker leak's own helper containers are ignored, not look-alikes", () => {
    const d = table(daemonLines);
    const index = new ResourceIndex(inventory([container()]), d, new Set([ID]));
    assert.equal(identify(index, d, 31), "ignored");
    assert.equal(identify(index, d, 32), "ignored");
  });

  it("without the daemon's table nothing is anyone's", () => {
    const index = new ResourceIndex(inventory([container()]), null);
    assert.equal(index.anchored, false);
    const d = table(daemonLines);
    assert.equal(identify(index, d, 31), null);
  });
});

describe("paths", () => {
  it("normalizeHostPath folds /var/run, repeated and trailing slashes", () => {
    assert.equal(normalizeHostPath("/var/run/docker/"), "/run/docker");
    assert.equal(normalizeHostPath("/var//lib/docker"), "/var/lib/docker");
    assert.equal(normalizeHostPath("/var/runner"), "/var/runner");
    assert.equal(normalizeHostPath("/"), "/");
  });
});
