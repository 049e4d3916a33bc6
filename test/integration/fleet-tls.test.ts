/**
 * Daemons over tcp:// with TLS, and each daemon's deadline in a fleet scan, on real daemons: a
 * private dockerd of this file's own listening on 127.0.0.1 with --tlsverify (certificates made
 * here by scripts/test-tls.sh: CA, server, client, and a CA that signed nothing), the shared
 * private daemon beside it, and a fake daemon (a unix socket in this process) that accepts
 * connections and never answers. A host process in a private mount namespace holds the shm of a
 * stopped container on the TLS daemon: a real leak, found through TLS.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  BUNDLE,
  docker,
  dockerOk,
  PRIVATE_HOST,
  privateNamespaceHolder,
  REPO_ROOT,
  requireDaemon,
  Scope,
  uniqueName,
  waitForOwnNamespace,
} from "../support/daemon.js";

const ROOT = "/var/lib/dlt-fleet-tls/root";
const RUN = "/run/dlt-fleet-tls";
const UNIX = `unix://${RUN}/docker.sock`;

const daemonScript = (verb: string, certs: string) =>
  spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), [verb], {
    encoding: "utf8",
    env: {
      ...process.env,
      DOCKER_LEAK_TEST_ROOT: ROOT,
      DOCKER_LEAK_TEST_RUN: RUN,
      DOCKER_LEAK_TEST_TLS: certs,
    },
    timeout: 180_000,
  });

describe("tcp+TLS daemons and each daemon's deadline", { concurrency: false }, () => {
  const scope = new Scope();
  let certs = "";
  let config = "";
  let stuckDir = "";
  let stuck: Server | undefined;
  const held: Socket[] = [];
  let tcp = "";
  let leak = "";
  let env: NodeJS.ProcessEnv = {};

  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [BUNDLE, ...args], {
      encoding: "utf8",
      env: { ...env, ...extra },
      timeout: 300_000,
      maxBuffer: 512 * 1024 * 1024,
    });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  const helpersOnTls = () =>
    dockerOk(["ps", "-aq", "--filter", "label=io.docker-leak.helper"], { DOCKER_HOST: UNIX });
  const leakIn = (stdout: string) => stdout.includes(leak.slice(0, 12));

  before(async () => {
    requireDaemon();
    certs = mkdtempSync(join(tmpdir(), "dlt-fleet-tls-certs-"));
    const made = spawnSync(join(REPO_ROOT, "scripts", "test-tls.sh"), ["certs", certs], { encoding: "utf8" });
    assert.equal(made.status, 0, made.stderr);
    const started = daemonScript("start", certs);
    assert.equal(started.status, 0, started.stderr);
    tcp = `tcp://127.0.0.1:${readFileSync(join(certs, "port"), "utf8").trim()}`;
    config = mkdtempSync(join(tmpdir(), "dlt-fleet-tls-config-"));
    env = {
      ...process.env,
      DOCKER_CONFIG: config,
      // No scan may reach the host's own daemon.
      DOCKER_HOST: "unix:///nonexistent/dlt-default.sock",
      DOCKER_CONTEXT: undefined,
      DOCKER_TLS_VERIFY: undefined,
      DOCKER_CERT_PATH: undefined,
      NO_COLOR: "1",
    };
    // The fake daemon: accepts, reads, never answers.
    stuckDir = mkdtempSync(join(tmpdir(), "dlt-fleet-stuck-"));
    stuck = createServer((socket) => {
      held.push(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => stuck!.listen(join(stuckDir, "docker.sock"), resolve));
    const pem = (f: string) => join(certs, f);
    const contexts: [string, string][] = [
      ["dlt-tls", `host=${tcp},ca=${pem("ca.pem")},cert=${pem("cert.pem")},key=${pem("key.pem")}`],
      [
        "dlt-tls-wrong-ca",
        `host=${tcp},ca=${pem("wrong-ca.pem")},cert=${pem("cert.pem")},key=${pem("key.pem")}`,
      ],
      ["dlt-tls-no-cert", `host=${tcp},ca=${pem("ca.pem")}`],
      ["dlt-shared", `host=${PRIVATE_HOST}`],
      ["dlt-stuck", `host=unix://${join(stuckDir, "docker.sock")}`],
    ];
    for (const [name, docker] of contexts)
      dockerOk(["context", "create", name, "--docker", docker], { DOCKER_CONFIG: config });
    // A stopped --ipc shareable container on the TLS daemon whose shm a host process holds.
    leak = dockerOk(
      [
        "run",
        "-d",
        "--name",
        uniqueName("tls"),
        "--ipc",
        "shareable",
        "docker-leak-test/busybox:latest",
        "sleep",
        "600",
      ],
      { DOCKER_HOST: UNIX },
    );
    scope.defer(() => docker(["rm", "-f", leak], { DOCKER_HOST: UNIX }));
    await waitForOwnNamespace(privateNamespaceHolder(scope));
    dockerOk(["stop", "-t", "0", leak], { DOCKER_HOST: UNIX });
  });

  after(async () => {
    scope.cleanup();
    for (const s of held) s.destroy();
    if (stuck) await new Promise((resolve) => stuck!.close(resolve));
    if (config) rmSync(config, { recursive: true, force: true });
    if (stuckDir) rmSync(stuckDir, { recursive: true, force: true });
    if (certs) {
      const stopped = daemonScript("stop", certs);
      assert.equal(stopped.status, 0, stopped.stderr);
      rmSync(certs, { recursive: true, force: true });
    }
    const dirs = ["/var/lib/dlt-fleet-tls", RUN];
    const mounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => dirs.some((dir) => l.includes(` ${dir}/`) || l.includes(` ${dir} `)));
    assert.deepEqual(mounts, [], "no mount of the TLS daemon is left");
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("a tcp+TLS context: its leak found through TLS, alone and in a fleet", () => {
    const one = run(["leak", "scan", "--context", "dlt-tls", "--format", "json"]);
    assert.equal(one.code, 3, one.stderr);
    const doc = JSON.parse(one.stdout);
    assert.equal(doc.daemon.rootDir, ROOT);
    assert.ok(doc.findings.some((f: { severity: string; target: { id?: string } }) => f.target.id === leak));
    const fleet = run(["leak", "scan", "--context", "dlt-tls,dlt-shared", "--format", "json"]);
    assert.equal(fleet.code, 3, fleet.stderr);
    const entries = JSON.parse(fleet.stdout).daemons;
    assert.deepEqual(
      entries.map((d: { context: string; status: string; endpoint: string }) => [
        d.context,
        d.status,
        d.endpoint,
      ]),
      [
        ["dlt-tls", "ok", tcp],
        ["dlt-shared", "ok", PRIVATE_HOST],
      ],
    );
    assert.ok(entries[0].report.findings.some((f: { target: { id?: string } }) => f.target.id === leak));
    assert.equal(helpersOnTls(), "", "no helper left on the TLS daemon");
  });

  it("a context with the wrong CA: named in its error, non-zero, the others still reported", () => {
    const fleet = run(["leak", "scan", "--context", "dlt-tls-wrong-ca,dlt-tls,dlt-shared"]);
    assert.equal(fleet.code, 3, fleet.stderr);
    assert.ok(leakIn(fleet.stdout), fleet.stdout);
    assert.match(
      fleet.stderr,
      /^dlt-tls-wrong-ca: error: tls: failed to verify the certificate of the Docker daemon at tcp:\/\/127\.0\.0\.1:\d+ \(from context "dlt-tls-wrong-ca" \(--context\)\): .*\(not signed by the CA of context "dlt-tls-wrong-ca"\)$/m,
    );
    assert.match(fleet.stderr, /^dlt-tls: /m);
    assert.match(fleet.stderr, /^dlt-shared: /m);
    const alone = run(["leak", "scan", "--context", "dlt-tls-wrong-ca"]);
    assert.equal(alone.code, 1);
    assert.match(alone.stderr, /^docker leak: tls: failed to verify .*context "dlt-tls-wrong-ca"/);
    assert.equal(alone.stdout, "");
  });

  it("DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH and --tlsverify --tlscacert … as with the docker CLI", () => {
    const byEnv = run(["leak", "scan", "-q"], {
      DOCKER_HOST: tcp,
      DOCKER_TLS_VERIFY: "1",
      DOCKER_CERT_PATH: certs,
    });
    assert.equal(byEnv.code, 3, byEnv.stderr);
    assert.ok(leakIn(byEnv.stdout));
    const pem = (f: string) => join(certs, f);
    const flags = ["-H", tcp, "--tlsverify", "--tlscacert", pem("ca.pem"), "--tlscert", pem("cert.pem")];
    const byFlags = run([...flags, "--tlskey", pem("key.pem"), "leak", "scan", "-q"]);
    assert.equal(byFlags.code, 3, byFlags.stderr);
    assert.ok(leakIn(byFlags.stdout));
    // The docker CLI agrees on both (the same daemon, the same material).
    assert.equal(
      spawnSync("docker", ["ps", "-q"], {
        env: { ...env, DOCKER_HOST: tcp, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certs },
      }).status,
      0,
    );
    // The wrong CA by flag: refused, nothing scanned.
    const wrong = run([
      "-H",
      tcp,
      "--tlsverify",
      "--tlscacert",
      pem("wrong-ca.pem"),
      "--tlscert",
      pem("cert.pem"),
      "--tlskey",
      pem("key.pem"),
      "leak",
      "scan",
      "-q",
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /certificate/);
    assert.equal(wrong.stdout, "");
    // Without a client certificate the daemon (--tlsverify) refuses the handshake.
    const noCert = run(["leak", "scan", "--context", "dlt-tls-no-cert"]);
    assert.equal(noCert.code, 1);
    assert.match(
      noCert.stderr,
      /^docker leak: tls: the handshake with the Docker daemon at .* failed: the daemon answered "alert/,
    );
  });

  it("--timeout: a daemon that accepts and never answers times out in its entry; the real one is reported", async () => {
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [BUNDLE, "leak", "scan", "--context", "dlt-stuck,dlt-tls", "--timeout", "3s", "--format", "json"],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    // Bounded: a hung fleet is killed (and fails below) rather than holding the suite.
    const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearTimeout(killer);
    assert.equal(code, 3, `${stdout}\n${stderr}`);
    assert.ok(held.length >= 1, "the fake daemon was connected to");
    const [stuckEntry, tls] = JSON.parse(stdout).daemons;
    assert.equal(stuckEntry.context, "dlt-stuck");
    assert.equal(stuckEntry.status, "error");
    assert.equal(stuckEntry.error, "timed out after 3s: the scan of this daemon was stopped");
    assert.equal(stuckEntry.report, null);
    assert.equal(tls.status, "ok");
    assert.ok(tls.report.findings.some((f: { target: { id?: string } }) => f.target.id === leak));
    assert.match(stderr, /^dlt-stuck: error: timed out after 3s/m);
    // Printed, not asserted as a speed: the whole run ended soon after the stuck daemon's bound.
    console.log(`# a fleet with a stuck daemon (--timeout 3s) took ${Date.now() - started} ms`);
    assert.equal(helpersOnTls(), "");
  });
});
