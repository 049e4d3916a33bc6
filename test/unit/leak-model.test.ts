import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mountLineFingerprint } from "../../src/helper/protocol.js";
import { analyze } from "../../src/model/analyze.js";
import { dockerdDataRoot, dockerdExecRoot, flagValue, scanFilters } from "../../src/model/daemon.js";
import { type Finding, isLeak, type ScanReport } from "../../src/model/findings.js";
import { planUnmounts } from "../../src/model/removal.js";

/** The unmount orders --force-unmount would give for all these findings, in order. */
const unmountOrders = (findings: readonly Finding[]) =>
  planUnmounts(findings, () => true).map((p) => p.order);

import { containerNamed, loadFixture, loadHandwritten, loadScan } from "./fixtures.js";

const ROOT = "/var/lib/docker-leak-test/root";

function run(name: string, deep = false): ScanReport {
  const { inventory, scan } = loadFixture(name);
  return analyze({ inventory, scan, deep, now: new Date("2026-11-27T16:30:00Z") });
}

function runHandwritten(name: string, deep = false, driver?: string): ScanReport {
  const { inventory, scan } = loadHandwritten(name);
  const daemon = driver ? { ...inventory.daemon, driver } : inventory.daemon;
  return analyze({ inventory: { ...inventory, daemon }, scan, deep });
}

/** The rootfs findings of a layout, also with a graph driver that leaves the merged directory in place. */
function rootfsCopies(name: string, deep = false): { overlay: string[]; other: string[] } {
  const of = (r: ScanReport) => summary(r).filter((l) => l.includes(" rootfs "));
  return { overlay: of(runHandwritten(name, deep)), other: of(runHandwritten(name, deep, "fuse-overlayfs")) };
}

/** A compact, order-independent view of findings for assertions. */
function summary(report: ScanReport): string[] {
  return report.findings
    .map((f) => {
      const target =
        f.target.kind === "volume" ? `volume ${f.target.name}` : (f.target.name ?? f.target.id.slice(0, 12));
      return `${f.severity} ${target} ${f.resource.kind} ns=${f.holder.namespace} mount=${f.mount?.mountId ?? "-"}`;
    })
    .sort();
}

const only = (report: ScanReport): Finding => {
  assert.equal(report.findings.length, 1, summary(report).join("\n"));
  const [f] = report.findings;
  assert.ok(f);
  return f;
};

/** The recorded scan's process records and namespaces, for deriving what a finding must say. */
function recorded(name: string) {
  const scan = loadScan(name);
  const daemonNs = scan.processes.find((p) => p.pid === scan.self.ppid)?.mntns;
  /** The only host process (no container's cgroup) named `comm` in a namespace of its own. */
  const holder = (comm: string) => {
    const p = scan.processes.filter(
      (x) =>
        x.comm === comm &&
        x.mntns !== daemonNs &&
        x.mntns !== scan.self.mntns &&
        x.cgroup.every((l) => !l.includes("/docker/")),
    );
    assert.equal(p.length, 1, `fixture ${name}: one ${comm} in a namespace of its own`);
    return p[0]!;
  };
  const mountAt = (mntns: number, suffix: string) => {
    const ns = scan.namespaces.find((n) => n.mntns === mntns);
    const line = ns?.mountinfo?.find((l) => l.split(" ")[4]?.endsWith(suffix));
    assert.ok(line, `fixture ${name}: a mount ending ${suffix} in ${mntns}`);
    return { id: Number(line.split(" ")[0]), mountPoint: line.split(" ")[4]!, line };
  };
  return { scan, daemonNs, holder, mountAt };
}

