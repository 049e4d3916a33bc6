/**
 * The entry point's error lines on stderr quote what the user (or a script fed with names from
 * the scanned system) passed: escaped in text, escapeJsonText'd in JSON. No daemon is contacted.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runMain } from "../support/run-main.js";

const run = (argv: string[]) => runMain(argv);

const RAW_UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe("error lines on stderr", () => {
  it("a usage error quoting a hostile value: one escaped line, then the --help hint", async () => {
    const r = await run(["scan", "--format", "x\n{{\u202e\x1b[2J}}"]);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr, RAW_UNSAFE);
    assert.equal(
      r.stderr,
      `docker leak: failed to parse template: template: :2: unexpected "\\u202e" in operand\nSee 'docker leak scan --help'.\n`,
    );
  });

  it("an unknown flag, command or group subcommand quoting hostile text is escaped, in cobra's words", async () => {
    const flag = await run(["scan", "--no-such\x1b]0;title\x07"]);
    assert.equal(flag.code, 2);
    assert.equal(flag.stderr, "unknown flag: --no-such\\x1b]0;title\\x07\nSee 'docker leak scan --help'.\n");
    const command = await run(["bogus\x1b[2J\u202e"]);
    assert.equal(command.code, 2);
    assert.equal(
      command.stderr,
      "docker leak: 'bogus\\x1b[2J\\u202e' is not a docker leak command.\nSee 'docker leak --help'.\n",
    );
    const sub = await run(["volume", "\x9bx"]);
    assert.equal(
      sub.stderr,
      "docker leak: '\\x9bx' is not a docker leak volume command.\nSee 'docker leak volume --help'.\n",
    );
    for (const r of [flag, command, sub]) {
      assert.doesNotMatch(r.stderr, RAW_UNSAFE);
      assert.equal(r.stdout, "");
    }
  });

  it("with --format json the error is one JSON line with nothing raw, parsing to the exact message", async () => {
    const bad = "\x1b[2J\n{{\x9b\u2028\u202e}}";
    const r = await run(["scan", "--format", "json", "--format", bad]);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr.trimEnd(), RAW_UNSAFE);
    assert.equal(r.stderr.split("\n").length, 2);
    assert.deepEqual(JSON.parse(r.stderr), {
      error: 'failed to parse template: template: :2: unexpected "\x9b" in operand',
      exitCode: 2,
    });
  });
});
