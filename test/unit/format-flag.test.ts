/**
 * --format on each command, through the entry point with no daemon behind it: a template outside
 * the subset or naming an unknown field is a usage error (exit 2) raised before the daemon is
 * contacted, so `rm` and `volume rm` unmount and remove nothing. (With a daemon: the
 * integration test test/integration/format.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runMain } from "../support/run-main.js";

describe("--format", () => {
  const commands: [string[], string[]][] = [
    [["scan"], []],
    [["rm"], ["web"]],
    [["volume", "rm"], ["data"]],
    [["version"], []],
  ];
  for (const [command, targets] of commands) {
    const path = `docker leak ${command.join(" ")}`;
    it(`${path}: a bad template is a usage error naming what is wrong, before any daemon call`, async () => {
      for (const [format, want] of [
        ["{{foo .Name}}", 'template: :1: function "foo" not defined'],
        ["{{.Nope}}", "can't evaluate field Nope in type"],
        ["table {{range .PIDs}}{{end}}", '"range" is not in docker leak\'s template subset'],
      ] as const) {
        const r = await runMain([...command, "--format", format, ...targets]);
        assert.equal(r.code, 2, `${format}: ${r.stderr}`);
        assert.equal(r.stdout, "");
        assert.ok(r.stderr.startsWith("docker leak: failed to parse template: "), r.stderr);
        assert.ok(r.stderr.includes(want), r.stderr);
        assert.ok(r.stderr.endsWith(`\nSee '${path} --help'.\n`), r.stderr);
      }
    });
  }

  it("a good template gets past the check (and then fails on the missing daemon, exit 1)", async () => {
    const r = await runMain(["rm", "--format", "{{.Ref}}\\t{{.Status}}", "web"]);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /template/);
  });

  it("-q cannot be combined with a template, as with json", async () => {
    const r = await runMain(["scan", "-q", "--format", "{{.ID}}"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--quiet and --format TEMPLATE cannot be combined/);
  });

  it("the help says what --format accepts, in docker's words", async () => {
    for (const argv of [["scan"], ["rm"], ["volume", "rm"]]) {
      const r = await runMain([...argv, "--help"]);
      for (const form of ["'table':", "'table TEMPLATE':", "'json':", "'TEMPLATE':"]) {
        assert.ok(r.stdout.includes(form), `${argv.join(" ")}: ${form}`);
      }
    }
    const version = await runMain(["version", "--help"]);
    assert.match(
      version.stdout,
      /-f, --format string {3}Format output using a custom template:\n {24}'json':/,
    );
  });
});
