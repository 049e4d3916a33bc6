/**
 * The helper image on a real (private) daemon: loaded from the archive the plugin makes, known by
 * its expected ID, never a look-alike under its tag; concurrent first runs; superseded images
 * removed without force; the "No such image" retry; the sweep and `helper prune`; the digest
 * built into the bundle.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type PreparedHelper, prepareHelper, startPrepared } from "../../src/docker/helper.js";
import {
  type HelperLayer,
  helperArch,
  helperTag,
  LABEL_HELPER,
  LABEL_IMAGE,
  LABEL_SHA256,
  locateHelperBinary,
  makeHelperLayer,
} from "../../src/docker/helper-image.js";
import { findStaleHelpers, LABEL_DEADLINE } from "../../src/docker/helper-runner.js";
import type { DaemonFacts } from "../../src/model/inventory.js";
import { PLUGIN_VERSION } from "../../src/version.js";
import {
  docker,
  dockerOk,
  PRIVATE_HOST,
  REPO_ROOT,
  requireDaemon,
  TEST_IMAGE,
  uniqueName,
} from "../support/daemon.js";
import { type AnyRecord, HELPER_DIR, helperContainers, testClient } from "../support/helper.js";

const client = testClient();
let daemon: DaemonFacts;
let work: string;
/** Images and containers this file made (removed at the end, by ID). */
const madeImages: string[] = [];
const madeContainers: string[] = [];
const versions: string[] = [];

function testVersion(what: string): string {
  const v = `0.0.0-${what}.${process.pid}`;
  versions.push(v);
  return v;
}

/** What the plugin expects for `version` on this daemon (no daemon call). */
async function expected(version: string): Promise<HelperLayer> {
  const binary = locateHelperBinary(HELPER_DIR, helperArch(daemon.architecture));
  return makeHelperLayer(binary, { version, os: daemon.osType });
}

const prepare = (version: string, c = client) => prepareHelper(c, daemon, { helperDir: HELPER_DIR, version });

/** Runs the helper's `version` verb on the prepared image; returns its records and container. */
async function runVersion(
  helper: PreparedHelper,
  c = client,
): Promise<{ records: AnyRecord[]; image: string }> {
  const records: AnyRecord[] = [];
  let image = "";
  const run = startPrepared(c, helper, {
    mode: "version",
    args: [],
    onLine: (line) => records.push(JSON.parse(line)),
    afterCreate: async (id) => {
      image = dockerOk(["inspect", "--format", "{{.Image}}", id]);
    },
  });
  const done = await run.finished;
  assert.equal(done.exitCode, 0, done.stderr);
  return { records, image };
}

const imageExists = (ref: string) => docker(["image", "inspect", ref]).code === 0;
const imageIdOf = (ref: string) => dockerOk(["image", "inspect", "--format", "{{.Id}}", ref]);

/** `docker build` (classic builder) of a Dockerfile; returns the image ID. */
function build(dockerfile: string, tag: string): string {
  const ctx = mkdtempSync(join(work, "ctx-"));
  writeFileSync(join(ctx, "Dockerfile"), dockerfile);
  dockerOk(["build", "-q", "-t", tag, ctx], { DOCKER_BUILDKIT: "0" });
  const id = imageIdOf(tag);
  madeImages.push(id);
  return id;
}

/** Removes every image of ours for a test version (the test's own state). */
function removeVersion(version: string): void {
  if (imageExists(helperTag(version))) docker(["rmi", helperTag(version)]);
}

