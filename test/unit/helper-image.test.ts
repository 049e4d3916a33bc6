/**
 * The helper image as the plugin makes it (a docker-archive built from the checked binary), the
 * rule that decides which image is ours, loading, superseded images, the "No such image" retry
 * and `helper prune`'s selection, against a hand-written fake daemon.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { after, before, describe, it } from "node:test";
import { pruneSelection } from "../../src/cli/commands/helper.js";
import type { ContainerSpec, ContainerSummary, DockerClient, ImageDetails } from "../../src/docker/client.js";
import { ApiError } from "../../src/docker/client.js";
import { lookupHelper, prepareHelper, startPrepared } from "../../src/docker/helper.js";
import {
  findHelperImage,
  type HelperBinary,
  type HelperLayer,
  helperArchive,
  helperImageConfig,
  isHelperImage,
  LABEL_HELPER,
  LABEL_IMAGE,
  LABEL_SHA256,
  loadHelperImage,
  locateHelperBinary,
  makeHelperLayer,
} from "../../src/docker/helper-image.js";
import { LABEL_DEADLINE } from "../../src/docker/helper-runner.js";
import type { DaemonFacts } from "../../src/model/inventory.js";

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const BYTES = Buffer.from("\x7fELF a static helper, for the tests\n");
const binary = (bytes = BYTES): HelperBinary => ({ arch: "amd64", path: "/x", sha256: sha256(bytes), bytes });
const VERSION = "9.8.7";

interface TarEntry {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  type: string;
  data: Buffer;
}

/** A minimal ustar reader, independent of the packer under test. */
function readTar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  const str = (b: Buffer, at: number, len: number) =>
    b
      .subarray(at, at + len)
      .toString("utf8")
      .replace(/\0.*$/s, "");
  const oct = (b: Buffer, at: number, len: number) => Number.parseInt(str(b, at, len).trim() || "0", 8);
  let at = 0;
  while (at + 512 <= tar.length) {
    const h = tar.subarray(at, at + 512);
    if (h.every((x) => x === 0)) break;
    const size = oct(h, 124, 12);
    entries.push({
      name: str(h, 0, 100),
      mode: oct(h, 100, 8),
      uid: oct(h, 108, 8),
      gid: oct(h, 116, 8),
      uname: str(h, 265, 32),
      gname: str(h, 297, 32),
      mtime: oct(h, 136, 12),
      type: str(h, 156, 1),
      data: tar.subarray(at + 512, at + 512 + size),
    });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

describe("the helper image archive", () => {
  let layer: HelperLayer;
  before(async () => {
    layer = await makeHelperLayer(binary(), { version: VERSION, os: "linux" });
  });

  it("is the same bytes every time (layer, config, archive)", async () => {
    const again = await makeHelperLayer(binary(Buffer.from(BYTES)), { version: VERSION, os: "linux" });
    assert.ok((await again.layerTar()).equals(await layer.layerTar()), "layer tar");
    assert.ok(again.config.equals(layer.config), "config");
    assert.equal(again.expectedId, layer.expectedId);
    assert.ok((await helperArchive(again)).equals(await helperArchive(layer)), "archive");
  });

  it("has a layer holding only the binary: owner 0:0, mode 0755, mtime 0", async () => {
    const entries = readTar(await layer.layerTar());
    assert.equal(entries.length, 1);
    const [e] = entries;
    assert.equal(e!.name, "docker-leak-helper");
    assert.equal(e!.type, "0", "a regular file");
    assert.equal(e!.mode, 0o755);
    assert.equal(e!.uid, 0);
    assert.equal(e!.gid, 0);
    assert.equal(e!.uname, "");
    assert.equal(e!.gname, "");
    assert.equal(e!.mtime, 0);
    assert.ok(e!.data.equals(BYTES), "the binary's bytes");
  });

  it("has the config as documented; the expected ID is the SHA-256 of its exact bytes", async () => {
    assert.equal(layer.diffId, `sha256:${sha256(await layer.layerTar())}`);
    assert.equal(layer.expectedId, `sha256:${sha256(layer.config)}`);
    assert.equal(layer.sha256, sha256(BYTES));
    assert.equal(layer.tag, `docker-leak-helper:${VERSION}`);
    const config = JSON.parse(layer.config.toString("utf8")) as {
      config: { Labels: Record<string, string>; Env?: unknown };
    };
    assert.deepEqual(config, {
      architecture: "amd64",
      config: {
        Entrypoint: ["/docker-leak-helper"],
        User: "0:0",
        WorkingDir: "/",
        Labels: { [LABEL_IMAGE]: VERSION, [LABEL_SHA256]: sha256(BYTES) },
      },
      created: "1970-01-01T00:00:00Z",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [layer.diffId] },
    } as unknown);
    // Containers inherit image labels: the one a helper container carries is not among them.
    assert.equal(config.config.Labels[LABEL_HELPER], undefined);
    assert.equal(config.config.Env, undefined);
    assert.ok(
      helperImageConfig({
        arch: "amd64",
        os: "linux",
        version: VERSION,
        sha256: sha256(BYTES),
        diffId: layer.diffId,
      }).equals(layer.config),
    );
  });

  it("is a docker-archive: manifest.json naming the config, the layer and our tag", async () => {
    const entries = readTar(await helperArchive(layer));
    assert.deepEqual(
      entries.map((e) => e.name),
      ["manifest.json", `${layer.expectedId.slice(7)}.json`, `${layer.diffId.slice(7)}.tar`],
    );
    for (const e of entries) assert.deepEqual([e.uid, e.gid, e.mtime, e.mode], [0, 0, 0, 0o644], e.name);
    const manifest = JSON.parse(entries[0]!.data.toString("utf8"));
    assert.deepEqual(manifest, [
      { Config: entries[1]!.name, RepoTags: [`docker-leak-helper:${VERSION}`], Layers: [entries[2]!.name] },
    ]);
    assert.ok(entries[1]!.data.equals(layer.config));
    assert.ok(entries[2]!.data.equals(await layer.layerTar()));
  });

  it("takes the layer's digest from the build when it computed it for these bytes, and checks it when packing", async () => {
    const built = await makeHelperLayer(
      binary(),
      { version: VERSION, os: "linux" },
      { [layer.sha256]: layer.diffId },
    );
    assert.equal(built.expectedId, layer.expectedId, "the same image, known without packing");
    assert.ok((await built.layerTar()).equals(await layer.layerTar()));
    const wrong = await makeHelperLayer(
      binary(),
      { version: VERSION, os: "linux" },
      { [layer.sha256]: `sha256:${"0".repeat(64)}` },
    );
    await assert.rejects(wrong.layerTar(), /is not the one docker leak was built with/);
  });

  it("changes with the binary, the version and the architecture", async () => {
    const other = await makeHelperLayer(binary(Buffer.from("\x7fELF another")), { version: VERSION });
    assert.notEqual(other.diffId, layer.diffId);
    assert.notEqual(other.expectedId, layer.expectedId);
    const newer = await makeHelperLayer(binary(), { version: "9.8.8" });
    assert.equal(newer.diffId, layer.diffId, "same layer");
    assert.notEqual(newer.expectedId, layer.expectedId, "another config");
    const arm = await makeHelperLayer({ ...binary(), arch: "arm64" }, { version: VERSION });
    assert.equal(JSON.parse(arm.config.toString()).architecture, "arm64");
    assert.notEqual(arm.expectedId, layer.expectedId);
  });
});

