/** watch's metrics file (src/render/metrics.ts), read back by a Prometheus text-format parser from npm. */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { writeFileAtomically } from "../../src/cli/metrics-file.js";
import { analyze } from "../../src/model/analyze.js";
import type { WatchStats } from "../../src/model/watch.js";
import { renderWatchMetrics } from "../../src/render/metrics.js";
import { loadInventory, loadScan } from "./fixtures.js";

const report = analyze({
  inventory: loadInventory("shm-leaked-host"),
  scan: loadScan("shm-leaked-host"),
  now: new Date("2026-12-02T00:00:00Z"),
});

const stats: WatchStats = {
  scans: { ok: 7, failed: 2 },
  scanSecondsTotal: 3.5,
  lastScanSeconds: 0.25,
  lastSuccess: new Date("2026-12-02T10:00:00Z"),
  releases: { done: 3, failed: 1 },
  daemonReachable: true,
  findings: report.findings,
  helperRuns: 12,
  events: 400,
};

function parsed(text: string) {
  const families = parsePrometheusTextFormat(text);
  const value = (name: string, labels: Record<string, string> = {}) => {
    const f = families.find((x) => x.name === name);
    assert.ok(f, name);
    const m = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
    assert.ok(m, `${name} ${JSON.stringify(labels)}`);
    return m;
  };
  return { families, value };
}

describe("watch metrics", () => {
  it("parse as Prometheus text: findings by severity and resource, releases, scans, last success, reachability", () => {
    const { families, value } = parsed(renderWatchMetrics(stats));
    const leakedShm = report.findings.filter(
      (f) => f.severity === "leaked" && f.resource.kind === "shm",
    ).length;
    assert.ok(leakedShm > 0);
    assert.equal(
      Number(value("docker_leak_findings_by_resource", { severity: "leaked", resource: "shm" }).value),
      leakedShm,
    );
    assert.equal(
      Number(value("docker_leak_findings", { severity: "leaked" }).value),
      report.findings.filter((f) => f.severity === "leaked").length,
    );
    assert.equal(
      Number(value("docker_leak_findings", { severity: "captured" }).value),
      0,
      "every severity, 0 too",
    );
    assert.equal(value("docker_leak_releases_total", { result: "done" }).value, "3");
    assert.equal(value("docker_leak_releases_total", { result: "failed" }).value, "1");
    assert.equal(value("docker_leak_scans_total", { result: "failed" }).value, "2");
    const duration = value("docker_leak_scan_duration_seconds");
    assert.deepEqual([duration.sum, duration.count], ["3.5", "9"]);
    assert.equal(
      value("docker_leak_last_success_timestamp_seconds").value,
      String(Date.UTC(2026, 11, 2, 10) / 1000),
    );
    assert.equal(value("docker_leak_daemon_reachable").value, "1");
    for (const f of families) assert.ok(f.help && f.type, f.name);
    assert.equal(families.find((f) => f.name === "docker_leak_scans_total")?.type, "COUNTER");
  });

  it("before the first scan: zeros, unreachable", () => {
    const { value } = parsed(
      renderWatchMetrics({
        ...stats,
        scans: { ok: 0, failed: 0 },
        findings: [],
        lastSuccess: null,
        daemonReachable: false,
      }),
    );
    assert.equal(value("docker_leak_last_success_timestamp_seconds").value, "0");
    assert.equal(value("docker_leak_daemon_reachable").value, "0");
  });

  it("the file is replaced whole (a temporary file renamed into place), nothing else left in the directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "dlt-metrics-"));
    try {
      const path = join(dir, "docker-leak.prom");
      writeFileAtomically(path, "a 1\n");
      writeFileAtomically(path, renderWatchMetrics(stats));
      assert.deepEqual(readdirSync(dir), ["docker-leak.prom"]);
      assert.ok(parsed(readFileSync(path, "utf8")).families.length > 5);
      assert.throws(
        () => writeFileAtomically(join(dir, "missing", "x.prom"), "a 1\n"),
        /cannot write the metrics file .*missing\/x\.prom: its directory does not exist/,
      );
      assert.deepEqual(readdirSync(dir), ["docker-leak.prom"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
