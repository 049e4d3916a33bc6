/**
 * A finding's texts are held as flat strings, not as V8 ropes of their template literals' parts
 * (explain.ts, `flat`): the analysis of a large host carries thousands of them through its
 * garbage collections. V8 has no predicate for it, so the test reads a heap snapshot, in which a
 * flat string is a "string" node named by its text and a rope a "concatenated string" node.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { writeHeapSnapshot } from "node:v8";
import { analyze } from "../../src/model/analyze.js";
import { loadFixture } from "./fixtures.js";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** The texts of `wanted` that the heap holds as flat strings. */
function heldFlat(wanted: readonly string[]): Set<string> {
  const file = writeHeapSnapshot(join(tmpdir(), `dlt-flat-${process.pid}.heapsnapshot`));
  try {
    const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
    const fields = snap.snapshot.meta.node_fields;
    const types = snap.snapshot.meta.node_types[0];
    const typeAt = fields.indexOf("type");
    const nameAt = fields.indexOf("name");
    const want = new Set(wanted);
    const flat = new Set<string>();
    for (let i = 0; i < snap.nodes.length; i += fields.length) {
      if (types[snap.nodes[i + typeAt] as number] !== "string") continue;
      const name = snap.strings[snap.nodes[i + nameAt] as number] as string;
      if (want.has(name)) flat.add(name);
    }
    return flat;
  } finally {
    rmSync(file, { force: true });
  }
}

describe("finding texts", () => {
  it("are held flat, each one string", { timeout: 60_000 }, () => {
    const { inventory, scan } = loadFixture("shm-leaked-host");
    const report = analyze({ inventory, scan, now: new Date("2026-11-27T16:30:00Z") });
    assert.ok(report.findings.length > 0);
    // Long texts only: V8 makes a short concatenation flat by itself.
    const texts = report.findings
      .flatMap((f) => [f.cause.full, f.cure.full, f.cause.short, f.cure.short])
      .filter((t) => t.length >= 64);
    assert.ok(texts.length >= report.findings.length, "each finding has long texts");
    const flat = heldFlat(texts);
    const ropes = texts.filter((t) => !flat.has(t));
    assert.deepEqual(ropes, []);
    // The report lives until here, as a scan's does until it is written.
    assert.ok(report.findings.length > 0);
  });
});
