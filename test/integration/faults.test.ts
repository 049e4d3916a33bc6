/**
 * Faults: SIGINT/SIGTERM at every phase of `rm --force-unmount` (no half-state beyond what is
 * reported, no helper left, and a rerun completes the job), and the daemon going away in the
 * middle of a scan (clear error, exit 1, no helper left once it is back, the next run works).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startScan } from "../../src/docker/helper.js";
import { LeakError } from "../../src/errors.js";
import {
  docker,
  dockerOk,
  hostMountinfoLines,
  PRIVATE_SOCKET,
  plugin,
  pluginAsync,
  privateNamespaceHolder,
  REPO_ROOT,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  waitForOwnNamespace,
} from "../support/daemon.js";
import { helperContainers, helperHarness } from "../support/helper.js";

async function waitNoHelpers(): Promise<string[]> {
  // AutoRemove finishes asynchronously after the plugin exits.
  for (let i = 0; i < 50; i++) {
    if (!helperContainers().length) return [];
    await new Promise((r) => setTimeout(r, 100));
  }
  // What is left, with its state and command, for the failure message.
  return helperContainers().map((id) =>
    dockerOk(["inspect", "-f", "{{.ID}} {{.State.Status}} {{json .Config.Cmd}} {{.Created}}", id]),
  );
}

/** A stopped container whose shm a host process holds. */
async function leakedContainer(scope: Scope): Promise<{ name: string; id: string; holder: number }> {
  const name = scope.container(uniqueName("fault"));
  const id = dockerOk(["run", "-d", "--name", name, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"]);
  const holder = privateNamespaceHolder(scope);
  await waitForOwnNamespace(holder);
  dockerOk(["stop", "-t", "0", name]);
  assert.ok(hostMountinfoLines(id).some((l) => l.pid === holder));
  return { name, id, holder };
}

describe("faults", () => {
  const scope = new Scope();
  before(() => requireDaemon());
  after(() => scope.cleanup());

  for (const [signal, delayMs] of [
    ["SIGINT", 150],
    ["SIGINT", 600],
    ["SIGTERM", 1200],
    ["SIGINT", 2000],
    ["SIGTERM", 3000],
  ] as const) {
    it(`${signal} ${delayMs} ms into rm --force-unmount: no helper left, a rerun completes the job`, async () => {
      const leak = await leakedContainer(scope);
      const child = pluginAsync(["rm", "--force-unmount", leak.name]);
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      const exited = new Promise<[number | null, string | null]>((resolve) =>
        child.on("exit", (code, sig) => resolve([code, sig])),
      );
      setTimeout(() => child.kill(signal), delayMs);
      const [code, killedBy] = await exited;
      // 130 once it runs; killed by the signal itself only if it came before Node ran any of our code.
      assert.ok(code === 130 || code === 0 || killedBy === signal, `exit ${code} (${killedBy}): ${err}`);
      if (code === 130) assert.match(err, new RegExp(`interrupted by ${signal}`));
      assert.doesNotMatch(err, /internal error|\n\s+at /);
      assert.deepEqual(await waitNoHelpers(), [], "no helper container left");

      // What is left is a consistent state: the container is there or gone, and a rerun finishes.
      if (docker(["inspect", leak.name]).code === 0) {
        const rerun = plugin(["rm", "--force-unmount", leak.name]);
        assert.equal(rerun.code, 0, `${rerun.stdout}${rerun.stderr}`);
      }
      assert.equal(docker(["inspect", leak.name]).code, 1, "removed");
      assert.deepEqual(hostMountinfoLines(leak.id), [], "nothing of it is mounted anywhere");
      assert.ok(spawnSync("kill", ["-0", String(leak.holder)]).status === 0, "the holder still runs");
    });
  }

  it("the daemon going away mid-rm: clear error and exit 1; once it is back, a rerun completes the job", async () => {
    const leak = await leakedContainer(scope);
    const child = pluginAsync(["rm", "--force-unmount", leak.name]);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Stop the daemon once a helper container (the scan or the unmount one) exists.
    for (let i = 0; i < 400 && !helperContainers().length && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const stop = spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), ["stop"], { encoding: "utf8" });
    assert.equal(stop.status, 0, stop.stderr);
    const code = await exited;
    try {
      assert.ok(code === 1 || code === 0, `exit ${code}: ${out}${err}`);
      if (code === 1) assert.match(err, /^docker leak: /m);
      assert.doesNotMatch(err, /internal error|\n\s+at /);
    } finally {
      const start = spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), ["start"], { encoding: "utf8" });
      assert.equal(start.status, 0, start.stderr);
    }
    if (docker(["inspect", leak.name]).code === 0) {
      const rerun = plugin(["rm", "--force-unmount", leak.name]);
      assert.equal(rerun.code, 0, `${rerun.stdout}${rerun.stderr}`);
    }
    assert.equal(docker(["inspect", leak.name]).code, 1, "removed");
    assert.deepEqual(hostMountinfoLines(leak.id), [], "nothing of it is mounted anywhere");
    assert.deepEqual(await waitNoHelpers(), [], "no helper container left");
  });

  it("the daemon going away mid-scan: clear error and exit 1; once it is back, no helper is left and scan works", async () => {
    const child = pluginAsync(["scan", "--deep"]);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Stop the daemon as soon as the helper container exists.
    for (let i = 0; i < 200 && !helperContainers().length && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const stop = spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), ["stop"], { encoding: "utf8" });
    assert.equal(stop.status, 0, stop.stderr);
    const code = await exited;
    try {
      if (code !== 0 && code !== 3) {
        assert.equal(code, 1, `${out}${err}`);
        assert.match(err, /^docker leak: .*(Docker daemon|daemon|helper)/m);
        assert.doesNotMatch(err, /internal error|\n\s+at /);
      }
    } finally {
      const start = spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), ["start"], { encoding: "utf8" });
      assert.equal(start.status, 0, start.stderr);
    }
    const next = plugin(["scan", "--format", "json"]);
    assert.ok(next.code === 0 || next.code === 3, next.stderr);
    assert.equal(JSON.parse(next.stdout).schemaVersion, 1);
    assert.deepEqual(await waitNoHelpers(), [], "no helper container left once the daemon is back");
  });
});

