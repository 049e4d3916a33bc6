/**
 * The watch workflow (src/core/watch.ts) without root or a daemon: a fake daemon
 * (test/support/fake-docker.ts) replays a recorded host, answers the helper's verbs from it, and
 * feeds the event stream the test writes (stops, removals, a broken connection).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CoreDeps } from "../../src/core/deps.js";
import {
  runWatch,
  type WatchOptions,
  type WatchRecord,
  type WatchStats,
  type WatchStatus,
} from "../../src/core/watch.js";
import { LABEL_HELPER } from "../../src/docker/helper-image.js";
import type { FakeDocker } from "../support/fake-docker.js";
import { fakeHelper, fixtureText } from "./fixtures.js";

const helper = fakeHelper();
const fake = helper.docker;

/** The namespace holding dl-fixture-shm's shm copy (not the daemon's, not the recorder's). */
function holderNamespace(fixture: string): number {
  const scan = fixtureText(fixture, "scan.ndjson")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const self = scan.find((r) => r.type === "self");
  const daemonNs = scan.find((r) => r.type === "process" && r.pid === self.ppid).mntns;
  return scan.find(
    (r) =>
      r.type === "namespace" &&
      r.mntns !== daemonNs &&
      r.mntns !== self.mntns &&
      r.mountinfo?.some((l: string) => l.includes("/mounts/shm")),
  ).mntns;
}

interface Watching {
  records: WatchRecord[];
  statuses: WatchStatus[];
  stats: WatchStats[];
  stop(): Promise<void>;
  done: Promise<void>;
}

