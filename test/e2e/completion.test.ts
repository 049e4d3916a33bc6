/**
 * Shell completion through the real docker CLI (docker 28: `docker __complete leak …`), and the
 * completion scripts run under bash: docker 28's `docker completion bash`, and Debian's docker.io
 * 20.10 script (/usr/share/bash-completion/completions/docker), which calls the plugin itself as
 * `docker-leak __completeNoDesc …`. The plugin is installed into a temporary DOCKER_CONFIG.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SUBCOMMANDS } from "../support/commands.js";
import {
  dockerOk,
  PRIVATE_HOST,
  REPO_ROOT,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
} from "../support/daemon.js";

const DOCKER = "/usr/local/bin/docker";
const LEGACY_DOCKER = "/usr/bin/docker";
const BASH_COMPLETION = "/usr/share/bash-completion/bash_completion";
const LEGACY_SCRIPT = "/usr/share/bash-completion/completions/docker";

let config: string;
let work: string;
const scope = new Scope();
const stopped = uniqueName("compl-stopped");
const running = uniqueName("compl-running");
const volume = uniqueName("compl-vol");

/** The environment of a user of the plugin: no DOCKER_HOST unless given. */
function userEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DOCKER_HOST: undefined,
    DOCKER_CONTEXT: undefined,
    DOCKER_CONFIG: config,
    NO_COLOR: "1",
    ...env,
  };
}

function complete(args: string[], env: NodeJS.ProcessEnv = { DOCKER_HOST: PRIVATE_HOST }) {
  const r = spawnSync(DOCKER, args, { encoding: "utf8", env: userEnv(env), timeout: 30_000 });
  return { code: r.status, lines: r.stdout.trimEnd().split("\n"), stdout: r.stdout, stderr: r.stderr };
}
const values = (lines: string[]) => lines.map((l) => l.split("\t")[0]);