describe("leak model on recorded fixtures (private dockerd, kernel 6.18, cgroup v1 cgroupfs)", () => {
  it("finds the daemon's namespace through the runtime that started the helper, confirmed by the helper's own root", () => {
    const r = run("shm-leaked-host");
    const { scan, daemonNs } = recorded("shm-leaked-host");
    assert.equal(r.daemon.foundBy, "runtime");
    assert.equal(r.daemon.namespace, daemonNs);
    assert.equal(r.daemon.rootDir, ROOT);
    assert.equal(r.daemon.execRoot, "/run/docker-leak-test/exec");
    const dockerd = scan.processes.find((p) => p.comm === "dockerd");
    assert.equal(r.daemon.pid, dockerd?.pid, "dockerd is named, not used to find the namespace");
    assert.equal(r.scannedAt, "2026-11-27T16:30:00.000Z");
    assert.equal(r.stats.skippedProcesses, 1, "PID 1 (EACCES on ns/mnt) is counted");
    assert.deepEqual(r.warnings, []);
  });

  it("captured: a running --ipc shareable container copied by a private host namespace (its shm; not its overlay rootfs, which Docker's rmdir detaches at stop)", () => {
    const r = run("shm-captured");
    const { holder, mountAt } = recorded("shm-captured");
    const sleep = holder("sleep");
    const { inventory } = loadFixture("shm-captured");
    const shm = containerNamed(inventory, "dl-fixture-shm");
    // The holder has a copy of both; once the container stopped (shm-leaked-host, the same
    // holder), only the shm copy was left: the kernel detached the rootfs copy.
    const merged = mountAt(sleep.mntns, "/merged");
    const shmMount = mountAt(sleep.mntns, `${shm.id}/mounts/shm`);
    const after = loadScan("shm-leaked-host").namespaces.find((n) => n.mntns === sleep.mntns);
    assert.ok(after?.mountinfo?.some((l) => l.split(" ")[4]?.endsWith(`${shm.id}/mounts/shm`)));
    assert.equal(
      after?.mountinfo?.some((l) => l.split(" ")[4] === merged.mountPoint),
      false,
    );
    assert.deepEqual(summary(r), [`captured dl-fixture-shm shm ns=${sleep.mntns} mount=${shmMount.id}`]);
    // Where Docker does not remove the directory (another graph driver), the copy would stay.
    const { scan } = loadFixture("shm-captured");
    const vfs = analyze({
      inventory: { ...inventory, daemon: { ...inventory.daemon, driver: "devicemapper" } },
      scan,
    });
    assert.ok(vfs.findings.some((f) => f.resource.kind === "rootfs" && f.mount?.mountId === merged.id));
    for (const f of r.findings) {
      assert.equal(isLeak(f.severity), false, "captured-only scans exit 0");
      assert.deepEqual(f.holder.owner, { kind: "process" });
      assert.deepEqual(f.holder.pids, [sleep.pid]);
      assert.equal(f.holder.leader?.comm, "sleep");
      assert.equal(f.cure.immediate, null);
    }
  });

  it("leaked: the stopped container's shm stays held by the host process (its rootfs copy was detached by rmdir)", () => {
    const f = only(run("shm-leaked-host"));
    const { holder, mountAt } = recorded("shm-leaked-host");
    const sleep = holder("sleep");
    const { inventory } = loadFixture("shm-leaked-host");
    const shm = containerNamed(inventory, "dl-fixture-shm");
    const held = mountAt(sleep.mntns, `${shm.id}/mounts/shm`);
    assert.equal(f.severity, "leaked");
    assert.deepEqual(f.target, {
      kind: "container",
      id: shm.id,
      name: "dl-fixture-shm",
      image: "docker-leak-test/busybox",
      status: "exited",
    });
    assert.deepEqual(f.resource, {
      kind: "shm",
      containerId: shm.id,
      path: `${ROOT}/containers/${shm.id}/mounts/shm`,
    });
    assert.deepEqual(f.holder.pids, [sleep.pid]);
    assert.equal(f.holder.namespace, sleep.mntns);
    assert.equal(f.mount?.propagation, "private");
    assert.deepEqual(f.unmount, {
      namespace: sleep.mntns,
      members: [{ pid: sleep.pid, start: sleep.start }],
      mountId: held.id,
      mountPoint: `${ROOT}/containers/${shm.id}/mounts/shm`,
      fingerprint: mountLineFingerprint(held.line),
    });
    assert.equal(f.cure.immediate, "docker leak rm --force-unmount dl-fixture-shm");
  });

  it("leaked: held from inside another container, attributed to that container by its cgroup and process tree", () => {
    const r = run("shm-leaked-container");
    const f = only(r);
    const { inventory } = loadFixture("shm-leaked-container");
    const holderContainer = containerNamed(inventory, "dl-fixture-holder");
    assert.equal(f.severity, "leaked");
    assert.equal(f.target.kind === "container" && f.target.name, "dl-fixture-shm2");
    assert.equal(f.resource.kind, "shm");
    assert.deepEqual(f.holder.owner, {
      kind: "container",
      id: holderContainer.id,
      name: "dl-fixture-holder",
      image: "docker-leak-test/busybox",
      known: true,
      runtime: "docker",
      mainNamespace: false,
    });
    assert.ok(
      f.mount?.mountPoint.startsWith("/rootfs/var/lib/docker-leak-test/root/containers/"),
      "seen through -v /:/rootfs",
    );
    assert.equal(f.cause.short, "kept after stop: private namespace");
    assert.match(f.cause.full, /of PID \d+ \(sleep\) inside container dl-fixture-holder has its own copy/);
  });

  it("the holder container's own mounts seen under its /rootfs are neither findings nor look-alikes", () => {
    const r = run("shm-leaked-container");
    assert.ok(
      r.findings.every((f) => f.target.kind !== "container" || f.target.name !== "dl-fixture-holder"),
    );
    assert.equal(r.stats.lookAlikes, 0, r.warnings.join("\n"));
  });

  it("leaked volume: a tmpfs-backed volume held after its container was removed", () => {
    const f = only(run("volume-leaked"));
    assert.equal(f.severity, "leaked");
    assert.deepEqual(f.target, { kind: "volume", name: "dl-fixture-vol", driver: "local", status: "unused" });
    assert.deepEqual(f.resource, {
      kind: "volume",
      volumeName: "dl-fixture-vol",
      path: `${ROOT}/volumes/dl-fixture-vol/_data`,
    });
    assert.deepEqual(f.holder.owner, { kind: "process" });
    assert.equal(f.cure.immediate, "docker leak volume rm --force-unmount dl-fixture-vol");
  });

  it("stale: an rshared bind propagated a mount back under the volume's _data (container still running)", () => {
    const f = only(run("volume-stale-running"));
    const { scan } = recorded("volume-stale-running");
    const dockerd = scan.processes.find((p) => p.comm === "dockerd");
    assert.equal(f.severity, "stale");
    assert.deepEqual(f.resource, {
      kind: "volume-submount",
      volumeName: "dl-fixture-vol2",
      path: `${ROOT}/volumes/dl-fixture-vol2/_data/sub`,
    });
    assert.deepEqual(f.holder.owner, { kind: "daemon", pid: dockerd?.pid ?? null });
    assert.match(f.cause.full, /Container dl-fixture-rshared binds the volume with shared propagation/);
    assert.match(f.cause.full, /docker volume rm dl-fixture-vol2 fails with "device or resource busy"/);
    assert.equal(f.cure.immediate, "docker leak volume rm --force-unmount dl-fixture-vol2");
  });

  it("stale: still there after the container is gone and docker volume rm failed", () => {
    const f = only(run("volume-stale"));
    const { daemonNs, mountAt, scan } = recorded("volume-stale");
    const sub = mountAt(daemonNs!, "/dl-fixture-vol2/_data/sub");
    const via = scan.namespaces.find((n) => n.mntns === daemonNs)?.readVia;
    assert.equal(f.severity, "stale");
    assert.deepEqual(f.target, {
      kind: "volume",
      name: "dl-fixture-vol2",
      driver: "local",
      status: "unused",
    });
    assert.equal(f.unmount?.mountId, sub.id);
    assert.equal(f.unmount?.members[0]?.pid, via);
    assert.equal(f.unmount?.fingerprint, mountLineFingerprint(sub.line));
  });

  it("--deep: the helper ties a cwd in a stopped container's detached rootfs to it by the overlay's root inode", () => {
    const r = run("pinned-rootfs", true);
    const { inventory } = loadFixture("pinned-rootfs");
    const pin = containerNamed(inventory, "dl-fixture-pin");
    const pinned = r.findings.filter((f) => f.severity === "pinned");
    assert.equal(pinned.length, 1, summary(r).join("\n"));
    const f = pinned[0]!;
    assert.equal(f.target.kind === "container" && f.target.id, pin.id);
    assert.equal(f.resource.kind, "rootfs");
    assert.equal(f.mount, null);
    assert.equal(f.unmount, null);
    assert.deepEqual(
      f.pinned.map((p) => p.kind),
      ["cwd"],
    );
    // An fd on a file cannot be walked to its overlay's root: it stays listed as detached.
    assert.deepEqual(
      r.detached.map((d) => `${d.kind} ${d.path}`),
      ["fd /bin/busybox"],
    );
    assert.deepEqual(
      run("pinned-rootfs", false).findings,
      [],
      "without --deep pinned records are not looked at",
    );
  });

  it("--deep: without the layer record, the detached rootfs cannot be tied to the container by its path text", () => {
    const { inventory, scan } = loadFixture("pinned-rootfs");
    const r = analyze({ inventory, scan: { ...scan, layers: [] }, deep: true });
    assert.deepEqual(summary(r), []);
    assert.deepEqual(r.detached.map((d) => d.kind).sort(), ["cwd", "fd"]);
  });
});

