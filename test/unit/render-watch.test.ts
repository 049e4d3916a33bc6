/** watch's lines (src/render/watch.ts): one per record, escaped; JSON lines with the documented keys. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Chalk } from "chalk";
import { analyze } from "../../src/model/analyze.js";
import type { WatchCause, WatchRecord } from "../../src/model/watch.js";
import { causeLabel, renderWatchJson, renderWatchLine } from "../../src/render/watch.js";
import { loadInventory, loadScan } from "./fixtures.js";

const color = new Chalk({ level: 0 });
const report = analyze({
  inventory: loadInventory("shm-leaked-host"),
  scan: loadScan("shm-leaked-host"),
  now: new Date("2026-12-02T00:00:00Z"),
});
const finding = report.findings.find((f) => f.resource.kind === "shm")!;
const time = new Date("2026-12-02T10:00:00Z");
const stop: WatchCause = {
  type: "container",
  action: "stop",
  id: finding.target.kind === "container" ? finding.target.id : "",
  name: "web\x1b[31m",
  time,
};

describe("watch lines", () => {
  it("a finding: time, severity, target, mount, holder, the event; hostile bytes escaped", () => {
    const line = renderWatchLine({ kind: "finding", time, cause: stop, finding }, { color });
    assert.match(
      line,
      /^2026-12-02T10:00:00.000Z leaked container dl-fixture-shm \(57787d9d8a24\): shm at \S+\/mounts\/shm held by PID \d+ \(sleep\) in mnt:\[\d+\] \(after container stop web\\x1b\[31m\)\n$/,
    );
    assert.equal(line.split("\n").length, 2);
  });

  it("released, release results and errors", () => {
    const lines: WatchRecord[] = [
      { kind: "released", time, cause: stop, finding },
      { kind: "release", time, cause: stop, finding, action: { result: "failed", message: "EINVAL" } },
      { kind: "error", time, cause: null, message: "Cannot connect\nto the daemon" },
    ];
    const out = lines.map((r) => renderWatchLine(r, { color }));
    assert.match(out[0]!, / released container dl-fixture-shm .* no longer held by PID \d+/);
    assert.match(out[1]!, / release failed container dl-fixture-shm .*: EINVAL\n$/);
    assert.equal(out[2], "2026-12-02T10:00:00.000Z error Cannot connect\\nto the daemon\n");
  });

  it("JSON: one object per line with time, event and finding|released|release|error", () => {
    const parsed = (r: WatchRecord) => {
      const text = renderWatchJson(r);
      assert.ok(text.endsWith("\n") && !text.slice(0, -1).includes("\n"));
      return JSON.parse(text);
    };
    const f = parsed({ kind: "finding", time, cause: stop, finding });
    assert.deepEqual(Object.keys(f), ["time", "event", "finding"]);
    assert.equal(f.event.name, "web\x1b[31m", "exact in JSON");
    assert.equal(f.finding.target.id, stop.id);
    assert.deepEqual(Object.keys(parsed({ kind: "released", time, cause: stop, finding })), [
      "time",
      "event",
      "released",
    ]);
    assert.deepEqual(parsed({ kind: "error", time, cause: null, message: "x" }), {
      time: time.toISOString(),
      event: null,
      error: "x",
    });
  });

  it("names the event as docker events would", () => {
    assert.equal(
      causeLabel({ type: "watch", action: "interval", id: null, name: null, time }),
      "watch interval",
    );
    assert.equal(
      causeLabel({ type: "volume", action: "unmount", id: "data", name: null, time }),
      "volume unmount data",
    );
    assert.equal(causeLabel({ ...stop, name: null }), `container stop ${stop.id?.slice(0, 12)}`);
  });
});