describe("the helper binary is checked against the digest built into the bundle", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "dlt-unit-helper-bin-"));
    writeFileSync(join(dir, "docker-leak-helper-linux-amd64"), BYTES);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts the binary whose SHA-256 is built in, and returns the bytes it checked", () => {
    const b = locateHelperBinary(dir, "amd64", { amd64: sha256(BYTES) });
    assert.equal(b.sha256, sha256(BYTES));
    assert.ok(b.bytes.equals(BYTES));
  });

  it("refuses another binary, with a clear message", () => {
    assert.throws(
      () => locateHelperBinary(dir, "amd64", { amd64: sha256("something else") }),
      /docker-leak-helper-linux-amd64 does not match the digest built into docker leak .*reinstall/,
    );
  });

  it("a bundle built without a helper refuses to use any for that architecture", () => {
    assert.throws(() => locateHelperBinary(dir, "amd64", {}), /built without the helper for linux\/amd64/);
    assert.throws(
      () => locateHelperBinary(dir, "arm64", { amd64: sha256(BYTES) }),
      /built without the helper for linux\/arm64/,
    );
  });

  it("unbundled (digests undefined: under tsx) the check is skipped; a missing binary is still named", () => {
    assert.equal(locateHelperBinary(dir, "amd64", undefined).sha256, sha256(BYTES));
    assert.throws(
      () => locateHelperBinary(dir, "arm64", undefined),
      /helper binary for linux\/arm64 is missing/,
    );
  });
});

