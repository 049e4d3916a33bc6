import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeChalk } from "../../src/cli/color.js";
import { analyze } from "../../src/model/analyze.js";
import {
  exitCodeOf,
  renderQuiet,
  renderScanJson,
  renderScanTable,
  SCAN_SCHEMA_VERSION,
  scanSummary,
  scanView,
} from "../../src/render/scan.js";
import { truncateMiddle } from "../../src/render/table.js";
import { loadFixture } from "./fixtures.js";

const plain = makeChalk(0);

function viewOf(name: string) {
  const { inventory, scan } = loadFixture(name);
  return scanView(analyze({ inventory, scan, now: new Date("2026-11-27T00:00:00Z") }));
}

describe("scan renderings (table, JSON, quiet) of one view", () => {
  for (const name of ["shm-leaked-host", "shm-leaked-container", "volume-leaked", "shm-captured"]) {
    it(`${name}: the three renderings agree`, () => {
      const view = viewOf(name);
      assert.ok(view.findings.length > 0, "the fixture has findings");
      const json = JSON.parse([...renderScanJson(view)].join(""));
      assert.equal(json.schemaVersion, SCAN_SCHEMA_VERSION);
      assert.equal(json.findings.length, view.findings.length);
      assert.equal(json.leaks, exitCodeOf(view) === 3);
      const table = renderScanTable(view, { noTrunc: false, color: plain }).trimEnd().split("\n");
      assert.match(table[0]!, /^TARGET\s+STATE\s+MOUNT\s+SEVERITY\s+HOLDER\s+PIDS\s+NAMESPACE\s+CAUSE$/);
      assert.equal(table.length - 1, view.findings.length, "one row per finding");
      const targets = new Set(
        json.findings.map((f: { target: { kind: string; id?: string; name: string } }) =>
          f.target.kind === "volume" ? f.target.name : f.target.id,
        ),
      );
      const quiet = renderQuiet(view, true).trimEnd().split("\n");
      assert.deepEqual(new Set(quiet), targets, "-q --no-trunc lists each affected target once, full IDs");
      for (const id of renderQuiet(view, false).trimEnd().split("\n")) assert.ok(id.length <= 64);
      for (const f of json.findings) {
        if (f.target.kind === "container") assert.match(f.target.id, /^[0-9a-f]{64}$/);
        assert.ok(Array.isArray(f.holder.pids) && f.holder.pids.length > 0);
        assert.equal(typeof f.cause.full, "string");
      }
    });
  }

  it("--no-trunc shows full IDs and mount points; the default truncates like docker ps", () => {
    const view = viewOf("shm-leaked-host");
    const f = view.findings[0]!;
    assert.equal(f.target.kind, "container");
    const full = renderScanTable(view, { noTrunc: true, color: plain });
    const short = renderScanTable(view, { noTrunc: false, color: plain });
    if (f.target.kind === "container") {
      assert.ok(full.includes(f.target.id));
      assert.ok(!short.includes(f.target.id) && short.includes(f.target.id.slice(0, 12)));
    }
    assert.ok(full.includes(f.mount!.mountPoint));
  });

  it("captured-only results exit 0 but are shown", () => {
    const view = viewOf("shm-captured");
    assert.ok(view.findings.every((f) => f.severity === "captured"));
    assert.equal(exitCodeOf(view), 0);
    assert.match(scanSummary(view, plain), /captured/);
  });

  it("the summary counts what was scanned", () => {
    assert.match(
      scanSummary(viewOf("shm-leaked-host"), plain),
      /^\d+ leaked across 1 target \(\d+ processes in \d+ mount namespaces scanned/,
    );
  });

  it("truncateMiddle keeps both ends", () => {
    assert.equal(truncateMiddle("/var/lib/docker/containers/abc/mounts/shm", 20), "/var/li…c/mounts/shm");
    assert.equal(truncateMiddle("short", 20), "short");
  });
});
