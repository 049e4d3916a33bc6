/**
 * The entry point's error lines on stderr quote what the user (or a script fed with names from
 * the scanned system) passed: escaped in text, escapeJsonText'd in JSON. No daemon is contacted.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { main } from "../../src/cli/main.js";

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  stdout.on("data", (c: Buffer) => chunks.stdout.push(c));
  stderr.on("data", (c: Buffer) => chunks.stderr.push(c));
  const code = await main(argv, {
    stdout,
    stderr,
    stdin: new PassThrough(),
    // No daemon: these runs fail before one is needed.
    env: { DOCKER_HOST: "unix:///nonexistent/docker.sock", NO_COLOR: "1" },
    interrupts: { signal: new AbortController().signal, interrupted: false },
    helperDir: "/nonexistent",
  });
  return {
    code,
    stdout: Buffer.concat(chunks.stdout).toString("utf8"),
    stderr: Buffer.concat(chunks.stderr).toString("utf8"),
  };
}

const RAW_UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe("error lines on stderr", () => {
  it("a usage error quoting a hostile value: one escaped line, then the --help hint", async () => {
    const r = await run(["scan", "--format", "x\x1b[2J\nFAKE\u202e"]);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr, RAW_UNSAFE);
    assert.equal(
      r.stderr,
      `docker leak: unknown --format "x\\x1b[2J\\nFAKE\\u202e": use table or json\nSee 'docker leak --help'.\n`,
    );
  });

  it("clipanion's parse errors quoting an unknown option are escaped", async () => {
    const r = await run(["scan", "--no-such\x1b]0;title\x07"]);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr, RAW_UNSAFE);
    assert.equal(r.stderr.split("\n").length, 3, r.stderr);
  });

  it("with --format json the error is one JSON line with nothing raw, parsing to the exact message", async () => {
    const bad = "x\x1b[2J\n\x9b\u2028\u202e";
    const r = await run(["scan", "--format", "json", "--format", bad]);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr.trimEnd(), RAW_UNSAFE);
    assert.equal(r.stderr.split("\n").length, 2);
    assert.deepEqual(JSON.parse(r.stderr), {
      error: `unknown --format "${bad}": use table or json`,
      exitCode: 2,
    });
  });
});
