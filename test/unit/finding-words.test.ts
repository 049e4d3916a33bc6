/**
 * A finding's cause and cure are put in words when read (explain.ts): the analysis holds no
 * sentences, and what is read (and written as JSON) is what a plain object of the same words
 * would give. The heap is read from a snapshot: what each words object refers to, and whether any
 * finding's sentence is alive in it before it is read.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { writeHeapSnapshot } from "node:v8";
import { analyze } from "../../src/model/analyze.js";
import type { ScanReport } from "../../src/model/findings.js";
import { loadFixture } from "./fixtures.js";

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface HeapNode {
  type: string;
  name: string;
  /** Named references to other nodes (properties, private fields, internal slots). */
  refs: { edge: string; name: string; to: HeapNode }[];
}

function readHeap(): HeapNode[] {
  const file = writeHeapSnapshot(join(tmpdir(), `dlt-words-${process.pid}.heapsnapshot`));
  try {
    const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
    const { node_fields: nf, node_types, edge_fields: ef, edge_types } = snap.snapshot.meta;
    const at = (f: string) => nf.indexOf(f);
    const [typeAt, nameAt, edgesAt] = [at("type"), at("name"), at("edge_count")];
    const nodes: HeapNode[] = [];
    for (let i = 0; i < snap.nodes.length; i += nf.length) {
      nodes.push({
        type: node_types[0][snap.nodes[i + typeAt] as number] as string,
        name: snap.strings[snap.nodes[i + nameAt] as number] as string,
        refs: [],
      });
    }
    let e = 0;
    for (let n = 0; n < nodes.length; n++) {
      const count = snap.nodes[n * nf.length + edgesAt] as number;
      for (let k = 0; k < count; k++, e += ef.length) {
        const edge = edge_types[0][snap.edges[e] as number] as string;
        const nameOrIndex = snap.edges[e + 1] as number;
        const name =
          edge === "element" || edge === "hidden"
            ? String(nameOrIndex)
            : (snap.strings[nameOrIndex] as string);
        const to = nodes[(snap.edges[e + 2] as number) / nf.length] as HeapNode;
        (nodes[n] as HeapNode).refs.push({ edge, name, to });
      }
    }
    return nodes;
  } finally {
    rmSync(file, { force: true });
  }
}

/** ExplainContext's fields: what a finding's words are made from. */
const CONTEXT = [
  "severity",
  "target",
  "resource",
  "holder",
  "mount",
  "pinned",
  "daemon",
  "sharedBinders",
  "facts",
];

function report(): ScanReport {
  const { inventory, scan } = loadFixture("shm-leaked-host");
  return analyze({ inventory, scan, now: new Date("2026-11-27T16:30:00Z") });
}

describe("a finding's words", () => {
  it("are not held by the analysis: its cause and cure refer to the finding's facts only", {
    timeout: 60_000,
  }, () => {
    const r = report();
    assert.ok(r.findings.length > 0);
    const heap = readHeap();
    const words = heap.filter(
      (n) => n.type === "object" && (n.name === "CauseWords" || n.name === "CureWords"),
    );
    assert.ok(words.length >= 2 * r.findings.length, `${words.length} words objects`);
    const props = (n: HeapNode) =>
      n.refs
        .filter((ref) => ref.edge === "property" && ref.name !== "__proto__")
        .map((ref) => ref.name.replace(/^\\/, ""));
    for (const w of words) {
      assert.deepEqual(props(w), ["#ctx"], `${w.name} refers to more than its finding's context`);
      const ctx = w.refs.find((ref) => ref.name.endsWith("#ctx"))?.to as HeapNode;
      assert.deepEqual(
        props(ctx).sort(),
        [...CONTEXT].sort(),
        "the context is the finding's facts, no words",
      );
    }
    // Read only now, after the snapshot: no string of the heap was any of these.
    const texts = new Set(r.findings.flatMap((f) => [f.cause.full, f.cure.full]));
    const alive = heap.filter((n) => n.type === "string" && texts.has(n.name));
    assert.deepEqual(
      alive.map((n) => n.name.slice(0, 80)),
      [],
    );
  });

  it("read and written as JSON, are a plain object's of the same words, in the same order", () => {
    for (const f of report().findings) {
      const json = JSON.parse(JSON.stringify(f)) as Record<string, Record<string, unknown>>;
      assert.deepEqual(json.cause, {
        short: f.cause.short,
        full: f.cause.full,
        facts: JSON.parse(JSON.stringify(f.cause.facts)),
      });
      assert.deepEqual(Object.keys(json.cause ?? {}), ["short", "full", "facts"]);
      assert.deepEqual(json.cure, { short: f.cure.short, full: f.cure.full, immediate: f.cure.immediate });
      assert.deepEqual(Object.keys(json.cure ?? {}), ["short", "full", "immediate"]);
      assert.ok(f.cause.full.length > f.cause.short.length && f.cure.full.length > 0);
      // The same words on every read.
      assert.equal(f.cause.full, f.cause.full);
      assert.equal(JSON.stringify(f), JSON.stringify(f));
    }
  });
});