describe("the helper image on a real daemon", () => {
  before(async () => {
    requireDaemon();
    daemon = await client.info();
    work = mkdtempSync(join(tmpdir(), "dlt-helper-image-"));
  });
  after(() => {
    if (madeContainers.length) docker(["rm", "-f", ...madeContainers]);
    for (const id of madeImages.reverse()) docker(["rmi", id]);
    for (const v of versions) removeVersion(v);
    rmSync(work, { recursive: true, force: true });
  });

  it("is loaded (not built) with the expected ID, and reused without loading again", async () => {
    const version = testVersion("load");
    const want = await expected(version);
    assert.equal(imageExists(want.expectedId), false, "not there yet");
    const first = await prepare(version);
    assert.deepEqual(first.image, { id: want.expectedId, tag: helperTag(version), loaded: true });
    const inspect = JSON.parse(dockerOk(["image", "inspect", helperTag(version)]))[0];
    assert.equal(inspect.Id, want.expectedId, "the ID is the config's digest (classic image store)");
    assert.deepEqual(inspect.RootFS.Layers, [want.diffId]);
    assert.deepEqual(inspect.Config.Entrypoint, ["/docker-leak-helper"]);
    assert.equal(inspect.Config.User, "0:0");
    assert.equal(inspect.Config.Env, null);
    assert.deepEqual(inspect.Config.Labels, { [LABEL_IMAGE]: version, [LABEL_SHA256]: want.sha256 });
    assert.equal(inspect.Created, "1970-01-01T00:00:00Z");
    const second = await prepare(version);
    assert.deepEqual(second.image, { ...first.image, loaded: false });
    const { records, image } = await runVersion(second);
    assert.equal(records[0]?.type, "version");
    assert.equal(records[0]?.version, PLUGIN_VERSION);
    assert.equal(image, want.expectedId);
  });

  it("does not use a look-alike under its tag: loads its own, leaves the look-alike (untagged, not removed)", async () => {
    const version = testVersion("lookalike");
    const want = await expected(version);
    const tag = helperTag(version);
    await prepare(version);
    // Derived from ours: same layer, same labels (inherited), plus an environment.
    const derived = build(`FROM ${tag}\nENV LD_PRELOAD=/evil.so\n`, tag);
    const d = JSON.parse(dockerOk(["image", "inspect", derived]))[0];
    assert.deepEqual(d.RootFS.Layers, [want.diffId], "the layer check alone would take it");
    assert.equal(d.Config.Labels[LABEL_SHA256], want.sha256, "and so would the label");
    assert.equal(imageIdOf(tag), derived, "our tag names the look-alike now");
    const prepared = await prepare(version);
    assert.equal(prepared.image.id, want.expectedId);
    assert.equal(prepared.image.loaded, true);
    assert.equal(imageIdOf(tag), want.expectedId, "the load moved our tag back");
    assert.ok(imageExists(derived), "the look-alike is left alone");
    assert.equal((await runVersion(prepared)).image, want.expectedId, "the helper runs from our image");

    // Someone else's image with our labels and entrypoint, under our tag.
    const other = build(
      `FROM ${TEST_IMAGE}\nLABEL ${LABEL_IMAGE}="${version}" ${LABEL_SHA256}="${want.sha256}"\nENTRYPOINT ["/docker-leak-helper"]\n`,
      tag,
    );
    const again = await prepare(version);
    assert.equal(again.image.id, want.expectedId);
    assert.equal(again.image.loaded, true);
    assert.ok(imageExists(other), "left alone");
    assert.equal(imageIdOf(tag), want.expectedId);
  });

  it("ten concurrent first runs on a daemon without the image all succeed, and leave no helper container", async () => {
    const version = testVersion("concurrent");
    const want = await expected(version);
    removeVersion(version);
    assert.equal(imageExists(want.expectedId), false);
    const before = helperContainers();
    const runs = await Promise.allSettled(
      Array.from({ length: 10 }, async () => {
        const c = testClient(); // one client per run, as separate processes would have
        const helper = await prepare(version, c);
        return { helper, ...(await runVersion(helper, c)) };
      }),
    );
    const failed = runs
      .filter((r) => r.status === "rejected")
      .map((r) => String((r as PromiseRejectedResult).reason));
    assert.deepEqual(failed, [], "every run succeeded");
    for (const r of runs) {
      const v = (r as PromiseFulfilledResult<{ helper: PreparedHelper; records: AnyRecord[]; image: string }>)
        .value;
      assert.equal(v.helper.image.id, want.expectedId);
      assert.equal(v.image, want.expectedId);
      assert.equal(v.records[0]?.type, "version");
    }
    assert.ok(imageExists(want.expectedId));
    assert.deepEqual(
      helperContainers().filter((c) => !before.includes(c)),
      [],
      "no helper container left",
    );
  });

  it("removes superseded images of ours without force: one in use stays, the expected one and look-alikes always", async () => {
    const [v1, v2, v3] = [testVersion("old1"), testVersion("old2"), testVersion("new")];
    const one = await prepare(v1);
    // In use by a container (never started): it must survive the next load.
    const user = dockerOk(["create", "--entrypoint", "/docker-leak-helper", one.image.id, "version"]);
    madeContainers.push(user);
    const two = await prepare(v2);
    assert.ok(imageExists(one.image.id), "in use: kept");
    assert.ok(imageExists(two.image.id), "the expected one");
    docker(["rm", user]);
    const three = await prepare(v3);
    assert.equal(three.image.loaded, true);
    assert.equal(imageExists(one.image.id), false, "superseded, no longer in use: removed");
    assert.equal(imageExists(two.image.id), false, "superseded: removed");
    assert.ok(imageExists(three.image.id));
    for (const id of madeImages) assert.ok(imageExists(id), `look-alike ${id} left alone`);
  });

  it("when the image disappears before the create, it is loaded again and the run retried", async () => {
    const version = testVersion("gone");
    const helper = await prepare(version);
    dockerOk(["rmi", helper.image.id]);
    assert.equal(imageExists(helper.image.id), false);
    const { records, image } = await runVersion(helper);
    assert.equal(records[0]?.type, "version");
    assert.equal(image, helper.image.id, "the same, content-addressed ID");
    assert.ok(imageExists(helperTag(version)));
  });

  it("the sweep takes helpers of our image only, never one of a derived image", async () => {
    const version = testVersion("sweep");
    const helper = await prepare(version);
    const derived = build(`FROM ${helperTag(version)}\nENV X=1\n`, uniqueName("derived").toLowerCase());
    const labels = ["--label", `${LABEL_HELPER}=scan`];
    const [oursName, theirsName] = [uniqueName("sweep-ours"), uniqueName("sweep-theirs")];
    madeContainers.push(oursName, theirsName);
    const ours = dockerOk(["run", "--name", oursName, ...labels, helper.image.id, "version"]);
    const theirs = dockerOk(["run", "--name", theirsName, ...labels, derived, "version"]);
    assert.match(ours + theirs, /"type":"version"/);
    const oursId = dockerOk(["inspect", "--format", "{{.Id}}", oursName]);
    const theirsId = dockerOk(["inspect", "--format", "{{.Id}}", theirsName]);
    const stale = await findStaleHelpers(client, [helper.image.id]);
    assert.ok(stale.includes(oursId), "ours, exited: swept");
    assert.ok(!stale.includes(theirsId), "derived image: not ours");
  });

  it("a scan without --deep, so without DAC_READ_SEARCH, still reads another user's process", async () => {
    const helper = await prepare(testVersion("nodac"));
    const sleeper = spawn(
      "setpriv",
      ["--reuid", "65534", "--regid", "65534", "--clear-groups", "sleep", "120"],
      {
        stdio: "ignore",
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      const records: AnyRecord[] = [];
      let capAdd: string[] = [];
      const done = await startPrepared(client, helper, {
        mode: "scan",
        args: ["--filter", "/nonexistent-filter"],
        onLine: (line) => records.push(JSON.parse(line)),
        afterCreate: async (id) => {
          capAdd = JSON.parse(dockerOk(["inspect", "--format", "{{json .HostConfig.CapAdd}}", id]));
        },
      }).finished;
      assert.equal(done.exitCode, 0, done.stderr);
      assert.deepEqual(
        capAdd.map((c) => c.replace(/^CAP_/, "")),
        ["SYS_PTRACE"],
      );
      const proc = records.find((r) => r.type === "process" && r.pid === sleeper.pid);
      assert.ok(proc, "the process of uid 65534 is reported");
      assert.ok(proc.mntns > 0 && proc.root === "/", JSON.stringify(proc));
      assert.equal(records.filter((r) => r.type === "skipped" && r.pid === sleeper.pid).length, 0);
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  describe("through the bundle", () => {
    let bundle: string;
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, [bundle, ...args], {
        encoding: "utf8",
        env: {
          ...process.env,
          DOCKER_HOST: PRIVATE_HOST,
          NO_COLOR: "1",
          DOCKER_LEAK_HELPER_DIR: HELPER_DIR,
          ...env,
        },
        timeout: 120_000,
      });
    before(() => {
      bundle = join(work, "docker-leak.cjs");
      execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs"), "--single", bundle], {
        stdio: "pipe",
      });
    });

    it("uses a helper only when it matches the digest built into the bundle", async () => {
      const ok = run(["helper", "build"]);
      assert.equal(ok.status, 0, ok.stderr);
      const want = await expected(PLUGIN_VERSION);
      assert.equal(ok.stdout, `loaded ${helperTag(PLUGIN_VERSION)} (${want.expectedId})\n`);
      const tampered = mkdtempSync(join(work, "tampered-"));
      const name = `docker-leak-helper-linux-${helperArch(daemon.architecture)}`;
      copyFileSync(join(HELPER_DIR, name), join(tampered, name));
      appendFileSync(join(tampered, name), "\0");
      const bad = run(["helper", "build"], { DOCKER_LEAK_HELPER_DIR: tampered });
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /does not match the digest built into docker leak/);
      assert.match(bad.stderr, /reinstall/);
    });

    it("helper prune keeps a helper at work before its deadline and an image in use; removes them after", async () => {
      const prepared = await prepare(PLUGIN_VERSION);
      const busybox = ["-v", "/bin/busybox:/busybox:ro", "--entrypoint", "/busybox"];
      const atWork = (deadline: number) =>
        dockerOk([
          "run",
          "-d",
          "--label",
          `${LABEL_HELPER}=scan`,
          "--label",
          `${LABEL_DEADLINE}=${deadline}`,
          ...busybox,
          prepared.image.id,
          "sleep",
          "600",
        ]);
      const now = Math.floor(Date.now() / 1000);
      const running = atWork(now + 600);
      const overdue = atWork(now - 120);
      madeContainers.push(running, overdue);
      const lookalikes = madeImages.filter(imageExists);
      const first = run(["helper", "prune"]);
      assert.equal(first.status, 0, first.stderr);
      // The overdue one (and any helper left exited by the tests above).
      assert.match(first.stdout, /^removed [1-9]\d* helper container\(s\) and \d+ helper image\(s\)$/m);
      assert.match(first.stdout, /^kept 1 helper container\(s\) still at work/m);
      // In use: ours by the container above; others by the derived images made above (their parent).
      assert.match(first.stdout, /^kept \d+ helper image\(s\) in use by a container$/m);
      assert.equal(dockerOk(["inspect", "--format", "{{.State.Status}}", running]), "running");
      assert.equal(docker(["inspect", overdue]).code, 1, "the overdue helper is gone");
      assert.ok(imageExists(prepared.image.id), "in use: kept");
      for (const id of lookalikes) assert.ok(imageExists(id), `look-alike ${id} untouched`);
      dockerOk(["rm", "-f", running]);
      const second = run(["helper", "prune"]);
      assert.equal(second.status, 0, second.stderr);
      assert.match(second.stdout, /^removed 0 helper container\(s\) and [1-9]\d* helper image\(s\)$/m);
      assert.equal(imageExists(prepared.image.id), false);
      for (const id of lookalikes) assert.ok(imageExists(id), `look-alike ${id} untouched`);
    });
  });
});