function watch(d: FakeDocker, over: Partial<WatchOptions> = {}): Watching {
  const controller = new AbortController();
  const deps: CoreDeps = {
    docker: d,
    helperDir: helper.dir,
    version: "0.1.0",
    signal: controller.signal,
  };
  const w: Omit<Watching, "done" | "stop"> = { records: [], statuses: [], stats: [] };
  const done = runWatch(
    deps,
    {
      intervalMs: 0,
      release: false,
      dryRun: false,
      debounceMs: 20,
      maxDelayMs: 200,
      backoffMs: { first: 10, max: 40 },
      ...over,
    },
    { record: (r) => w.records.push(r), status: (s) => w.statuses.push(s), scanned: (s) => w.stats.push(s) },
  );
  return {
    ...w,
    done,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

/** Polls until `ok()` (a generous bound, so that a slow machine does not fail it; not a timing test). */
async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

const scans = (d: FakeDocker) => d.calls.filter((c) => c === "create scan").length;
const kinds = (w: Watching) => w.records.map((r) => r.kind);

describe("watch", () => {
  it("reports what it finds at the start once, and a finding's release when its holder goes", async () => {
    const d = fake("shm-leaked-host");
    const cid = d.containerIds()[0]!;
    const w = watch(d);
    await until(() => w.stats.length === 1, "the first scan");
    assert.deepEqual(kinds(w), ["finding"]);
    const [first] = w.records;
    assert.ok(first?.kind === "finding");
    assert.equal(first.finding.severity, "leaked");
    assert.equal(first.finding.resource.kind, "shm");
    assert.deepEqual([first.cause.type, first.cause.action], ["watch", "start"]);
    assert.ok(w.statuses.some((s) => s.kind === "connected" && !s.again));

    // Stopped again: scanned, nothing new.
    d.emit("container", "stop", cid, { name: "dl-fixture-shm" });
    await until(() => w.stats.length === 2, "a scan after the stop");
    assert.deepEqual(kinds(w), ["finding"]);

    // The holder exits, the container is removed: released, credited to the removal.
    d.dropNamespace(holderNamespace("shm-leaked-host"));
    d.emit("container", "destroy", cid, { name: "dl-fixture-shm" });
    await until(() => w.records.length === 2, "the released line");
    const released = w.records[1];
    assert.ok(released?.kind === "released");
    assert.deepEqual(
      [released.cause?.type, released.cause?.action, released.cause?.name],
      ["container", "destroy", "dl-fixture-shm"],
    );
    await w.stop();
    assert.equal(d.eventSubscribers, 0, "the event stream is closed");
  });

  it("a finding is new again when its severity changes (captured, then leaked at the stop)", async () => {
    const d = fake("shm-captured");
    const cid = d.containerIds()[0]!;
    const w = watch(d);
    await until(() => w.stats.length === 1, "the first scan");
    const severities = () =>
      w.records
        .filter((r) => r.kind === "finding")
        .map((r) => (r.kind === "finding" ? r.finding.severity : ""));
    assert.ok(severities().length > 0 && severities().every((s) => s === "captured"), severities().join());
    const before = w.records.length;
    d.setStatus(cid, "exited");
    d.emit("container", "die", cid, { name: "dl-fixture-shm" });
    await until(() => w.stats.length === 2, "a scan after the die");
    const captured = new Set(
      w.records.slice(0, before).map((r) => (r.kind === "finding" ? r.finding.holder.namespace : 0)),
    );
    const now = w.records.slice(before);
    for (const r of now) {
      assert.ok(r.kind === "finding", r.kind);
      assert.equal(r.cause?.action, "die");
    }
    // (The recorded daemon still has the container's own mounts: those are new, stale findings.)
    assert.ok(
      now.some(
        (r) =>
          r.kind === "finding" && r.finding.severity === "leaked" && captured.has(r.finding.holder.namespace),
      ),
      "the holder's copy is now leaked",
    );
    await w.stop();
  });

  it("a burst of events is scanned in a few helper runs; the helper's own events start none", async () => {
    const d = fake("shm-leaked-host");
    const w = watch(d, { debounceMs: 50, maxDelayMs: 400 });
    await until(() => w.stats.length === 1, "the first scan");
    // 200 stops arriving over a while (10 every 5 ms), as a `docker stop` of many does.
    for (let i = 0; i < 200; i++) {
      d.emit("container", "stop", `${i}`.padStart(64, "a"), { name: `c${i}` });
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => !w.stats.at(-1) || w.stats.length >= 2, "the burst's scan");
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(scans(d) <= 3, `${scans(d)} scans for 200 stops`);
    const before = scans(d);
    for (let i = 0; i < 20; i++) d.emit("container", "die", `h${i}`.padEnd(64, "0"), { [LABEL_HELPER]: "1" });
    d.emit("container", "start", "b".repeat(64));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(scans(d), before, "helper and start events are not reasons to scan");
    assert.ok((w.stats.at(-1)?.events ?? 0) >= 200);
    await w.stop();
  });

  it("follows the stream again when it breaks (with backoff) and scans everything once", async () => {
    const d = fake("shm-leaked-host");
    d.refuseEvents = 2; // the daemon is not there at first
    const w = watch(d);
    await until(() => w.stats.length === 1, "the first scan");
    assert.equal(w.statuses.filter((s) => s.kind === "disconnected").length, 2);
    d.breakEvents();
    await until(() => w.stats.length === 2, "the scan after reconnecting");
    assert.ok(w.statuses.some((s) => s.kind === "connected" && s.again));
    assert.equal(d.calls.filter((c) => c === "events").length, 4);
    assert.deepEqual(kinds(w), ["finding"], "nothing new: the same finding is not repeated");
    assert.equal(w.stats.at(-1)?.daemonReachable, true);
    await w.stop();
  });

  it("a failed scan is reported and retried", async () => {
    const d = fake("shm-leaked-host");
    d.failScans = 1;
    const w = watch(d);
    await until(() => w.records.some((r) => r.kind === "finding"), "the finding, after the retry");
    assert.equal(w.records[0]?.kind, "error");
    assert.match(w.records[0]?.kind === "error" ? w.records[0].message : "", /scan/);
    assert.deepEqual(w.stats.at(-1)?.scans, { ok: 1, failed: 1 });
    await w.stop();
  });

  it("--interval scans everything again", async () => {
    const d = fake("shm-leaked-host");
    const w = watch(d, { intervalMs: 30 });
    await until(() => scans(d) >= 3, "periodic scans");
    await w.stop();
  });

  it("stops at once when interrupted, also in the middle of a scan, with no helper left", async () => {
    const d = fake("shm-leaked-host");
    const w = watch(d);
    await until(() => d.calls.includes("create scan"), "a scan started");
    await w.stop();
    assert.equal((await d.listContainers({ label: [LABEL_HELPER] })).length, 0);
    assert.equal(d.eventSubscribers, 0);
  });

  it("--release releases a leaked copy at once through an unmount order, and logs it", async () => {
    const d = fake("shm-leaked-host");
    const ns = holderNamespace("shm-leaked-host");
    const shmMounts = () => d.mountIds(ns).length;
    const before = shmMounts();
    const w = watch(d, { release: true });
    await until(() => w.records.some((r) => r.kind === "released"), "the release");
    assert.deepEqual(kinds(w), ["finding", "release", "released"]);
    const action = w.records[1];
    assert.ok(action?.kind === "release");
    assert.deepEqual(action.action, { result: "released", message: null });
    assert.equal(action.finding.resource.kind, "shm");
    assert.equal(shmMounts(), before - 1, "exactly one mount went, in the holder's namespace");
    assert.deepEqual(
      d.calls.filter((c) => c.startsWith("umount") || c.startsWith("remove") || c.startsWith("stop")),
      ["umount 1"],
      "nothing stopped or removed",
    );
    assert.deepEqual(w.stats.at(-1)?.releases, { done: 1, failed: 0 });
    await w.stop();
  });

  it("--release --dry-run says what it would release and changes nothing", async () => {
    const d = fake("shm-leaked-host");
    const w = watch(d, { release: true, dryRun: true });
    await until(() => w.stats.length === 1, "the first scan");
    assert.deepEqual(kinds(w), ["finding", "release"]);
    const action = w.records[1];
    assert.ok(action?.kind === "release" && action.action.result === "dry-run");
    assert.ok(!d.calls.some((c) => c.startsWith("umount")));
    await w.stop();
  });

  it("--release never touches a running container's captured copies", async () => {
    const d = fake("shm-captured");
    const w = watch(d, { release: true });
    await until(() => w.stats.length === 1, "the first scan");
    assert.ok(w.records.length > 0 && w.records.every((r) => r.kind === "finding"));
    assert.ok(!d.calls.some((c) => c.startsWith("umount")));
    await w.stop();
  });

  it("--release: a failed order is logged with why, and not tried again while the finding lasts", async () => {
    const d = fake("shm-leaked-host");
    const ns = holderNamespace("shm-leaked-host");
    for (const id of d.mountIds(ns))
      d.umountFailures.set(id, {
        stage: "umount",
        errno: "EINVAL",
        message: "Invalid argument",
        locked: true,
      });
    const w = watch(d, { release: true });
    await until(() => w.records.some((r) => r.kind === "release"), "the release");
    const action = w.records.find((r) => r.kind === "release");
    assert.ok(action?.kind === "release" && action.action.result === "failed");
    assert.match(action.action.message ?? "", /locked mount/);
    d.emit("container", "stop", d.containerIds()[0]!);
    await until(() => w.stats.length === 2, "the next scan");
    assert.equal(d.calls.filter((c) => c.startsWith("umount")).length, 1);
    assert.deepEqual(w.stats.at(-1)?.releases, { done: 0, failed: 1 });
    await w.stop();
  });

  it("--release releases an unused volume's leaked copy too, and never a stale mount of the daemon's own", async () => {
    for (const fixture of ["volume-leaked", "volume-stale"]) {
      const d = fake(fixture);
      const w = watch(d, { release: true });
      await until(() => w.stats.length === 1, `${fixture}: the first scan`);
      const findings = w.records.filter((r) => r.kind === "finding");
      const releases = w.records.filter((r) => r.kind === "release");
      const leaked = findings.filter((r) => r.kind === "finding" && r.finding.severity === "leaked");
      assert.ok(findings.length > 0, fixture);
      assert.equal(releases.length, leaked.length, `${fixture}: one release per leaked copy, none else`);
      for (const r of releases) assert.ok(r.kind === "release" && r.finding.target.kind === "volume");
      await w.stop();
    }
  });
});
