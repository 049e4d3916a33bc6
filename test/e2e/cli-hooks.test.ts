/**
 * The CLI hook through the real docker CLI (26.1 or later: 28.2.2 here) in a pseudo-terminal —
 * the CLI runs hooks only when its stdout is a terminal — with the plugin and its hooks installed
 * by `docker leak install --hooks` into a temporary DOCKER_CONFIG, against the private daemon.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  BUNDLE,
  busyVolume,
  dockerOk,
  PRIVATE_HOST,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
} from "../support/daemon.js";

/** A docker CLI that runs hooks and passes the command's error (26.1+), or why there is none. */
function hookingDocker(): { path: string } | { skip: string } {
  const seen: string[] = [];
  for (const path of ["docker", "/usr/local/bin/docker", "/usr/bin/docker"]) {
    const r = spawnSync(path, ["version", "--format", "{{.Client.Version}}"], {
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: PRIVATE_HOST },
    });
    const version = r.stdout?.trim() ?? "";
    if (!version) continue;
    seen.push(`${path} ${version}`);
    const [major = 0, minor = 0] = version.split(".").map((n) => Number.parseInt(n, 10));
    if (major > 26 || (major === 26 && minor >= 1)) return { path };
  }
  return {
    skip: `no docker CLI 26.1 or later (hooks with the command's error); found: ${seen.join(", ") || "none"}`,
  };
}

const haveScript = spawnSync("script", ["--version"]).status === 0;
const cliFound = hookingDocker();
const skip = "skip" in cliFound ? cliFound.skip : !haveScript ? "script (util-linux) is missing" : false;
if (skip) console.log(`# skipped: ${skip}`);
const DOCKER = "path" in cliFound ? cliFound.path : "docker";

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

describe("hints after docker rm / docker volume rm, through the docker CLI", { skip }, () => {
  const scope = new Scope();
  let config: string;
  const env = () => ({
    ...process.env,
    DOCKER_HOST: PRIVATE_HOST,
    DOCKER_CONTEXT: undefined,
    DOCKER_CONFIG: config,
  });

  /** `docker ARGS…` in a pseudo-terminal: what the user sees (CR LF line ends made LF). */
  function onTerminal(args: string[]): { code: number; out: string } {
    const r = spawnSync("script", ["-qec", [DOCKER, ...args].map(q).join(" "), "/dev/null"], {
      encoding: "utf8",
      env: env(),
      timeout: 120_000,
    });
    return { code: r.status ?? 1, out: r.stdout.replaceAll("\r\n", "\n") };
  }
  const piped = (args: string[]) =>
    spawnSync(DOCKER, args, { encoding: "utf8", env: env(), timeout: 120_000 });

  before(() => {
    requireDaemon();
    config = mkdtempSync(join(tmpdir(), "dlt-hooks-config-"));
    const r = spawnSync(process.execPath, [BUNDLE, "install", "--hooks"], { encoding: "utf8", env: env() });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /hints after a failed docker rm.*: enabled in /);
  });
  after(() => {
    scope.cleanup();
    rmSync(config, { recursive: true, force: true });
  });

  it("a volume that docker volume rm cannot remove: the hint names it, and its command works", () => {
    // A mount below _data in the daemon's namespace (busyVolume).
    const { volume, data } = busyVolume(scope, "hooks-busy");

    const r = onTerminal(["volume", "rm", volume]);
    assert.equal(r.code, 1, r.out);
    // The CLI prints the hints (its bold title) before its own error.
    assert.equal(
      r.out,
      `\x1b[1m\nWhat's next:\x1b[0m
    Find what keeps ${volume} busy: docker leak scan ${volume}
    Unmount that and remove ${volume}: docker leak volume rm --force-unmount ${volume}
Error response from daemon: remove ${volume}: error removing volume path '${data}': unlinkat ${data}/sub: device or resource busy
`,
    );
    // Not on a pipe: the CLI runs hooks only for a terminal.
    const plain = piped(["volume", "rm", volume]);
    assert.equal(plain.status, 1);
    assert.doesNotMatch(plain.stderr + plain.stdout, /What's next|docker leak/);

    // What it suggests works.
    const cure = piped(["leak", "volume", "rm", "--force-unmount", volume]);
    assert.equal(cure.status, 0, cure.stderr);
    assert.equal(piped(["volume", "inspect", volume]).status, 1, "removed");
  });

  it("a docker rm that succeeds, or fails otherwise, prints no hint", () => {
    const c = scope.container(uniqueName("hooks-ok"));
    dockerOk(["create", "--name", c, TEST_IMAGE]);
    const ok = onTerminal(["rm", c]);
    assert.equal(ok.code, 0, ok.out);
    assert.equal(ok.out, `${c}\n`);
    const missing = uniqueName("hooks-missing");
    const other = onTerminal(["container", "rm", missing]);
    assert.equal(other.code, 1);
    assert.equal(other.out, `Error response from daemon: No such container: ${missing}\n`);
  });

  it("uninstall takes the hooks out of config.json again", () => {
    const r = spawnSync(process.execPath, [BUNDLE, "uninstall"], { encoding: "utf8", env: env() });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(config, "config.json"), "utf8"), "{}");
    assert.ok(!existsSync(join(config, "cli-plugins", "docker-leak")));
  });
});