describe("no false positives (recorded: 15 containers in legitimate setups, unfiltered mountinfo)", () => {
  const r = run("legit");
  it("reports nothing", () => {
    assert.deepEqual(summary(r), []);
    assert.deepEqual(r.detached, []);
    assert.deepEqual(r.warnings, []);
  });

  it("covers the setups it is meant to", () => {
    const { inventory } = loadFixture("legit");
    const names = inventory.containers.map((c) => c.name);
    for (const n of [
      "dl-fixture-plain",
      "dl-fixture-vshare1",
      "dl-fixture-vshare2",
      "dl-fixture-devuser1",
      "dl-fixture-vfrom",
      "dl-fixture-ipcowner",
      "dl-fixture-ipcuser",
      "dl-fixture-netc",
      "dl-fixture-rootbind",
      "dl-fixture-plainbind",
      "dl-fixture-paused",
      "dl-fixture-exited",
      "dl-fixture-created",
    ])
      assert.ok(names.includes(n), n);
    assert.equal(containerNamed(inventory, "dl-fixture-rootbind").mounts[0]?.propagation, "rslave");
    assert.ok(r.stats.namespaces >= 15, `${r.stats.namespaces} namespaces`);
  });

  it("still identifies what it accepts (so acceptance is a decision, not blindness)", () => {
    // Drop the daemon's peer groups: the rslave copies in dl-fixture-rootbind and the host
    // slave namespace become foreign copies.
    const { inventory, scan } = loadFixture("legit");
    const { daemonNs } = recorded("legit");
    const stripped = {
      ...scan,
      namespaces: scan.namespaces.map((ns) =>
        ns.mntns === daemonNs
          ? { ...ns, mountinfo: ns.mountinfo?.map((l) => l.replace(/ shared:\d+/, "")) ?? null }
          : ns,
      ),
    };
    const report = analyze({ inventory, scan: stripped });
    const rootbind = containerNamed(inventory, "dl-fixture-rootbind");
    const slaveHolder = scan.processes.find(
      (p) => p.comm === "sleep" && p.mntns !== daemonNs && p.cgroup.every((l) => !l.includes("docker")),
    );
    const holders = new Set(report.findings.map((f) => f.holder.namespace));
    const rootbindNs = scan.processes.find((p) => p.pid === rootbind.pid)?.mntns;
    assert.deepEqual([...holders].sort(), [rootbindNs, slaveHolder?.mntns].sort());
    assert.ok(report.findings.every((f) => f.severity === "captured"));
    const devvol = report.findings.filter((f) => f.target.kind === "volume");
    assert.equal(devvol.length, 2, "the tmpfs volume copy in each of the two namespaces");
  });
});