/** COMPREPLY of a completion script for `words` (the last one being completed), run under bash. */
function bashComplete(script: string, words: string[], path = process.env.PATH ?? ""): string[] {
  const driver = `
source ${BASH_COMPLETION}
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
if declare -F __start_docker >/dev/null; then __start_docker; else _docker; fi
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", driver, "bash", script, ...words], {
    encoding: "utf8",
    // A directory with one file: file-name completion, where it happens, shows `a-file`.
    cwd: work,
    env: userEnv({ DOCKER_HOST: PRIVATE_HOST, PATH: path }),
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean);
}

describe("shell completion through the docker CLI", () => {
  before(() => {
    requireDaemon();
    config = mkdtempSync(join(tmpdir(), "dlt-config-"));
    chmodSync(config, 0o755);
    work = mkdtempSync(join(tmpdir(), "dlt-compl-"));
    writeFileSync(join(work, "a-file"), "");
    execFileSync(
      join(REPO_ROOT, "scripts", "install-plugin.sh"),
      ["--no-build", "--prefix", join(config, "cli-plugins")],
      {
        stdio: "pipe",
      },
    );
    dockerOk(["create", "--name", scope.container(stopped), TEST_IMAGE, "true"]);
    dockerOk(["run", "-d", "--name", scope.container(running), TEST_IMAGE, "sleep", "600"]);
    dockerOk(["volume", "create", scope.volume(volume)]);
  });
  after(() => {
    scope.cleanup();
    rmSync(config, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it("docker __complete leak '' lists the subcommands with descriptions", () => {
    const r = complete(["__complete", "leak", ""]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.at(-1), ":4");
    assert.ok(
      r.lines.includes("scan\tFind leaked mounts of containers and volumes, and who holds them"),
      r.stdout,
    );
    assert.deepEqual(values(r.lines.slice(0, -1)), SUBCOMMANDS);
  });

  it("lists a command's flags and the values of --format", () => {
    const flags = complete(["__complete", "leak", "scan", "--"]);
    assert.ok(flags.lines.includes("--format\tFormat output using a custom template:"), flags.stdout);
    assert.ok(values(flags.lines).includes("--deep"));
    assert.equal(flags.lines.at(-1), ":4");
    assert.deepEqual(complete(["__complete", "leak", "scan", "--format", ""]).lines, ["table", "json", ":4"]);
    // `docker __completeNoDesc`: docker hands the plugin `__complete`; no descriptions all the same.
    assert.deepEqual(complete(["__completeNoDesc", "leak", "scan", "--form"]).lines, ["--format", ":4"]);
  });

  it("rm offers the stopped container, not the running one; volume rm the volume", () => {
    const rm = values(complete(["__complete", "leak", "rm", ""]).lines);
    assert.ok(rm.includes(stopped), rm.join(" "));
    assert.ok(!rm.includes(running), rm.join(" "));
    assert.equal(rm.at(-1), ":4");
    const scan = values(complete(["__complete", "leak", "scan", "dlt-compl-"]).lines);
    assert.ok(scan.includes(stopped) && scan.includes(running) && scan.includes(volume), scan.join(" "));
    const vol = values(complete(["__complete", "leak", "volume", "rm", ""]).lines);
    assert.ok(vol.includes(volume) && !vol.includes(stopped), vol.join(" "));
  });

  it("asks the daemon that docker's own -H selects (docker does not pass it to the plugin)", () => {
    const r = complete(["-H", PRIVATE_HOST, "__complete", "leak", "rm", ""], {});
    assert.ok(values(r.lines).includes(stopped), r.stdout);
  });

  it("answers only the directive, quickly and quietly, when the daemon is unreachable", () => {
    const r = complete(["__complete", "leak", "rm", ""], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, ":4\n");
    assert.doesNotMatch(r.stderr, /at .*\.(c?js|ts):\d+/);
  });

  it("docker completion bash completes subcommands, flags, values and names", () => {
    const script = join(work, "docker-completion.bash");
    writeFileSync(script, execFileSync(DOCKER, ["completion", "bash"], { encoding: "utf8" }));
    const path = `${join(DOCKER, "..")}:${process.env.PATH}`;
    assert.deepEqual(bashComplete(script, ["docker", "leak", "sc"], path), ["scan"]);
    assert.deepEqual(bashComplete(script, ["docker", "leak", "volume", ""], path), ["rm"]);
    assert.deepEqual(bashComplete(script, ["docker", "leak", "scan", "--dee"], path), ["--deep"]);
    assert.deepEqual(bashComplete(script, ["docker", "leak", "scan", "--format", "j"], path), ["json"]);
    const rm = bashComplete(script, ["docker", "leak", "rm", "dlt-compl-"], path);
    assert.ok(rm.includes(stopped) && !rm.includes(running), rm.join(" "));
    assert.ok(!rm.includes("a-file"));
  });

  it("Debian's docker.io 20.10 bash script completes through `docker-leak __completeNoDesc`", (t) => {
    if (!existsSync(LEGACY_SCRIPT) || !existsSync(LEGACY_DOCKER) || !existsSync(BASH_COMPLETION)) {
      t.skip("needs Debian's docker.io and bash-completion");
      return;
    }
    // The script finds plugins with `docker info` of the docker on PATH: the 20.10 client here.
    const bin = join(work, "bin");
    mkdirSync(bin);
    symlinkSync(LEGACY_DOCKER, join(bin, "docker"));
    const path = `${bin}:${process.env.PATH}`;
    assert.deepEqual(bashComplete(LEGACY_SCRIPT, ["docker", "leak", "vol"], path), ["volume"]);
    assert.deepEqual(bashComplete(LEGACY_SCRIPT, ["docker", "leak", "scan", "--format", ""], path), [
      "table",
      "json",
    ]);
    const rm = bashComplete(LEGACY_SCRIPT, ["docker", "leak", "rm", "dlt-compl-"], path);
    assert.ok(rm.includes(stopped) && !rm.includes(running), rm.join(" "));
    assert.deepEqual(
      bashComplete(LEGACY_SCRIPT, ["docker", "leak", "volume", "rm", volume.slice(0, -2)], path),
      [volume],
    );
  });
});