/** What the daemon shows for an image made from `layer`: its ID, layer and config. */
function inspected(layer: HelperLayer, over: Partial<ImageDetails> = {}): ImageDetails {
  return {
    id: layer.expectedId,
    labels: { [LABEL_IMAGE]: layer.version, [LABEL_SHA256]: layer.sha256 },
    repoTags: [layer.tag],
    architecture: "amd64",
    os: "linux",
    layers: [layer.diffId],
    config: {
      entrypoint: ["/docker-leak-helper"],
      cmd: [],
      env: [],
      user: "0:0",
      workingDir: "/",
      volumes: [],
      exposedPorts: [],
      healthcheck: [],
      onBuild: [],
      stopSignal: "",
    },
    ...over,
  };
}

interface FakeDaemon extends DockerClient {
  images: Map<string, ImageDetails>;
  tags: Map<string, string>;
  loads: Buffer[];
  removedImages: string[];
  removedContainers: string[];
  creates: ContainerSpec[];
  inUse: Set<string>;
  /** What a load makes: by default the image of the archive's config, under the archive's tag. */
  onLoad?: (archive: Buffer) => void;
  /** Fails the next creates with this error. */
  failCreates: Error[];
}

const DAEMON = { architecture: "x86_64", osType: "linux", securityOptions: [] } as unknown as DaemonFacts;

function fakeDaemon(layerForLoad?: () => HelperLayer): FakeDaemon {
  const images = new Map<string, ImageDetails>();
  const tags = new Map<string, string>();
  const done = () => {
    const s = new PassThrough();
    s.end();
    return s;
  };
  const fake: Partial<FakeDaemon> = {
    images,
    tags,
    loads: [],
    removedImages: [],
    removedContainers: [],
    creates: [],
    inUse: new Set(),
    failCreates: [],
    endpoint: { host: "unix:///fake.sock", context: "default", source: "test", configDir: "/x" },
    info: async () => DAEMON,
    version: async () => ({ arch: "amd64" }) as never,
    listContainers: async () => [],
    inspectImage: async (ref: string) => images.get(tags.get(ref) ?? ref),
    listImages: async (filters: Record<string, string[]>) =>
      [...images.values()].filter((i) => (filters.label ?? []).every((l) => l in i.labels)),
    loadImage: async (archive: Readable) => {
      const bytes = await buffer(archive);
      fake.loads!.push(bytes);
      if (fake.onLoad) return fake.onLoad(bytes);
      const layer = layerForLoad!();
      images.set(layer.expectedId, inspected(layer));
      tags.set(layer.tag, layer.expectedId);
    },
    removeImage: async (ref: string) => {
      const id = tags.get(ref) ?? ref;
      if (!images.has(id)) throw new ApiError(`remove image ${ref}: No such image`, 404);
      if (fake.inUse!.has(id)) throw new ApiError(`remove image ${ref}: conflict: image is being used`, 409);
      fake.removedImages!.push(id);
      images.delete(id);
      for (const [t, i] of tags) if (i === id) tags.delete(t);
    },
    createContainer: async (spec: ContainerSpec) => {
      fake.creates!.push(spec);
      const failure = fake.failCreates!.shift();
      if (failure) throw failure;
      return `helper-${fake.creates!.length}`;
    },
    attachContainer: async () => {
      const stdout = new PassThrough();
      stdout.end('{"type":"version","version":"9.8.7","protocol":2}\n');
      return { stdout, stderr: done(), ended: Promise.resolve() };
    },
    startContainer: async () => undefined,
    waitContainer: async () => 0,
    removeContainer: async (id: string) => {
      fake.removedContainers!.push(id);
    },
  };
  return fake as FakeDaemon;
}

