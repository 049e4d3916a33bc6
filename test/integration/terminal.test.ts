/**
 * docker leak on a terminal, as a user sees it: `script` gives the plugin a pseudo-terminal of a
 * set width (stty), with a real leak on the private daemon. The table fits the width, the
 * summary is followed by docker's "What's next" hint with the command that releases the leak
 * (unless DOCKER_CLI_HINTS=false), and --progress chooses what goes to stderr.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  BUNDLE,
  dockerOk,
  PRIVATE_HOST,
  plugin,
  privateNamespaceHolder,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  waitForOwnNamespace,
} from "../support/daemon.js";
import { helperContainers } from "../support/helper.js";

/** The plugin's output on a pseudo-terminal `columns` wide: lines as the terminal shows them. */
function onTerminal(columns: number, args: string[], env: Record<string, string> = {}): string[] {
  const vars = Object.entries({ DOCKER_HOST: PRIVATE_HOST, NO_COLOR: "1", ...env })
    .map(([k, v]) => `${k}='${v}'`)
    .join(" ");
  const command = `stty cols ${columns} rows 100; ${vars} ${process.execPath} ${BUNDLE} ${args.map((a) => `'${a}'`).join(" ")}`;
  const r = spawnSync("script", ["-qec", command, "/dev/null"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.error, undefined);
  // What the terminal shows: a status line overwritten (\r ESC[2K) leaves only what follows it.
  return r.stdout.split(/\r?\n/).map((line) =>
    line
      .slice(line.lastIndexOf("\r\x1b[2K") + 1)
      .replace(/^\x1b\[2K/, "")
      .replace(/\r$/, ""),
  );
}

describe("on a terminal", () => {
  const scope = new Scope();
  const victim = uniqueName("tty-victim");

  before(async () => {
    requireDaemon();
    scope.container(victim);
    dockerOk(["run", "-d", "--name", victim, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"]);
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    dockerOk(["stop", "-t", "0", victim]);
  });
  after(() => scope.cleanup());

  for (const columns of [80, 140]) {
    it(`at ${columns} columns the table fits and the summary says what's next`, () => {
      const lines = onTerminal(columns, ["scan", victim]);
      const table = lines.slice(
        0,
        lines.findIndex((l) => / leaked across /.test(l)),
      );
      assert.match(table[0] ?? "", /^TARGET +.*MOUNT +SEVERITY +HOLDER +.*CAUSE$/, lines.join("\n"));
      assert.ok(table.length >= 2, lines.join("\n"));
      for (const line of table)
        assert.ok([...line].length <= columns, `${[...line].length} > ${columns}: ${line}`);
      if (columns >= 140) assert.match(table[0] ?? "", / PIDS /);
      const next = lines.indexOf("What's next:");
      assert.ok(next > 0, lines.join("\n"));
      assert.equal(
        lines[next + 1],
        `    Release and remove the containers → docker leak rm --force-unmount ${victim}`,
      );
    });
  }

  it("DOCKER_CLI_HINTS=false turns the hint off; piped output has none", () => {
    const lines = onTerminal(100, ["scan", victim], { DOCKER_CLI_HINTS: "false" });
    assert.ok(lines.some((l) => / leaked across /.test(l)));
    assert.ok(!lines.includes("What's next:"));
    const piped = plugin(["scan", victim]);
    assert.equal(piped.code, 3);
    assert.doesNotMatch(piped.stderr, /What's next/);
  });

  it("--progress plain writes each step on a line of its own; quiet and auto (piped) write none", () => {
    const plain = plugin(["scan", "--progress", "plain", victim]);
    assert.equal(plain.code, 3, plain.stderr);
    assert.match(plain.stderr, /^Scanning mount namespaces…\n/m);
    assert.doesNotMatch(plain.stderr, /\r|\x1b/);
    for (const mode of ["quiet", "auto"]) {
      const r = plugin(["scan", "--progress", mode, victim]);
      assert.equal(r.code, 3);
      assert.doesNotMatch(r.stderr, /Scanning/, mode);
    }
  });

  it("a bad --progress is a usage error and starts no helper", () => {
    const before = helperContainers().length;
    const r = plugin(["scan", "--progress", "fancy", victim]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `docker leak: invalid --progress "fancy": use auto, plain, tty, quiet\nSee 'docker leak scan --help'.\n`,
    );
    assert.equal(helperContainers().length, before);
  });
});
