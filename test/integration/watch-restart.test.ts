/**
 * `docker leak watch` across a restart of the private test daemon: the event stream is lost, it
 * is followed again (with backoff) once the daemon is back, and everything is scanned once.
 * Restarts the shared private daemon: run it only while holding /tmp/dlt-daemon.lock (as every
 * integration test is run), and it starts the daemon again whatever happens.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { pluginAsync, REPO_ROOT, requireDaemon } from "../support/daemon.js";
import { helperContainers } from "../support/helper.js";

const testDaemon = (verb: string) => {
  const r = spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), [verb], {
    encoding: "utf8",
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `test-daemon.sh ${verb}: ${r.stderr}`);
};

function metric(path: string, name: string, labels: Record<string, string> = {}): number {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return Number.NaN;
  }
  const family = parsePrometheusTextFormat(text).find((f) => f.name === name);
  const m = family?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return Number(m?.value);
}

async function until(ok: () => boolean, what: string, seconds = 120): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`never: ${what}`);
}

describe("docker leak watch across a daemon restart", () => {
  let dir: string;
  before(() => {
    requireDaemon();
    dir = mkdtempSync(join(tmpdir(), "dlt-watch-restart-"));
  });
  after(() => {
    testDaemon("start"); // whatever happened: the daemon is back for the others
    rmSync(dir, { recursive: true, force: true });
  });

  it("loses the stream, follows it again once the daemon is back, and scans everything once", async () => {
    const metrics = join(dir, "m.prom");
    const child = pluginAsync(["watch", "--format", "json", "--metrics-file", metrics]);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await until(() => metric(metrics, "docker_leak_scans_total", { result: "ok" }) >= 1, "the first scan");
      assert.equal(metric(metrics, "docker_leak_daemon_reachable"), 1);
      testDaemon("stop");
      await until(() => /lost the daemon's events/.test(stderr), "the stream lost");
      testDaemon("start");
      await until(
        () =>
          /following the daemon's events again/.test(stderr) &&
          metric(metrics, "docker_leak_scans_total", { result: "ok" }) >= 2,
        `the rescan after reconnecting (stderr: ${stderr})`,
      );
      assert.equal(metric(metrics, "docker_leak_daemon_reachable"), 1);
    } finally {
      child.kill("SIGINT");
    }
    assert.equal(await exited, 130, stderr);
    assert.deepEqual(helperContainers(), []);
  });
});
