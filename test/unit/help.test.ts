/**
 * The help layout (src/render/help.ts) against docker/cli's own: the same renderer, given the
 * definitions of some of docker's commands, must print exactly what the docker CLI prints for
 * them (golden files recorded from docker 28.2.2 with output not on a terminal: 80 columns). When
 * that CLI is on PATH the golden files are checked against it too, so they cannot go stale.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type CommandHelp, flagUsages, renderHelp, wrapParagraph } from "../../src/render/help.js";
import { FIXTURES } from "./fixtures.js";

const golden = (name: string) => readFileSync(join(FIXTURES, "help", `docker-${name}.txt`), "utf8");

const DOCKER_COMMANDS: Record<string, CommandHelp> = {
  "volume-rm": {
    path: "docker volume rm",
    args: "[OPTIONS] VOLUME [VOLUME...]",
    description: "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
    aliases: ["docker volume rm", "docker volume remove"],
    flags: [{ short: "f", long: "force", description: "Force the removal of one or more volumes" }],
  },
  rm: {
    path: "docker rm",
    args: "[OPTIONS] CONTAINER [CONTAINER...]",
    description: "Remove one or more containers",
    aliases: ["docker container rm", "docker container remove", "docker rm"],
    flags: [
      { short: "v", long: "volumes", description: "Remove anonymous volumes associated with the container" },
      { short: "l", long: "link", description: "Remove the specified link" },
      { short: "f", long: "force", description: "Force the removal of a running container (uses SIGKILL)" },
    ],
  },
  volume: {
    path: "docker volume",
    args: "COMMAND",
    description: "Manage volumes",
    flags: [],
    commands: [
      { name: "create", description: "Create a volume" },
      { name: "inspect", description: "Display detailed information on one or more volumes" },
      { name: "ls", description: "List volumes" },
      { name: "prune", description: "Remove unused local volumes" },
      { name: "rm", description: "Remove one or more volumes" },
    ],
  },
  logs: {
    path: "docker logs",
    args: "[OPTIONS] CONTAINER",
    description: "Fetch the logs of a container",
    aliases: ["docker container logs", "docker logs"],
    flags: [
      { long: "details", description: "Show extra details provided to logs" },
      { short: "f", long: "follow", description: "Follow log output" },
      {
        long: "since",
        value: "string",
        description:
          'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
      },
      {
        short: "n",
        long: "tail",
        value: "string",
        description: "Number of lines to show from the end of the logs",
        default: '"all"',
      },
      { short: "t", long: "timestamps", description: "Show timestamps" },
      {
        long: "until",
        value: "string",
        description:
          'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
      },
    ],
  },
  "volume-create": {
    path: "docker volume create",
    args: "[OPTIONS] [VOLUME]",
    description: "Create a volume",
    flags: [
      {
        short: "d",
        long: "driver",
        value: "string",
        description: "Specify volume driver name",
        default: '"local"',
      },
      { long: "label", value: "list", description: "Set metadata for a volume" },
      { short: "o", long: "opt", value: "map", description: "Set driver specific options", default: "map[]" },
    ],
  },
  "image-prune": {
    path: "docker image prune",
    args: "[OPTIONS]",
    description: "Remove unused images",
    flags: [
      { short: "a", long: "all", description: "Remove all unused images, not just dangling ones" },
      { long: "filter", value: "filter", description: 'Provide filter values (e.g. "until=<timestamp>")' },
      { short: "f", long: "force", description: "Do not prompt for confirmation" },
    ],
  },
};

/** The docker CLI the golden files were recorded from, when it is the one on PATH. */
function recordingCli(): boolean {
  const r = spawnSync("docker", ["version", "--format", "{{.Client.Version}}"], { encoding: "utf8" });
  return r.status !== null && r.stdout.trim() === "28.2.2";
}

describe("help in the docker CLI's layout", () => {
  for (const [name, spec] of Object.entries(DOCKER_COMMANDS)) {
    it(`prints docker ${name.replace("-", " ")}'s help exactly as docker does`, () => {
      assert.equal(renderHelp(spec, 80), golden(name));
    });
  }

  it("the golden files are what the docker CLI prints", (t) => {
    if (!recordingCli()) {
      t.skip("docker 28.2.2 is not on PATH: the golden files cannot be checked against it here");
      return;
    }
    for (const name of Object.keys(DOCKER_COMMANDS)) {
      const r = spawnSync("docker", [...name.split("-"), "--help"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      assert.equal(r.stdout, golden(name), `docker ${name} --help`);
    }
  });

  it("flag descriptions wrap like pflag's at narrow widths, and not at all at width 0", () => {
    const flags = DOCKER_COMMANDS.logs?.flags ?? [];
    const narrow = flagUsages(flags, 59);
    assert.equal(narrow.length, flags.length);
    for (const line of narrow.join("\n").split("\n")) assert.ok(line.length <= 59, line);
    assert.ok(
      narrow.some((l) => l.includes("\n")),
      "something wrapped",
    );
    assert.ok(flagUsages(flags, 0).every((l) => !l.includes("\n")));
    // Too narrow to wrap beside the flags: the description goes below them, indented 16.
    const tiny = flagUsages(flags, 45);
    assert.ok(
      tiny.some((l) => l.includes(`\n${" ".repeat(16)}`)),
      tiny.join("\n"),
    );
  });

  it("wraps prose at blanks without trailing blanks", () => {
    const lines = wrapParagraph("a ".repeat(100), 20);
    assert.ok(lines.every((l) => l.length <= 20 && !l.endsWith(" ")));
    assert.equal(lines.join(" "), "a ".repeat(100).trim());
  });
});
