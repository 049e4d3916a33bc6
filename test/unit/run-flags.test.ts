/**
 * src/cli/run-flags.ts: V8 flags held for one run (the young generation at its first size), each
 * one's effect seen in a process of its own, the defaults it sets back equal to V8's, and the code
 * cache still accepted after release.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { HELD_FLAGS } from "../../src/cli/run-flags.js";

const RUN_FLAGS = fileURLToPath(new URL("../../src/cli/run-flags.ts", import.meta.url));
const CODE_CACHE = fileURLToPath(new URL("../../src/cli/code-cache.ts", import.meta.url));
const MAJOR = Number(process.versions.node.split(".")[0]);
const heldHere = (name: string) => (HELD_FLAGS[MAJOR] ?? []).some((f) => f.name === name);

/** Runs `body` (an ES module with `hold` = holdRunFlags) in a Node process of its own. */
function child(body: string, nodeFlags: string[] = []): { out: string; err: string } {
  const script = `const { holdRunFlags: hold } = await import(${JSON.stringify(RUN_FLAGS)});\n${body}`;
  const r = spawnSync(
    process.execPath,
    [...nodeFlags, "--import", "tsx", "--input-type=module", "-e", script],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return { out: r.stdout.trim(), err: r.stderr };
}

/** A scan-like load: many short-lived objects with a window of them alive; new space's size after. */
const CHURN = `
  const v8 = await import("node:v8");
  const ring = new Array(20000);
  for (let i = 0; i < 2_000_000; i++) ring[i % ring.length] = { i, s: "line " + i, a: [i, i + 1] };
  const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  process.stdout.write(JSON.stringify({ held: flags.held.map((f) => f.name), mib: ns.space_size / 1048576 }));`;

describe("holdRunFlags", () => {
  it("keeps the young generation at its first size under a scan-like load, silently", {
    skip: !heldHere("semi-space-growth-factor"),
  }, () => {
    const held = child(`const flags = hold();${CHURN}`);
    const grown = child(`const flags = { held: [] };${CHURN}`);
    const h = JSON.parse(held.out) as { held: string[]; mib: number };
    const g = JSON.parse(grown.out) as { mib: number };
    assert.ok(h.held.includes("semi-space-growth-factor"));
    assert.ok(h.mib <= 4, `held: ${h.mib} MiB`);
    assert.ok(g.mib >= 16, `default growth: ${g.mib} MiB (the load must make it grow)`);
    assert.equal(held.err, "", "V8 says nothing about the flags");
  });

  it("after release, the default growth is back", () => {
    const r = JSON.parse(child(`const flags = hold(); flags.release(); flags.release();${CHURN}`).out);
    assert.deepEqual(r.held, []);
    assert.ok(r.mib >= 16, `${r.mib} MiB`);
  });

  it("sets back exactly V8's defaults (as `node --v8-options` prints them)", {
    skip: !HELD_FLAGS[MAJOR],
  }, () => {
    const options = execFileSync(process.execPath, ["--v8-options"], { encoding: "utf8" });
    for (const f of HELD_FLAGS[MAJOR] ?? []) {
      assert.match(options, new RegExp(`default: --${f.name}=${f.defaultValue}\\n`), f.name);
    }
  });

  it("leaves a flag Node was started with to the user", { skip: !HELD_FLAGS[MAJOR] }, () => {
    const mine = child(
      `const flags = hold(); process.stdout.write(JSON.stringify(flags.held.map((f) => f.name)));`,
      ["--semi_space_growth_factor=3"],
    );
    const names = JSON.parse(mine.out) as string[];
    assert.ok(!names.includes("semi-space-growth-factor"), names.join());
    assert.deepEqual(
      names,
      (HELD_FLAGS[MAJOR] ?? []).map((f) => f.name).filter((n) => n !== "semi-space-growth-factor"),
    );
  });

  it("leaves a Node whose V8 it does not know as it is", () => {
    const r = JSON.parse(child(`const flags = hold("18.19.0");${CHURN}`).out);
    assert.deepEqual(r.held, []);
    assert.ok(r.mib >= 16, `${r.mib} MiB`);
  });
});

describe("the code cache across a run that holds the flags", () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "dlt-unit-flags-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Loads `file` with its cache as bin.ts does: hold after the load; release (or not) before save. */
  const run = (file: string, cache: string, release: boolean) =>
    child(`
      const { requireWithCodeCache } = await import(${JSON.stringify(CODE_CACHE)});
      const loaded = requireWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(cache)});
      const flags = hold();
      if (loaded.exports.answer() !== 42) throw new Error("wrong answer");
      if (${release}) flags.release();
      loaded.save();
      process.stdout.write(loaded.state);`).out;

  for (const release of [true, false]) {
    it(release
      ? "released before the save: the next run uses the cache"
      : "not released: V8 rejects it (why release exists)", { skip: !HELD_FLAGS[MAJOR] }, () => {
      const dir = join(tmp, String(release));
      mkdirSync(dir);
      const file = join(dir, "main.cjs");
      writeFileSync(file, `"use strict";\nmodule.exports.answer = () => 42;\n`);
      const cache = join(dir, "code");
      assert.equal(run(file, cache, release), "miss");
      assert.equal(run(file, cache, release), release ? "hit" : "rejected");
    });
  }
});
