/**
 * Daemons the plugin cannot dial itself are reached through `docker system dial-stdio`, like the
 * docker CLI's own connection helpers: ssh:// ones as docker's ssh helper does it (`ssh … HOST
 * docker system dial-stdio`), others through the local `docker [globals] system dial-stdio`.
 * Stand-in `docker` and `ssh` on PATH record their arguments and relay stdio to the private
 * daemon's socket.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DockerodeClient } from "../../src/docker/dockerode-client.js";
import {
  BUNDLE,
  dockerOk,
  PRIVATE_ROOT,
  PRIVATE_SOCKET,
  privateNamespaceHolder,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  waitForOwnNamespace,
} from "../support/daemon.js";

let dir: string;

describe("ssh:// and other schemes through docker system dial-stdio", () => {
  before(() => {
    requireDaemon();
    dir = mkdtempSync(join(tmpdir(), "dlt-dial-"));
    const relay = `#!${process.execPath}
const fs = require("node:fs");
const log = require("node:path").basename(process.argv[1]) + ".log";
fs.appendFileSync(require("node:path").join(${JSON.stringify(dir)}, log), JSON.stringify(process.argv.slice(2)) + "\\n");
const args = process.argv.slice(2);
if (args.slice(-2).join(" ") !== "system dial-stdio") { process.stderr.write("unexpected: " + args.join(" ")); process.exit(2); }
const sock = require("node:net").connect(${JSON.stringify(PRIVATE_SOCKET)});
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on("close", () => process.exit(0));
`;
    for (const name of ["docker", "ssh"]) {
      writeFileSync(join(dir, name), relay);
      chmodSync(join(dir, name), 0o755);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const calls = (log: string) =>
    readFileSync(join(dir, log), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as string[]);

  it("docker -H fd://… leak version goes through the local docker's dial-stdio with the same globals", () => {
    const r = spawnSync(process.execPath, [BUNDLE, "-H", "fd://", "leak", "version", "--format", "json"], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${dir}:${process.env.PATH}`,
        DOCKER_HOST: undefined,
        DOCKER_CONTEXT: undefined,
      },
      timeout: 60_000,
    });
    assert.equal(r.status, 0, `stderr: ${r.stderr} stdout: ${r.stdout}`);
    assert.equal(JSON.parse(r.stdout).server.rootDir, PRIVATE_ROOT);
    const docker = calls("docker.log");
    assert.ok(docker.length >= 1 && docker.length <= 2, JSON.stringify(docker));
    for (const argv of docker) assert.deepEqual(argv, ["-H", "fd://", "system", "dial-stdio"]);
  });

  it("docker -H ssh://… leak version is ssh'd like docker's helper does it, on one connection", () => {
    const r = spawnSync(
      process.execPath,
      [BUNDLE, "-H", "ssh://dlt@example.invalid", "leak", "version", "--format", "json"],
      {
        encoding: "utf8",
        env: {
          ...process.env,
          PATH: `${dir}:${process.env.PATH}`,
          DOCKER_HOST: undefined,
          DOCKER_CONTEXT: undefined,
        },
        timeout: 60_000,
      },
    );
    assert.equal(
      r.status,
      0,
      `stderr: ${r.stderr} stdout: ${r.stdout} log: ${readFileSync(join(dir, "ssh.log"), "utf8")}`,
    );
    const v = JSON.parse(r.stdout);
    assert.equal(v.server.rootDir, PRIVATE_ROOT);
    assert.equal(v.endpoint.host, "ssh://dlt@example.invalid");
    const ssh = calls("ssh.log");
    assert.equal(ssh.length, 1, JSON.stringify(ssh));
    for (const argv of ssh)
      assert.deepEqual(argv.slice(-8), [
        "-T",
        "-l",
        "dlt",
        "--",
        "example.invalid",
        "docker",
        "system",
        "dial-stdio",
      ]);
  });
  const overSsh = () => ({
    ...process.env,
    PATH: `${dir}:${process.env.PATH}`,
    DOCKER_HOST: "ssh://dlt@example.invalid",
    DOCKER_CONTEXT: undefined,
  });
  const helpers = () =>
    dockerOk(["ps", "-aq", "--filter", "label=io.docker-leak.helper"]).split("\n").filter(Boolean);

  it("a scan over ssh:// finds a real leak and reads the helper's whole output on that one connection", async () => {
    const scope = new Scope();
    try {
      const name = scope.container(uniqueName("ssh-leak"));
      const id = dockerOk(["run", "-d", "--name", name, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"]);
      const holder = privateNamespaceHolder(scope);
      await waitForOwnNamespace(holder);
      dockerOk(["kill", name]);
      writeFileSync(join(dir, "ssh.log"), "");
      const before = new Set(helpers());
      const r = spawnSync(process.execPath, [BUNDLE, "leak", "scan", "--format", "json", name], {
        encoding: "utf8",
        env: overSsh(),
        timeout: 120_000,
      });
      assert.equal(r.status, 3, `stderr: ${r.stderr}`);
      const report = JSON.parse(r.stdout);
      const shm = report.findings.filter(
        (f: { target: { id: string }; resource: { kind: string }; holder: { pids: number[] } }) =>
          f.target.id === id && f.resource.kind === "shm" && f.holder.pids.includes(holder),
      );
      assert.equal(shm.length, 1, r.stdout);
      // The helper's summary record came through (the output is checked to be whole).
      assert.ok(report.stats.processes > 0, r.stdout);
      assert.equal(calls("ssh.log").length, 1, JSON.stringify(calls("ssh.log")));
      assert.deepEqual(
        helpers().filter((h) => !before.has(h)),
        [],
      );
    } finally {
      scope.cleanup();
    }
  });

  it("a container whose output follows it on the one connection can still be removed before it exits", {
    timeout: 60_000,
  }, async () => {
    writeFileSync(join(dir, "ssh.log"), "");
    const client = new DockerodeClient(
      { host: "ssh://dlt@example.invalid", context: "default", source: "test", configDir: dir },
      { rawGlobals: [], env: overSsh() },
    );
    const scope = new Scope();
    try {
      const name = scope.container(uniqueName("ssh-follow"));
      const id = await client.createContainer({
        name,
        Image: TEST_IMAGE,
        Cmd: ["sh", "-c", "echo started; exec sleep 600"],
        Labels: {},
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: { AutoRemove: true, LogConfig: { Type: "none", Config: {} }, NetworkMode: "none" },
      });
      const streams = await client.attachContainer(id);
      let out = "";
      const started = new Promise<void>((resolve) =>
        streams.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("started\n")) resolve();
        }),
      );
      await client.startContainer(id);
      await started;
      // The logs request now holds the shared connection until the container exits.
      await client.removeContainer(id, { force: true });
      await streams.ended;
      assert.equal(out, "started\n");
      assert.equal(spawnSync("docker", ["-H", `unix://${PRIVATE_SOCKET}`, "inspect", id]).status, 1);
      // The shared connection and one for the removal.
      assert.equal(calls("ssh.log").length, 2, JSON.stringify(calls("ssh.log")));
    } finally {
      // Its kept-alive relay would otherwise keep this test file's process alive.
      client.close();
      scope.cleanup();
    }
  });
});
