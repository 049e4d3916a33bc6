/**
 * The plugin installed into a temporary DOCKER_CONFIG and driven through the real `docker` CLI
 * against the private daemon.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  LAUNCHER,
  PRIVATE_HOST,
  PRIVATE_ROOT,
  PRIVATE_SOCKET,
  REPO_ROOT,
  requireDaemon,
} from "../support/daemon.js";

let config: string;

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync("docker", args, {
    encoding: "utf8",
    env: {
      ...process.env,
      DOCKER_HOST: undefined,
      DOCKER_CONTEXT: undefined,
      DOCKER_CONFIG: config,
      NO_COLOR: "1",
      ...env,
    },
    timeout: 60_000,
  });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

describe("docker leak as a docker CLI plugin", () => {
  before(() => {
    requireDaemon();
    config = mkdtempSync(join(tmpdir(), "dlt-config-"));
    chmodSync(config, 0o755);
    execFileSync(
      join(REPO_ROOT, "scripts", "install-plugin.sh"),
      ["--no-build", "--prefix", join(config, "cli-plugins")],
      {
        stdio: "pipe",
      },
    );
  });
  after(() => rmSync(config, { recursive: true, force: true }));

  it("answers the metadata probe with valid JSON matching package.json", () => {
    const out = execFileSync(join(config, "cli-plugins", "docker-leak"), ["docker-cli-plugin-metadata"], {
      encoding: "utf8",
    });
    const meta = JSON.parse(out);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
    assert.equal(meta.SchemaVersion, "0.1.0");
    assert.equal(meta.Version, pkg.version);
    assert.ok(meta.ShortDescription.length > 10);
    assert.ok(meta.Vendor);
    // The checkout's own launcher answers the same, without the installer's substitutions.
    assert.deepEqual(
      JSON.parse(execFileSync(LAUNCHER, ["docker-cli-plugin-metadata"], { encoding: "utf8" })),
      meta,
    );
  });

  it("is listed by docker --help with its description", () => {
    const r = cli(["--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\s+leak\*?\s+Find and release container mounts leaked/m);
  });

  it("docker leak version reaches the daemon from DOCKER_HOST", () => {
    const r = cli(["leak", "version"], { DOCKER_HOST: PRIVATE_HOST });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^docker leak version \d+\.\d+\.\d+/);
    assert.match(r.stdout, new RegExp(`Root dir:\\s+${PRIVATE_ROOT}`));
    assert.match(r.stdout, /Endpoint:.*from DOCKER_HOST/);
  });

  it("docker leak version prints the same through its fast path and through the full command", () => {
    // -D (debug) makes the plugin skip the fast path (src/cli/fast-version.ts).
    for (const format of [[], ["--format", "json"]]) {
      const fast = cli(["leak", "version", ...format], { DOCKER_HOST: PRIVATE_HOST });
      const full = cli(["-D", "leak", "version", ...format], { DOCKER_HOST: PRIVATE_HOST });
      assert.equal(fast.code, 0, fast.stderr);
      assert.equal(full.code, 0, full.stderr);
      assert.equal(fast.stdout, full.stdout);
      assert.match(fast.stdout, new RegExp(PRIVATE_ROOT));
    }
    // And a daemon that does not answer gets the full command's message.
    const down = cli(["leak", "version"], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /Cannot connect to the Docker daemon at unix:\/\/\/nonexistent\/docker\.sock/);
  });

  it("docker -H … leak version reaches that daemon", () => {
    const r = cli(["-H", PRIVATE_HOST, "leak", "version", "--format", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout);
    assert.equal(v.server.rootDir, PRIVATE_ROOT);
    assert.equal(v.endpoint.host, PRIVATE_HOST);
  });

  it("docker --context <ctx> leak version reaches the context's daemon", () => {
    const created = cli(["context", "create", "dlt-private", "--docker", `host=${PRIVATE_HOST}`]);
    assert.equal(created.code, 0, created.stderr);
    const r = cli(["--context", "dlt-private", "leak", "version", "--format", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout);
    assert.equal(v.endpoint.context, "dlt-private");
    assert.equal(v.server.rootDir, PRIVATE_ROOT);
    // currentContext in config.json is honoured too.
    assert.equal(cli(["context", "use", "dlt-private"]).code, 0);
    const viaConfig = cli(["leak", "version", "--format", "json"]);
    assert.equal(viaConfig.code, 0, viaConfig.stderr);
    assert.equal(JSON.parse(viaConfig.stdout).endpoint.context, "dlt-private");
    assert.equal(cli(["context", "use", "default"]).code, 0);
  });

  it("docker help leak and docker leak --help show the commands", () => {
    for (const args of [
      ["help", "leak"],
      ["leak", "--help"],
    ]) {
      const r = cli(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: {2}docker leak COMMAND\n/);
      assert.match(r.stdout, /\nManagement Commands:\n {2}helper {6}\S.*\n {2}volume {6}\S/);
      assert.match(r.stdout, /\nCommands:\n[\s\S]*\n {2}rm {10}\S[\s\S]*\n {2}scan {8}\S/);
      assert.match(r.stdout, /\nRun 'docker leak COMMAND --help' for more information on a command\.\n$/);
    }
  });

  it("help for a command and a group, however it is asked for, in docker's layout", () => {
    const scanHelp = cli(["leak", "scan", "--help"]);
    assert.equal(scanHelp.code, 0, scanHelp.stderr);
    assert.match(scanHelp.stdout, /^Usage: {2}docker leak scan \[OPTIONS\] \[CONTAINER\|VOLUME\.\.\.\]\n\n/);
    assert.match(
      scanHelp.stdout,
      /\nOptions:\n[\s\S]*\n {6}--format string +Format output using a custom template:[\s\S]*\(default "table"\)/,
    );
    // One column for every flag's description, after the widest flag (pflag's layout).
    const lines = scanHelp.stdout.split("\n");
    const column = (prefix: string) => {
      const line = lines.find((l) => l.startsWith(prefix));
      assert.ok(line, `${prefix}: ${scanHelp.stdout}`);
      return line.length - line.slice(prefix.length).trimStart().length;
    };
    assert.equal(column("  -q, --quiet "), column("      --format string "));
    assert.equal(column("      --deep "), column("      --format string "));
    for (const args of [
      ["help", "leak", "scan"],
      ["leak", "help", "scan"],
      ["leak", "--help", "scan"],
      ["leak", "scan", "-h"],
    ]) {
      const r = cli(args);
      assert.equal(r.code, 0, args.join(" "));
      assert.equal(r.stdout, scanHelp.stdout, args.join(" "));
    }
    for (const args of [
      ["leak", "volume"],
      ["leak", "volume", "--help"],
      ["help", "leak", "volume"],
    ]) {
      const r = cli(args);
      assert.equal(r.code, 0, args.join(" "));
      assert.match(
        r.stdout,
        /^Usage: {2}docker leak volume COMMAND\n[\s\S]*\nCommands:\n {2}rm {10}\S/,
        args.join(" "),
      );
    }
  });

  it("mistakes get cobra's words, name the command, exit 2 and print nothing on stdout", () => {
    const cases: [string[], RegExp][] = [
      [["leak", "scan", "--bogus"], /^unknown flag: --bogus\nSee 'docker leak scan --help'\.\n$/],
      [["leak", "scan", "-x"], /^unknown shorthand flag: 'x' in -x\nSee 'docker leak scan --help'\.\n$/],
      [
        ["leak", "rm"],
        /^"docker leak rm" requires at least 1 argument\.\nSee 'docker leak rm --help'\.\n\nUsage: {2}docker leak rm \[OPTIONS\] CONTAINER \[CONTAINER\.\.\.\]\n/,
      ],
      [
        ["leak", "volume", "rm", "--format"],
        /^flag needs an argument: --format\nSee 'docker leak volume rm --help'\.\n$/,
      ],
      [
        ["leak", "version", "extra"],
        /^"docker leak version" accepts no arguments\.\nSee 'docker leak version --help'\./,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = cli(args, { DOCKER_HOST: PRIVATE_HOST });
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
      assert.match(r.stderr, expected);
    }
  });

  it("an unknown subcommand is a usage error (exit 2) on stderr", () => {
    const r = cli(["leak", "frobnicate"], { DOCKER_HOST: PRIVATE_HOST });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      "docker leak: 'frobnicate' is not a docker leak command.\nSee 'docker leak --help'.\n",
    );
  });

  it("an unreachable daemon: one clear line, exit 1, no stack", () => {
    const r = cli(["-H", "unix:///nonexistent/dlt.sock", "leak", "version"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      "docker leak: Cannot connect to the Docker daemon at unix:///nonexistent/dlt.sock (from -H/--host). Is the docker daemon running?",
    );
  });

  it("an unknown context named by DOCKER_CONTEXT: clear error, exit 1", () => {
    const r = spawnSync(LAUNCHER, ["leak", "version"], {
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: undefined, DOCKER_CONTEXT: "dlt-missing", DOCKER_CONFIG: config },
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^docker leak: context "dlt-missing" does not exist \(set by DOCKER_CONTEXT\)/);
    assert.doesNotMatch(r.stderr, /\bat .*\.cjs:\d+/);
  });

  it("permission denied on the socket: clear error, exit 1", () => {
    // As an unprivileged user, the private daemon's socket (root:docker 0660) is refused.
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        process.execPath,
        join(REPO_ROOT, "dist", "docker-leak.cjs"),
        "version",
      ],
      {
        encoding: "utf8",
        env: { PATH: process.env.PATH, HOME: "/tmp", DOCKER_HOST: `unix://${PRIVATE_SOCKET}` },
      },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^docker leak: permission denied while trying to connect to the Docker daemon socket at unix:\/\//,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it("with --format json, errors are JSON on stderr too", () => {
    const r = cli(["leak", "scan", "--format", "json", "dlt-no-such-target"], { DOCKER_HOST: PRIVATE_HOST });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.deepEqual(JSON.parse(r.stderr), {
      error: "No such container or volume: dlt-no-such-target",
      exitCode: 1,
    });
  });

  it("__complete answers in cobra's protocol (more in completion.test.ts)", () => {
    const r = spawnSync(LAUNCHER, ["__complete", "leak", ""], { encoding: "utf8" });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^scan\t.*\n(.*\n)*:4\n$/m);
  });
});