describe("which image is ours (the trust rule)", () => {
  let layer: HelperLayer;
  before(async () => {
    layer = await makeHelperLayer(binary(), { version: VERSION });
  });

  it("the image with the expected ID, under our tag", async () => {
    const docker = fakeDaemon();
    docker.images.set(layer.expectedId, inspected(layer));
    docker.tags.set(layer.tag, layer.expectedId);
    assert.deepEqual(await findHelperImage(docker, layer, layer.tag), {
      id: layer.expectedId,
      tag: layer.tag,
      loaded: false,
    });
  });

  it("with a containerd image store, an ID that is not the config's digest, but exactly our layer and config", async () => {
    const docker = fakeDaemon();
    const manifestDigest = `sha256:${"m".repeat(64)}`;
    docker.images.set(manifestDigest, inspected(layer, { id: manifestDigest }));
    docker.tags.set(layer.tag, manifestDigest);
    assert.equal((await findHelperImage(docker, layer, layer.tag))?.id, manifestDigest);
  });

  const lookAlikes: [string, (l: HelperLayer) => Partial<ImageDetails>][] = [
    ["another layer (wrong diff_id)", () => ({ layers: [`sha256:${"0".repeat(64)}`] })],
    ["a layer on top of ours", (l) => ({ layers: [l.diffId, `sha256:${"1".repeat(64)}`] })],
    [
      "another binary's SHA-256 label",
      (l) => ({ labels: { [LABEL_IMAGE]: l.version, [LABEL_SHA256]: "f".repeat(64) } }),
    ],
    ["another version", (l) => ({ labels: { [LABEL_IMAGE]: "0.0.1", [LABEL_SHA256]: l.sha256 } })],
    ["an extra label", (l) => ({ labels: { ...inspected(l).labels, [LABEL_HELPER]: "1" } })],
    ["no labels", () => ({ labels: {} })],
  ];
  const configs: [string, Partial<ImageDetails["config"]>][] = [
    ["an environment (derived: ENV)", { env: ["LD_PRELOAD=/x"] }],
    ["another entrypoint", { entrypoint: ["/bin/sh"] }],
    ["a command", { cmd: ["umount"] }],
    ["another user", { user: "1000" }],
    ["another working directory", { workingDir: "/tmp" }],
    ["a volume", { volumes: ["/data"] }],
    ["a healthcheck", { healthcheck: ["CMD", "/docker-leak-helper", "umount", "1:2:/"] }],
    ["ONBUILD", { onBuild: ["RUN x"] }],
    ["an exposed port", { exposedPorts: ["80/tcp"] }],
    ["a stop signal", { stopSignal: "SIGKILL" }],
  ];
  for (const [what, over] of lookAlikes) {
    it(`not an image under our tag with ${what}`, async () => {
      const docker = fakeDaemon();
      const id = `sha256:${"a".repeat(64)}`;
      docker.images.set(id, inspected(layer, { id, ...over(layer) }));
      docker.tags.set(layer.tag, id);
      assert.equal(await findHelperImage(docker, layer, layer.tag), undefined);
      // Not even with the expected ID (whatever a daemon would resolve it to).
      assert.equal(isHelperImage(inspected(layer, over(layer)), layer), false);
    });
  }
  for (const [what, over] of configs) {
    it(`not an image with our layer and labels but ${what}`, async () => {
      const docker = fakeDaemon();
      const base = inspected(layer);
      docker.images.set(layer.expectedId, { ...base, config: { ...base.config, ...over } });
      docker.tags.set(layer.tag, layer.expectedId);
      assert.equal(await findHelperImage(docker, layer, layer.tag), undefined);
    });
  }

  it("nothing under our tag: nothing", async () => {
    assert.equal(await findHelperImage(fakeDaemon(), layer, layer.tag), undefined);
  });

  it("the shape alone (any version, any binary) is what superseded images are recognised by", () => {
    assert.equal(isHelperImage(inspected(layer)), true);
    const base = inspected(layer);
    assert.equal(isHelperImage({ ...base, config: { ...base.config, env: ["A=1"] } }), false);
    assert.equal(
      isHelperImage({ ...base, labels: { [LABEL_IMAGE]: "1", [LABEL_SHA256]: "not-a-digest" } }),
      false,
    );
  });
});

