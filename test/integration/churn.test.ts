/**
 * The helper under churn: while scans run, processes in private mount namespaces start and exit
 * and tmpfs mounts come and go. Every scan completes with a complete, consistent record set, and
 * an unmount order whose mount changed since the scan is refused, not applied to something else.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  collectScan,
  decodeRecord,
  formatUnmountOrder,
  type HelperRecord,
  mountLineFingerprint,
} from "../../src/helper/protocol.js";
import { hostMountinfoLines, mntnsOf, orderMember, requireDaemon, uniqueName } from "../support/daemon.js";
import { type HelperHarness, helperHarness, runVerb } from "../support/helper.js";

const dir = `/tmp/${uniqueName("churn")}`;
let h: HelperHarness;
let churn: ChildProcess | undefined;

describe("the helper under churn", () => {
  before(async () => {
    requireDaemon();
    h = await helperHarness();
    mkdirSync(dir, { recursive: true });
    // Processes that make private namespaces, mount a tmpfs, and exit; in a tight loop.
    const script = `
      i=0
      while :; do
        i=$((i+1))
        unshare -m --propagation private sh -c "mkdir -p ${dir}/m$i && mount -t tmpfs dlt-churn ${dir}/m$i && sleep 0.0$((i % 9 + 1)); umount ${dir}/m$i" &
        mkdir -p ${dir}/h$i; mount -t tmpfs dlt-churn-host ${dir}/h$i; umount ${dir}/h$i; rmdir ${dir}/h$i
        sleep 0.01
        [ $((i % 20)) -eq 0 ] && wait
      done`;
    churn = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  });
  after(() => {
    if (churn?.pid) {
      try {
        process.kill(-churn.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    spawnSync("sh", [
      "-c",
      `sleep 0.3; for m in $(awk '$5 ~ "^${dir}/" {print $5}' /proc/self/mountinfo); do umount -l "$m"; done`,
    ]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("scans complete and stay consistent while processes and mounts come and go", async () => {
    let churnSeen = 0;
    for (let round = 0; round < 8; round++) {
      const records: HelperRecord[] = [];
      const out = await runVerb(h, "scan", ["--filter", dir, ...(round % 2 ? ["--deep"] : [])]);
      assert.equal(out.exitCode, 0, out.stderr);
      for (const [i, r] of out.records.entries()) records.push(decodeRecord(JSON.stringify(r), i + 1));
      const scan = collectScan(records); // throws if counts disagree or the output was cut off
      churnSeen += scan.namespaces.filter((ns) => ns.mountinfo?.some((l) => l.includes("dlt-churn"))).length;
      const pids = new Set(scan.processes.map((p) => p.pid));
      for (const ns of scan.namespaces) {
        assert.ok(ns.pids.length > 0);
        for (const pid of ns.pids) assert.ok(pids.has(pid), `namespace member ${pid} has a process record`);
      }
      for (const p of scan.processes) {
        assert.ok(
          scan.namespaces.some((ns) => ns.mntns === p.mntns),
          `process ${p.pid}'s namespace is reported`,
        );
      }
    }
    assert.ok(churnSeen > 0, "the scans did run while churn mounts existed");
  });

  it("an order for a mount that changed since the scan is refused", async () => {
    // A mount in our namespace, replaced by another at the same path after we took its ID.
    const path = `${dir}/swap`;
    mkdirSync(path, { recursive: true });
    spawnSync("mount", ["-t", "tmpfs", "dlt-first", path]);
    const first = hostMountinfoLines(" dlt-first ").find((l) => l.pid === process.pid);
    assert.ok(first);
    const oldId = Number(first.line.split(" ")[0]);
    spawnSync("umount", [path]);
    spawnSync("mount", ["-t", "tmpfs", "dlt-second", path]);
    try {
      // The kernel may give the new mount the old one's ID: the line's fingerprint tells them apart.
      const order = formatUnmountOrder({
        namespace: mntnsOf(process.pid),
        members: [orderMember(process.pid)],
        mountId: oldId,
        mountPoint: path,
        fingerprint: mountLineFingerprint(first.line),
      });
      const out = await runVerb(h, "umount", [order]);
      const result = out.records.find((r) => r.type === "result");
      assert.equal(result?.ok, false, JSON.stringify(result));
      assert.equal(result?.stage, "check");
      assert.equal(result?.errno, "ESTALE");
      assert.ok(
        hostMountinfoLines(" dlt-second ").some((l) => l.pid === process.pid),
        "the new mount is untouched",
      );
    } finally {
      spawnSync("umount", [path]);
    }
  });
});
