/**
 * docker leak's own help and usage errors (src/cli/help.ts): built from clipanion's definitions
 * of the registered commands; the few facts the definitions lack are in tables that must name
 * exactly the flags and commands the definitions have; arguments are checked as cobra checks them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LeakContext } from "../../src/cli/context.js";
import {
  COMMAND_ARGS,
  checkArguments,
  commandTree,
  FLAG_VALUES,
  GROUPS,
  helpText,
  type LeafCommand,
  parseOptionDefinition,
  resolve,
} from "../../src/cli/help.js";
import { buildCli, commandsAt } from "../../src/cli/main.js";
import { runMain } from "../support/run-main.js";

const definitions = buildCli(false).definitions();
const tree = commandTree(definitions);
const leaves = (): LeafCommand[] =>
  [...tree.top.values()].flatMap((n) => (n.kind === "group" ? [...n.children.values()] : [n]));
const leaf = (...words: string[]): LeafCommand => {
  const { node } = resolve(tree, words);
  assert.ok(node?.kind === "command", words.join(" "));
  return node;
};

describe("the command tree and its tables", () => {
  it("every flag that takes a value has a value name and default, and no entry is unused", () => {
    const valued = new Set(leaves().flatMap((c) => c.flags.filter((f) => f.takesValue).map((f) => f.long)));
    assert.deepEqual([...valued].sort(), Object.keys(FLAG_VALUES).sort());
  });

  it("the commands that take arguments are exactly those whose Usage line names them", () => {
    for (const d of definitions) {
      const words = d.path.replace(/^docker leak ?/, "");
      if (!words || words.startsWith("-")) continue;
      const positional = / \.\.\.$|<[A-Z|]+>/.test(d.usage);
      assert.equal(words in COMMAND_ARGS, positional, `${d.path}: ${d.usage}`);
      if (positional) assert.equal(COMMAND_ARGS[words]?.required, /<[A-Z|]+>/.test(d.usage), d.path);
    }
  });

  it("each command of the tree is exactly one registered command, alone enough for clipanion to run it", () => {
    // A run registers only the command it runs (main.ts): each leaf must find exactly its own class,
    // and clipanion with only that class must parse the leaf's words to it.
    for (const c of leaves()) {
      const found = commandsAt(c.words);
      assert.equal(found.length, 1, c.words.join(" "));
      const operand = COMMAND_ARGS[c.words.join(" ")]?.required ? ["x"] : [];
      const alone = buildCli(false, found);
      assert.equal(
        alone.process([...c.words, ...operand], {} as LeakContext).constructor,
        found[0],
        c.words.join(" "),
      );
    }
    assert.deepEqual(commandsAt(["volume"]), []);
    assert.deepEqual(commandsAt(["scan", "x"]), []);
  });

  it("every group has a description, and every description is one line", () => {
    const groups = [...tree.top.values()].filter((n) => n.kind === "group").map((n) => n.words[0]);
    assert.deepEqual(groups.sort(), Object.keys(GROUPS).sort());
    for (const c of leaves()) assert.ok(c.description && !c.description.includes("\n"), c.words.join(" "));
  });

  it("reads clipanion's option definitions", () => {
    assert.deepEqual(parseOptionDefinition("-q,--quiet", " Only IDs "), {
      short: "q",
      long: "quiet",
      takesValue: false,
      description: "Only IDs",
    });
    assert.deepEqual(parseOptionDefinition("--format,-f #0"), {
      short: "f",
      long: "format",
      takesValue: true,
      description: "",
    });
  });

  it("resolves command words, groups and unknown words", () => {
    assert.deepEqual(resolve(tree, ["volume", "rm", "x"]).used, 2);
    assert.equal(resolve(tree, ["volume"]).node?.kind, "group");
    assert.equal(resolve(tree, ["volume", "--help"]).node?.kind, "group");
    assert.equal(resolve(tree, ["volume", "ls"]).unknown, "ls");
    assert.equal(resolve(tree, ["bogus"]).unknown, "bogus");
    assert.deepEqual(resolve(tree, ["--x"]), { node: null, used: 0, unknown: null });
  });
});

describe("arguments checked as cobra checks them", () => {
  const cases: [string[], string[], string | null][] = [
    [["scan"], [], null],
    [["scan"], ["-q", "--no-trunc", "web", "db"], null],
    [["scan"], ["--format=json", "--timeout", "5m"], null],
    [["scan"], ["--format"], "flag needs an argument: --format"],
    [["scan"], ["--bogus"], "unknown flag: --bogus"],
    [["scan"], ["--bogus=1"], "unknown flag: --bogus"],
    [["scan"], ["-qz"], "unknown shorthand flag: 'z' in -qz"],
    [
      ["scan"],
      ["--quiet=maybe"],
      'invalid argument "maybe" for "--quiet" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
    ],
    [["scan"], ["--", "--not-a-flag"], null],
    [["rm"], [], '"docker leak rm" requires at least 1 argument.'],
    [["rm"], ["--force-unmount"], '"docker leak rm" requires at least 1 argument.'],
    [["rm"], ["-fv", "web"], null],
    [["volume", "rm"], ["--dry-run", "data"], null],
    [["version"], ["-f", "json"], null],
    [["version"], ["-f"], "flag needs an argument: 'f' in -f"],
    [["version"], ["extra"], '"docker leak version" accepts no arguments.'],
  ];
  for (const [words, args, expected] of cases) {
    it(`docker leak ${[...words, ...args].join(" ")} → ${expected ?? "parsed"}`, () => {
      assert.equal(checkArguments(leaf(...words), args), expected);
    });
  }
});

const run = (argv: string[]) => runMain(argv);

describe("help, however it is asked for", () => {
  it("every spelling of a command's help prints the same text on stdout, exit 0, no daemon needed", async () => {
    const expected = helpText(tree, leaf("volume", "rm"), 80);
    for (const argv of [
      ["volume", "rm", "--help"],
      ["volume", "rm", "-h"],
      ["--help", "volume", "rm"],
      ["help", "volume", "rm"],
      ["help", "leak", "volume", "rm"],
      ["volume", "rm", "--dry-run", "x", "--help"],
    ]) {
      const r = await run(argv);
      assert.deepEqual(r, { code: 0, stdout: expected, stderr: "" }, argv.join(" "));
    }
  });

  it("the root and a group without a command print their help", async () => {
    for (const argv of [[], ["--help"], ["help"], ["help", "leak"]]) {
      const r = await run(argv);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, helpText(tree, null, 80), argv.join(" "));
    }
    const group = await run(["helper"]);
    assert.equal(group.code, 0);
    assert.match(
      group.stdout,
      /^Usage: {2}docker leak helper COMMAND\n\n.+\n\nCommands:\n {2}build {7}\S.*\n {2}prune {7}\S/,
    );
  });

  it("a flag after -- is an argument, not a request for help", async () => {
    const r = await run(["scan", "--format", "{{bogus}}", "--", "--help"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /function "bogus" not defined/);
  });

  it("help is plain text: no escape sequence even when colour is forced", async () => {
    const { stdout: out } = await runMain(["scan", "--help"], { FORCE_COLOR: "3" }, { columns: 100 });
    assert.doesNotMatch(out, /\x1b/);
    assert.equal(out, helpText(tree, leaf("scan"), 100), "wrapped to the terminal's width");
    for (const line of out.split("\n"))
      assert.ok(line.length <= 100 && !line.endsWith(" "), JSON.stringify(line));
  });
});
