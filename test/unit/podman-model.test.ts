/**
 * The leak model on Podman's layout, from a scan recorded on Debian's podman 4.3.1 (rootful,
 * cgroupfs, cgroup v1) by test/fixtures/record-podman.sh: shm under
 * `<root>/overlay-containers/<id>/userdata/shm`, volumes under `<root>/volumes/<name>/_data`,
 * holders in `/libpod_parent/libpod-<id>` started by conmon (one per container, one per exec).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ProcessRecord } from "../../src/helper/protocol.js";
import { analyze } from "../../src/model/analyze.js";
import { scanFilters } from "../../src/model/daemon.js";
import type { Finding, ScanReport } from "../../src/model/findings.js";
import { containerNamed, loadFixture } from "./fixtures.js";

const FIXTURE = "podman-leaks";

function run(mutate?: (p: ProcessRecord) => ProcessRecord): ScanReport {
  const { inventory, scan } = loadFixture(FIXTURE);
  const processes = mutate ? scan.processes.map(mutate) : scan.processes;
  return analyze({
    inventory,
    scan: { ...scan, processes },
    deep: false,
    now: new Date("2026-12-02T16:00:00Z"),
  });
}

const targetName = (f: Finding) => (f.target.kind === "volume" ? f.target.name : f.target.name);

/** "severity target resource holder", holders named by kind (and container name). */
function summary(report: ScanReport): string[] {
  return report.findings
    .map((f) => {
      const o = f.holder.owner;
      const holder =
        o.kind === "container"
          ? `container:${o.name}:${o.runtime}:${o.mainNamespace ? "main" : "other"}`
          : o.kind === "process" && o.claimedContainer
            ? "process(claimed)"
            : o.kind;
      return `${f.severity} ${targetName(f)} ${f.resource.kind} ${holder}`;
    })
    .sort();
}

describe("the leak model on Podman's layout (recorded)", () => {
  const { inventory, scan } = loadFixture(FIXTURE);
  const id = (name: string) => containerNamed(inventory, name).id;
  const holderPid = scan.processes.find(
    (p) =>
      p.comm === "sleep" &&
      p.cgroup.every((l) => !l.includes("libpod")) &&
      p.mntns !== scan.processes.find((q) => q.pid === scan.self.ppid)?.mntns,
  )?.pid;

  it("finds the stopped container's shm and the released tmpfs volume, each held by the host process, the holder container and its exec", () => {
    const report = run();
    const leaks = summary(report).filter((l) => l.startsWith("leaked"));
    assert.deepEqual(leaks, [
      "leaked dl-fixture-devvol volume container:dl-fixture-holder:podman:main",
      "leaked dl-fixture-devvol volume container:dl-fixture-holder:podman:other",
      "leaked dl-fixture-devvol volume process",
      "leaked dl-fixture-web shm container:dl-fixture-holder:podman:main",
      "leaked dl-fixture-web shm container:dl-fixture-holder:podman:other",
      "leaked dl-fixture-web shm process",
    ]);
    const web = report.findings.find(
      (f) => targetName(f) === "dl-fixture-web" && f.holder.owner.kind === "process",
    );
    assert.ok(web && web.resource.kind === "shm");
    assert.equal(
      web.resource.path,
      `/var/lib/dlt-podman/root/overlay-containers/${id("dl-fixture-web")}/userdata/shm`,
    );
    assert.deepEqual(web.holder.pids, [holderPid]);
    assert.ok(web.unmount, "a leaked copy gets an unmount order");
    // The texts speak of the engine scanned.
    for (const f of report.findings) {
      const text = `${f.cause.short} ${f.cause.full} ${f.cure.short} ${f.cure.full}`;
      assert.doesNotMatch(text, /Docker|dockerd/, text);
    }
    assert.match(web.cause.full, /Podman/);
  });

  it("reports nothing legitimate: --ipc container:, declared volumes, a container's own namespaces, the service's", () => {
    const report = run();
    const names = new Set(report.findings.map(targetName));
    for (const legit of ["dl-fixture-ipcuser", "dl-fixture-shared"]) assert.ok(!names.has(legit), legit);
    for (const f of report.findings) {
      assert.notEqual(f.resource.kind, "container-file", `${targetName(f)}: ${f.mount?.mountPoint}`);
      assert.notEqual(f.severity, "stale", `${targetName(f)}: ${f.mount?.mountPoint}`);
      const o = f.holder.owner;
      // No container is its own holder, and ipcuser never holds ipcowner's shm.
      if (o.kind === "container") assert.notEqual(o.name, targetName(f));
      if (o.kind === "container") assert.notEqual(o.name, "dl-fixture-ipcuser");
    }
    // Running containers' copies elsewhere are captured only.
    for (const f of report.findings.filter((x) => targetName(x) === "dl-fixture-ipcowner"))
      assert.equal(f.severity, "captured");
  });

  it("names the engine, the run root and the Podman service in the daemon block", () => {
    const report = run();
    assert.equal(report.daemon.engine, "podman");
    assert.equal(report.daemon.rootDir, "/var/lib/dlt-podman/root");
    assert.equal(report.daemon.execRoot, "/run/dlt-podman/run");
    assert.equal(report.daemon.foundBy, "runtime");
    const service = scan.processes.find((p) => p.pid === report.daemon.pid);
    assert.equal(service?.comm, "podman");
    assert.deepEqual(scanFilters(inventory), ["/var/lib/dlt-podman/root", "/netns/", "/run/dlt-podman/run"]);
  });

  it("an exec's conmon counts only when it sits in the container's conmon cgroup: a look-alike in a user's cgroup is a claim", () => {
    const holder = id("dl-fixture-holder");
    const execConmon = scan.processes.find(
      (p) =>
        p.comm === "conmon" &&
        p.cmdline.includes(holder) &&
        !scan.processes.some(
          (c) =>
            c.ppid === p.pid &&
            c.mntns ===
              scan.processes.find((x) => x.pid === containerNamed(inventory, "dl-fixture-holder").pid)?.mntns,
        ),
    );
    assert.ok(execConmon, "the recorded exec conmon");
    const forged = run((p) =>
      p.pid === execConmon.pid
        ? { ...p, cgroup: p.cgroup.map((l) => l.replace(/:\/.*$/, ":/user.slice/user-1000.slice")) }
        : p,
    );
    const lines = summary(forged).filter((l) => l.includes("dl-fixture-web"));
    assert.ok(lines.includes("leaked dl-fixture-web shm process(claimed)"), lines.join("\n"));
    assert.ok(
      !lines.includes("leaked dl-fixture-web shm container:dl-fixture-holder:podman:other"),
      lines.join("\n"),
    );
  });
});