describe("loading the image", () => {
  let layer: HelperLayer;
  before(async () => {
    layer = await makeHelperLayer(binary(), { version: VERSION });
  });

  it("loads our archive, finds the expected ID, and removes superseded images of ours only (never forced)", async () => {
    const docker = fakeDaemon(() => layer);
    const older = await makeHelperLayer(binary(Buffer.from("\x7fELF older")), { version: "9.8.6" });
    const oldInUse = await makeHelperLayer(binary(Buffer.from("\x7fELF in use")), { version: "9.8.5" });
    const keptElsewhere = await makeHelperLayer(binary(Buffer.from("\x7fELF kept")), { version: "9.8.4" });
    docker.images.set(older.expectedId, inspected(older));
    docker.images.set(oldInUse.expectedId, inspected(oldInUse));
    docker.inUse.add(oldInUse.expectedId);
    // Ours by shape, but someone tagged it in their own repository: theirs now.
    docker.images.set(keptElsewhere.expectedId, inspected(keptElsewhere, { repoTags: ["backup:1"] }));
    // A derived image that inherited our labels.
    const derived = `sha256:${"d".repeat(64)}`;
    const base = inspected(older);
    docker.images.set(derived, {
      ...base,
      id: derived,
      repoTags: [],
      config: { ...base.config, env: ["A=1"] },
    });
    const image = await loadHelperImage(docker, layer);
    assert.deepEqual(image, { id: layer.expectedId, tag: layer.tag, loaded: true });
    assert.equal(docker.loads.length, 1);
    assert.ok(docker.loads[0]!.equals(await helperArchive(layer)), "the archive, byte for byte");
    assert.deepEqual(docker.removedImages, [older.expectedId]);
    for (const id of [layer.expectedId, oldInUse.expectedId, keptElsewhere.expectedId, derived]) {
      assert.ok(docker.images.has(id), id);
    }
  });

  it("accepts, after the load, the image under our tag with our layer and config (containerd store)", async () => {
    const docker = fakeDaemon();
    const manifestDigest = `sha256:${"c".repeat(64)}`;
    docker.onLoad = () => {
      docker.images.set(manifestDigest, inspected(layer, { id: manifestDigest }));
      docker.tags.set(layer.tag, manifestDigest);
    };
    assert.equal((await loadHelperImage(docker, layer)).id, manifestDigest);
  });

  it("fails when the daemon shows nothing of ours after the load", async () => {
    const docker = fakeDaemon();
    docker.onLoad = () => {
      const id = `sha256:${"e".repeat(64)}`;
      docker.images.set(id, inspected(layer, { id, layers: [`sha256:${"0".repeat(64)}`] }));
      docker.tags.set(layer.tag, id);
    };
    await assert.rejects(loadHelperImage(docker, layer), /was loaded, but the daemon shows neither/);
  });
});

