/**
 * src/cli/heap.ts: the young generation held at its first size during a run, and the V8 flags set
 * back before the code cache is written (else V8 rejects that cache on the next run).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const HEAP = fileURLToPath(new URL("../../src/cli/heap.ts", import.meta.url));
const CODE_CACHE = fileURLToPath(new URL("../../src/cli/code-cache.ts", import.meta.url));

/** Runs `body` (an ES module with `hold` = holdYoungGeneration) in a Node process of its own. */
function child(body: string): { out: string; err: string } {
  const script = `const { holdYoungGeneration: hold } = await import(${JSON.stringify(HEAP)});\n${body}`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return { out: r.stdout.trim(), err: r.stderr };
}

/** A scan-like load: many short-lived objects with a window of them alive; new space's size after. */
const CHURN = `
  const v8 = await import("node:v8");
  const ring = new Array(20000);
  for (let i = 0; i < 2_000_000; i++) ring[i % ring.length] = { i, s: "line " + i, a: [i, i + 1] };
  const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  process.stdout.write(JSON.stringify({ held: young.held, mib: ns.space_size / 1048576 }));`;

describe("holdYoungGeneration", () => {
  it("keeps the young generation at its first size under a scan-like load, silently", () => {
    const held = child(`const young = hold();${CHURN}`);
    const grown = child(`const young = { held: false };${CHURN}`);
    const h = JSON.parse(held.out) as { held: boolean; mib: number };
    const g = JSON.parse(grown.out) as { held: boolean; mib: number };
    assert.equal(h.held, true);
    assert.ok(h.mib <= 4, `held: ${h.mib} MiB`);
    assert.ok(g.mib >= 16, `default growth: ${g.mib} MiB (the load must make it grow)`);
    assert.equal(held.err, "", "V8 says nothing about the flag");
  });

  it("after release, the default growth is back", () => {
    const r = JSON.parse(child(`const young = hold(); young.release(); young.release();${CHURN}`).out);
    assert.equal(r.held, false);
    assert.ok(r.mib >= 16, `${r.mib} MiB`);
  });

  it("leaves a Node whose V8 it does not know as it is", () => {
    const r = JSON.parse(child(`const young = hold("18.19.0");${CHURN}`).out);
    assert.equal(r.held, false);
    assert.ok(r.mib >= 16, `${r.mib} MiB`);
  });
});

describe("the code cache across a run that holds the young generation", () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "dlt-unit-heap-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Loads `file` with its cache as bin.ts does: hold after the load; release (or not) before save. */
  const run = (file: string, cache: string, release: boolean) =>
    child(`
      const { requireWithCodeCache } = await import(${JSON.stringify(CODE_CACHE)});
      const loaded = requireWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(cache)});
      const young = hold();
      if (loaded.exports.answer() !== 42) throw new Error("wrong answer");
      if (${release}) young.release();
      loaded.save();
      process.stdout.write(loaded.state);`).out;

  for (const release of [true, false]) {
    it(
      release
        ? "released before the save: the next run uses the cache"
        : "not released: V8 rejects it (why release exists)",
      () => {
        const dir = join(tmp, String(release));
        mkdirSync(dir);
        const file = join(dir, "main.cjs");
        writeFileSync(file, `"use strict";\nmodule.exports.answer = () => 42;\n`);
        const cache = join(dir, "code");
        assert.equal(run(file, cache, release), "miss");
        assert.equal(run(file, cache, release), release ? "hit" : "rejected");
      },
    );
  }
});