describe("a helper that crashes or is killed", () => {
  const images: string[] = [];
  before(() => requireDaemon());
  after(() => {
    for (const image of images) docker(["rmi", "-f", image]);
  });

  /**
   * An image standing in for the helper (FROM scratch, a static C program): it says something on
   * stderr, then waits to be killed from outside; it runs under the helper's HostConfig, seccomp
   * profile included, which refuses kill(2) and a shell's needs.
   */
  function dyingImage(signal: "SEGV" | "KILL"): string {
    const tag = `dlt-dying-helper-${signal.toLowerCase()}:${process.pid}`;
    const dir = mkdtempSync(join(tmpdir(), "dlt-stand-in-"));
    try {
      execFileSync("musl-gcc", [
        "-static",
        "-O2",
        "-o",
        join(dir, "stand-in"),
        join(REPO_ROOT, "test/support/stand-in-helper.c"),
      ]);
      writeFileSync(
        join(dir, "Dockerfile"),
        // At the helper's path: the plugin pins the entrypoint of its helper containers.
        'FROM scratch\nCOPY stand-in /docker-leak-helper\nENTRYPOINT ["/docker-leak-helper"]\n',
      );
      const r = spawnSync("docker", ["build", "-q", "-t", tag, dir], {
        encoding: "utf8",
        env: { ...process.env, DOCKER_HOST: `unix://${PRIVATE_SOCKET}`, DOCKER_BUILDKIT: "0" },
      });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    images.push(tag);
    return tag;
  }

  for (const [signal, says] of [
    ["SEGV", /the helper \(scan\) exited with status 139 \(crashed: segmentation fault\): about to die/],
    ["KILL", /the helper \(scan\) exited with status 137 \(killed\): about to die/],
  ] as const) {
    it(`SIG${signal}: a clear error naming the helper, and no container left`, async () => {
      const h = await helperHarness();
      const image = dyingImage(signal);
      const before = helperContainers();
      const scanning = startScan(
        h.docker,
        { image: { id: image, tag: image, loaded: false }, daemon: h.daemon },
        { filters: [], deep: false },
      ).scan;
      scanning.catch(() => undefined);
      let standIn: string | undefined;
      for (let i = 0; i < 200 && !standIn; i++) {
        await new Promise((r) => setTimeout(r, 50));
        standIn = dockerOk([
          "ps",
          "-q",
          "--no-trunc",
          "--filter",
          `ancestor=${image}`,
          "--filter",
          "status=running",
        ])
          .split("\n")
          .find(Boolean);
      }
      assert.ok(standIn, "the stand-in helper started");
      await new Promise((r) => setTimeout(r, 300)); // its stderr line is out
      dockerOk(["kill", "--signal", signal, standIn]);
      await assert.rejects(scanning, (err: unknown) => {
        assert.ok(err instanceof LeakError, String(err));
        assert.match(err.message, says);
        return true;
      });
      assert.deepEqual(
        (await waitNoHelpers()).filter((c) => !before.some((b) => c.startsWith(b))),
        [],
        "no helper container left",
      );
    });
  }
});