describe("prepareHelper", () => {
  let dir: string;
  let layer: HelperLayer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "dlt-unit-prepare-"));
    writeFileSync(join(dir, "docker-leak-helper-linux-amd64"), BYTES);
    layer = await makeHelperLayer(binary(), { version: VERSION, os: "linux" });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const setup = () => ({ helperDir: dir, version: VERSION });

  it("uses our image when our tag names it: no load", async () => {
    const docker = fakeDaemon(() => layer);
    docker.images.set(layer.expectedId, inspected(layer));
    docker.tags.set(layer.tag, layer.expectedId);
    const prepared = await prepareHelper(docker, DAEMON, setup());
    assert.equal(prepared.image.id, layer.expectedId);
    assert.equal(prepared.image.loaded, false);
    assert.equal(docker.loads.length, 0);
  });

  it("loads when our tag names a look-alike, and leaves the look-alike alone", async () => {
    const docker = fakeDaemon(() => layer);
    const lookalike = `sha256:${"b".repeat(64)}`;
    docker.images.set(lookalike, inspected(layer, { id: lookalike, layers: [`sha256:${"0".repeat(64)}`] }));
    docker.tags.set(layer.tag, lookalike);
    const prepared = await prepareHelper(docker, DAEMON, setup());
    assert.equal(prepared.image.id, layer.expectedId);
    assert.equal(prepared.image.loaded, true);
    assert.equal(docker.tags.get(layer.tag), layer.expectedId, "the load moved our tag back");
    assert.ok(docker.images.has(lookalike));
    assert.deepEqual(docker.removedImages, []);
  });

  it("loads when asked to (helper build), even when the image is there", async () => {
    const docker = fakeDaemon(() => layer);
    docker.images.set(layer.expectedId, inspected(layer));
    docker.tags.set(layer.tag, layer.expectedId);
    const prepared = await prepareHelper(docker, DAEMON, { ...setup(), forceLoad: true });
    assert.equal(prepared.image.loaded, true);
    assert.equal(docker.loads.length, 1);
  });

  it("sweeps only containers of the image it trusts", async () => {
    const docker = fakeDaemon(() => layer);
    const c = (id: string, imageId: string): ContainerSummary => ({
      id,
      names: [id],
      state: "exited",
      created: 0,
      labels: { [LABEL_HELPER]: "scan" },
      imageId,
    });
    docker.listContainers = async () => [c("ours", layer.expectedId), c("derived", "sha256:derived")];
    const found = await lookupHelper(docker, setup());
    assert.deepEqual(found.stale, ["ours"]);
    await prepareHelper(docker, DAEMON, setup(), Promise.resolve(found));
    assert.deepEqual(docker.removedContainers, ["ours"]);
  });

  it("a run whose create finds the image gone loads it again and retries, once", async () => {
    const docker = fakeDaemon(() => layer);
    docker.images.set(layer.expectedId, inspected(layer));
    docker.tags.set(layer.tag, layer.expectedId);
    const prepared = await prepareHelper(docker, DAEMON, setup());
    assert.equal(docker.loads.length, 0);
    // Removed meanwhile (another version's run, `helper prune`): the create says so.
    docker.failCreates.push(new ApiError(`create container: No such image: ${layer.expectedId}`, 404));
    const lines: string[] = [];
    const run = startPrepared(docker, prepared, { mode: "version", args: [], onLine: (l) => lines.push(l) });
    await run.output;
    const done = await run.finished;
    assert.equal(done.exitCode, 0);
    assert.equal(docker.loads.length, 1, "loaded again");
    assert.equal(docker.creates.length, 2, "one retry");
    assert.deepEqual(lines.length, 1, "the output of the retried run only");

    // Twice in a row: the second failure is the run's error.
    docker.failCreates.push(
      new ApiError("create container: No such image: x", 404),
      new ApiError("create container: No such image: x", 404),
    );
    await assert.rejects(
      startPrepared(docker, prepared, { mode: "version", args: [], onLine: () => undefined }).finished,
      /No such image/,
    );
    assert.equal(docker.creates.length, 4);

    // Any other failure: no load, no retry.
    docker.failCreates.push(new ApiError("create container: something else", 500));
    await assert.rejects(
      startPrepared(docker, prepared, { mode: "version", args: [], onLine: () => undefined }).output,
      /something else/,
    );
    assert.equal(docker.loads.length, 2);
    assert.equal(docker.creates.length, 5);
  });
});

describe("helper prune's selection", () => {
  const NOW = 2_000_000;
  const c = (
    id: string,
    state: string,
    imageId: string,
    over: Partial<ContainerSummary> = {},
  ): ContainerSummary => ({
    id,
    names: [id],
    state,
    created: NOW - 30,
    labels: { [LABEL_HELPER]: "scan", [LABEL_DEADLINE]: String(NOW + 3000) },
    imageId,
    ...over,
  });

  it("removes what a sweep would, never a running helper before its deadline, nothing not ours", () => {
    const { remove, keep } = pruneSelection(
      [
        c("exited", "exited", "sha256:v1"),
        c("running", "running", "sha256:v1"),
        c("running-other-version", "running", "sha256:v2"),
        c("overdue", "running", "sha256:v2", {
          labels: { [LABEL_HELPER]: "scan", [LABEL_DEADLINE]: String(NOW - 61) },
        }),
        c("just-created", "created", "sha256:v1"),
        c("derived", "exited", "sha256:derived"),
        c("unlabelled", "exited", "sha256:v1", { labels: {} }),
      ],
      ["sha256:v1", "sha256:v2"],
      NOW,
    );
    assert.deepEqual(remove, ["exited", "overdue"]);
    assert.deepEqual(keep, ["running", "running-other-version", "just-created"]);
  });
});