describe("leak model on hand-written layouts", () => {
  it("devicemapper on CentOS 7: dockerd-current, old shm path, proc-typed netns, a unit with private mounts", () => {
    const r = runHandwritten("devicemapper-centos7");
    assert.equal(r.daemon.foundBy, "runtime");
    assert.equal(r.daemon.pid, 1187);
    assert.equal(r.daemon.execRoot, "/run/docker", "default exec root, /var/run folded to /run");
    assert.deepEqual(summary(r), [
      "captured db netns ns=4026532511 mount=405",
      "captured db rootfs ns=4026532511 mount=403",
      "captured db shm ns=4026532511 mount=404",
      "leaked web rootfs ns=4026532511 mount=401",
      "leaked web shm ns=4026532511 mount=402",
      "stale web rootfs ns=4026531840 mount=64",
    ]);
    const leaked = r.findings.find((f) => f.severity === "leaked" && f.resource.kind === "rootfs");
    assert.deepEqual(leaked?.holder.owner, { kind: "unit", unit: "httpd.service", manager: "system" });
    assert.deepEqual(leaked?.holder.pids, [3100, 3101]);
    assert.equal(leaked?.resource.path, `/var/lib/docker/devicemapper/mnt/${"c3".repeat(32)}`);
    assert.match(leaked?.cure.full ?? "", /systemctl restart httpd\.service/);
    assert.match(leaked?.cure.full ?? "", /MountFlags=private/);
    const stale = r.findings.find((f) => f.severity === "stale");
    assert.equal(stale?.cause.short, "left mounted in dockerd's namespace");
    assert.match(
      stale?.cause.full ?? "",
      /still mounted in the daemon's mount namespace \d+ \(dockerd PID \d+\) although container web is dead\. [\s\S]*On this kernel docker rm may fail/,
    );
    assert.equal(stale?.cure.immediate, "docker leak rm --force-unmount web");
    assert.equal(r.stats.namespaces, 4, "the helper's own namespace is scanned but holds nothing");
  });

  it("Kubernetes on cgroup v2 (systemd driver): pods, a containerd pod, --network/--ipc container:<pause>", () => {
    const r = runHandwritten("kubernetes-cgroup2");
    assert.deepEqual(summary(r), [
      `captured k8s_POD_web-0_shop_8d1f5c3e-2b4a-4c6d-9e8f-0a1b2c3d4e5f_0 netns ns=4026532850 mount=803`,
      `captured k8s_POD_web-0_shop_8d1f5c3e-2b4a-4c6d-9e8f-0a1b2c3d4e5f_0 shm ns=4026532800 mount=703`,
      "leaked batch rootfs ns=4026532850 mount=802",
      "leaked batch shm ns=4026532800 mount=704",
    ]);
    // The running containers' overlay root filesystems are detached when they stop (Docker
    // removes the merged directory): not captured, unless the driver leaves the directory.
    assert.deepEqual(rootfsCopies("kubernetes-cgroup2").other, [
      `captured k8s_POD_web-0_shop_8d1f5c3e-2b4a-4c6d-9e8f-0a1b2c3d4e5f_0 rootfs ns=4026532800 mount=702`,
      `captured k8s_nginx_web-0_shop_8d1f5c3e-2b4a-4c6d-9e8f-0a1b2c3d4e5f_0 rootfs ns=4026532800 mount=705`,
      "leaked batch rootfs ns=4026532850 mount=802",
    ]);
    const fluentd = r.findings.find((f) => f.holder.namespace === 4026532800);
    assert.deepEqual(fluentd?.holder.owner, {
      kind: "pod",
      uid: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
      namespace: "kube-system",
      name: "fluentd-x1",
      containerId: "4d".repeat(32),
      containerName: "fluentd",
      runtime: "docker",
    });
    assert.match(
      fluentd?.cure.full ?? "",
      /mountPropagation: HostToContainer .* pod kube-system\/fluentd-x1/,
    );
    const cri = r.findings.find((f) => f.holder.namespace === 4026532850);
    assert.deepEqual(cri?.holder.owner, {
      kind: "pod",
      uid: "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b",
      namespace: null,
      name: null,
      containerId: "5e".repeat(32),
      containerName: null,
      runtime: "containerd",
    });
    assert.equal(r.stats.skippedProcesses, 1);
  });

  it("tricky paths: UTF-8, space, comma in the root; tab and backslash in a bind; escaped overlay options", () => {
    const r = runHandwritten("tricky-paths");
    assert.equal(r.daemon.rootDir, "/srv/dôcker data,v2");
    assert.equal(r.daemon.execRoot, "/run/d ocker");
    assert.deepEqual(summary(r), [
      "leaked app rootfs ns=4026532222 mount=62",
      "leaked app shm ns=4026532222 mount=61",
      "leaked app shm ns=4026532222 mount=64",
      "leaked volume logs volume ns=4026532222 mount=65",
    ]);
    const viaBind = r.findings.find((f) => f.mount?.mountId === 64);
    assert.equal(
      viaBind?.mount?.mountPoint,
      `/mnt/with\ttab\\x/srv/dôcker data,v2/containers/${"7a".repeat(32)}/mounts/shm`,
    );
    assert.equal(
      viaBind?.unmount?.mountPoint,
      `/mnt/with\\011tab\\134x/srv/d\\303\\264cker\\040data,v2/containers/${"7a".repeat(32)}/mounts/shm`,
      "orders carry the raw form",
    );
    assert.equal(
      r.findings.find((f) => f.mount?.mountId === 62)?.resource.kind,
      "rootfs",
      "found by upperdir with \\054",
    );
  });

  it("Docker Desktop: no dockerd visible, the runtime chrooted; --volumes-from, --ipc by name; --deep", () => {
    const r = runHandwritten("desktop-fallback", true);
    assert.equal(r.daemon.foundBy, "runtime");
    assert.equal(r.daemon.namespace, 4026532001);
    assert.equal(r.daemon.pid, null);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(summary(r), [
      "captured volume logs volume ns=4026532501 mount=-",
      "captured volume logs volume ns=4026532501 mount=602",
    ]);
    assert.deepEqual(rootfsCopies("desktop-fallback", true).other, [
      "captured writer rootfs ns=4026532501 mount=601",
    ]);
    const logs = r.findings.find((f) => f.pinned.length > 0 && f.severity === "captured");
    assert.deepEqual(
      logs?.pinned.map((p) => `${p.dev} ${p.path}`),
      ["0:77 /app.log"],
      "tied by device to the volume that is still mounted",
    );
    assert.equal(logs?.cause.short, "detached copy kept open (fd 8); stays alive after release");
    assert.match(logs?.cause.full ?? "", /^PID 2001 \(backup\) uses files of volume logs/);
    // The deleted file's link text names volume old-data, but link text on a detached mount is
    // whatever the holder made it: without a device or inode fact it is listed, not reported.
    assert.deepEqual(
      r.detached.map((d) => d.path),
      ["/srv/docker/volumes/old-data/_data/db.sqlite (deleted)", "/work"],
      "the unattributable files are listed; the pipe is not",
    );
  });
});

describe("unmount orders (planUnmounts)", () => {
  it("orders the deepest mount first within a namespace, and leaves pinned findings out", () => {
    const r = runHandwritten("tricky-paths");
    const orders = unmountOrders(r.findings);
    // 64 sits on the data root's copy (66) under the bind 63; 61, 62 and 65 on the copy 60.
    assert.deepEqual(
      orders.map((o) => o.mountId),
      [64, 65, 62, 61],
    );
    assert.deepEqual(
      unmountOrders(runHandwritten("desktop-fallback", true, "fuse-overlayfs").findings).map(
        (o) => o.mountId,
      ),
      [602, 601],
    );
  });
});

describe("daemon facts", () => {
  it("reads dockerd flags the way pflag does", () => {
    assert.equal(dockerdDataRoot(["dockerd"]), "/var/lib/docker");
    assert.equal(dockerdDataRoot(["dockerd", "--data-root", "/srv/d/"]), "/srv/d");
    assert.equal(dockerdDataRoot(["dockerd", "--data-root=/a", "-g", "/b"]), "/b");
    assert.equal(dockerdDataRoot(["dockerd", "--graph=/old"]), "/old");
    assert.equal(dockerdExecRoot(["dockerd", "--exec-root", "/var/run/x"]), "/run/x");
    assert.equal(dockerdExecRoot(["dockerd"]), null);
    assert.equal(flagValue(["x", "--", "--data-root", "/no"], ["--data-root"]), null);
  });

  it("derives the helper's filters from the daemon's facts and volumes, escaped like mountinfo", () => {
    const { inventory } = loadFixture("legit");
    assert.deepEqual(scanFilters(inventory), [ROOT, "/netns/"]);
    const tricky = loadHandwritten("tricky-paths").inventory;
    assert.deepEqual(scanFilters(tricky), ["/srv/d\\303\\264cker\\040data,v2", "/netns/"]);
    const plugin = {
      ...inventory,
      volumes: [{ name: "p", driver: "x", mountpoint: "/mnt/plugins/p", options: {}, labels: {} }],
    };
    assert.deepEqual(scanFilters(plugin), [ROOT, "/netns/", "/mnt/plugins/p"]);
  });
});
