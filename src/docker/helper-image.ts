/**
 * The helper image: made by the plugin itself, never pulled or built. From the helper binary it
 * has read and checked against the digest built into the bundle, it makes a docker-archive
 * (`docker save` format: one layer holding only the binary, a config, a manifest), byte for byte
 * the same on every run, and loads it (POST /images/load). The image is therefore known by
 * content before it exists: its ID is the SHA-256 of the config, whose `rootfs.diff_ids` is the
 * SHA-256 of the layer.
 *
 * Trust rule (findHelperImage, loadHelperImage): an image is the helper's when the daemon shows
 * it with exactly our layer (`RootFS.Layers` = [our diff_id]) and exactly our config (entrypoint,
 * no command, no environment, user 0:0, working directory /, no volumes, ports, healthcheck,
 * ONBUILD or stop signal, and our two labels with this version and this binary's SHA-256). On
 * the classic image store its `Id` is then the expected one, the config's digest; with the
 * containerd image store (Docker 24+ with the containerd snapshotter) `Id` is the digest of the
 * manifest the daemon made on load instead, which is why layer and config are what is compared.
 * Anything else under our tag (a look-alike, or an image derived from ours) is never run: ours is
 * loaded again, which moves the tag back (the other image is left, untagged, never removed).
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { LeakError } from "../errors.js";
import type { DockerClient, ImageDetails } from "./client.js";
import { ApiError } from "./client.js";

export const HELPER_REPOSITORY = "docker-leak-helper";
/**
 * Set by the plugin on each helper container (its value: the mode). Never among the image's
 * labels: a container inherits those, and so would every container of an image derived from ours.
 */
export const LABEL_HELPER = "io.docker-leak.helper";
/** Image label: the plugin version that made the image. */
export const LABEL_IMAGE = "io.docker-leak.helper.image";
/** Image label: the SHA-256 of the helper binary in its layer. */
export const LABEL_SHA256 = "io.docker-leak.helper.sha256";
const BINARY_NAME = "docker-leak-helper";
export const HELPER_ENTRYPOINT = [`/${BINARY_NAME}`];
export const HELPER_USER = "0:0";
export const HELPER_WORKDIR = "/";
/** The image's creation time: fixed, so that the same binary always makes the same image. */
const EPOCH = "1970-01-01T00:00:00Z";

/**
 * The SHA-256 of each helper binary, written into the bundle by scripts/build.mjs (an esbuild
 * `define`); a bundle built without the helpers has `{}` and refuses to use any. Only when this
 * code runs unbundled (under tsx: the tests) is the identifier not defined, and the check is
 * skipped: the helper directory is then the checkout's build/helper, whatever it holds now.
 */
declare const DOCKER_LEAK_HELPER_DIGESTS: Partial<Record<HelperArch, string>> | undefined;
export const BUILT_IN_HELPER_DIGESTS: Partial<Record<HelperArch, string>> | undefined =
  typeof DOCKER_LEAK_HELPER_DIGESTS === "undefined" ? undefined : DOCKER_LEAK_HELPER_DIGESTS;

/**
 * The layer each helper binary makes (binary SHA-256 → the layer tar's diff_id), computed by
 * scripts/build.mjs with makeHelperLayer itself and written into the bundle like the digests: a
 * run then knows its image's expected ID without packing the layer, which it packs (and checks
 * against this) only when it loads the image. Unbundled (tests), it is computed each time.
 */
declare const DOCKER_LEAK_HELPER_LAYERS: Record<string, string> | undefined;
export const BUILT_IN_LAYER_DIFF_IDS: Record<string, string> | undefined =
  typeof DOCKER_LEAK_HELPER_LAYERS === "undefined" ? undefined : DOCKER_LEAK_HELPER_LAYERS;

export type HelperArch = "amd64" | "arm64";

export interface HelperBinary {
  arch: HelperArch;
  path: string;
  sha256: string;
  /** The bytes that were hashed and checked: the image is made from these, not from the file again. */
  bytes: Buffer;
}

export interface HelperImage {
  /** The image ID the helper runs from (not the tag, which someone could move). */
  id: string;
  tag: string;
  /** Whether this run loaded it. */
  loaded: boolean;
}

/** What the image is made of, and what it is expected to be, computed from the binary. */
export interface HelperLayer {
  version: string;
  tag: string;
  /** The binary's SHA-256 (hex). */
  sha256: string;
  /** The layer tar: the binary alone, owned by 0:0, mode 0755, mtime 0 (packed when first asked). */
  layerTar(): Promise<Buffer>;
  /** "sha256:" + SHA-256 of the layer tar: its entry in `rootfs.diff_ids`. */
  diffId: string;
  /** The image config JSON, exactly as loaded. */
  config: Buffer;
  /** "sha256:" + SHA-256 of `config`: the image ID on the classic image store. */
  expectedId: string;
}

/** The daemon's architecture in Go's terms (from `docker version` .Arch or `docker info`). */
export function helperArch(daemonArch: string): HelperArch {
  switch (daemonArch) {
    case "amd64":
    case "x86_64":
      return "amd64";
    case "arm64":
    case "aarch64":
      return "arm64";
    default:
      throw new LeakError(
        `the daemon runs on ${daemonArch}; the helper is built for linux/amd64 and linux/arm64 only`,
      );
  }
}

const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/**
 * Reads the helper for `arch` and checks it against the digest built into the bundle (on every
 * use: the file may have been replaced since the plugin was installed). The returned bytes are
 * the ones checked.
 */
export function locateHelperBinary(
  helperDir: string,
  arch: HelperArch,
  digests: Partial<Record<HelperArch, string>> | undefined = BUILT_IN_HELPER_DIGESTS,
): HelperBinary {
  const path = join(helperDir, `${BINARY_NAME}-linux-${arch}`);
  const expected = digests?.[arch];
  if (digests && !expected) {
    throw new LeakError(
      `this docker leak was built without the helper for linux/${arch}, so it will not use any`,
      "Reinstall docker leak; from a checkout, run scripts/build-helper.sh, then node scripts/build.mjs.",
    );
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    throw new LeakError(
      `the helper binary for linux/${arch} is missing (${path})`,
      "Build it with scripts/build-helper.sh, or reinstall the plugin.",
    );
  }
  const sha256 = sha256Hex(bytes);
  if (expected && sha256 !== expected) {
    throw new LeakError(
      `the helper binary ${path} does not match the digest built into docker leak (sha256 ${sha256}, expected ${expected}); reinstall docker leak`,
      "From a checkout: scripts/build-helper.sh, then node scripts/build.mjs (helpers first).",
    );
  }
  return { arch, path, sha256, bytes };
}

export function helperTag(version: string): string {
  return `${HELPER_REPOSITORY}:${version}`;
}

interface PackedFile {
  name: string;
  data: Buffer;
  mode: number;
}

/**
 * A tar of `files`, in that order, with fixed metadata (owner 0:0, mtime 0, the given modes), so
 * the same files always give the same bytes. Packed by tar-fs from a private directory (mode
 * 0700, removed afterwards) into memory.
 */
async function packFiles(files: readonly PackedFile[]): Promise<Buffer> {
  // Loaded when an image is made (each run, to know its ID): `version` alone does not pay for it.
  const { pack } = await import("tar-fs");
  const dir = mkdtempSync(join(tmpdir(), "docker-leak-image-"));
  try {
    chmodSync(dir, 0o700);
    const modes = new Map<string, number>();
    for (const f of files) {
      writeFileSync(join(dir, f.name), f.data, { mode: 0o600, flag: "wx" });
      modes.set(f.name, f.mode);
    }
    const tar = pack(dir, {
      entries: files.map((f) => f.name),
      map: (header) => ({
        ...header,
        mode: modes.get(header.name) ?? 0o600,
        uid: 0,
        gid: 0,
        uname: "",
        gname: "",
        mtime: new Date(0),
      }),
    });
    return await buffer(tar as unknown as Readable);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The image config (exact bytes: its digest is the image ID). */
export function helperImageConfig(p: {
  arch: HelperArch;
  os: string;
  version: string;
  sha256: string;
  diffId: string;
}): Buffer {
  const config = {
    architecture: p.arch,
    config: {
      Entrypoint: HELPER_ENTRYPOINT,
      User: HELPER_USER,
      WorkingDir: HELPER_WORKDIR,
      Labels: { [LABEL_IMAGE]: p.version, [LABEL_SHA256]: p.sha256 },
    },
    created: EPOCH,
    os: p.os,
    rootfs: { type: "layers", diff_ids: [p.diffId] },
  };
  return Buffer.from(JSON.stringify(config));
}

/**
 * The layer and the config for this binary, and so the image's expected ID (no daemon call). The
 * layer's digest comes from the build when it computed it for these very bytes (`diffIds`),
 * otherwise from packing the layer now.
 */
export async function makeHelperLayer(
  binary: HelperBinary,
  opts: { version: string; os?: string },
  diffIds: Record<string, string> | undefined = BUILT_IN_LAYER_DIFF_IDS,
): Promise<HelperLayer> {
  const known = diffIds?.[binary.sha256];
  let packed: Promise<Buffer> | undefined;
  const layerTar = () => {
    packed ??= packFiles([{ name: BINARY_NAME, data: binary.bytes, mode: 0o755 }]).then((tar) => {
      const digest = `sha256:${sha256Hex(tar)}`;
      if (known && digest !== known) {
        throw new LeakError(
          `the helper layer packed here (${digest}) is not the one docker leak was built with (${known}); reinstall docker leak`,
        );
      }
      return tar;
    });
    return packed;
  };
  const diffId = known ?? `sha256:${sha256Hex(await layerTar())}`;
  const config = helperImageConfig({
    arch: binary.arch,
    os: opts.os || "linux",
    version: opts.version,
    sha256: binary.sha256,
    diffId,
  });
  return {
    version: opts.version,
    tag: helperTag(opts.version),
    sha256: binary.sha256,
    layerTar,
    diffId,
    config,
    expectedId: `sha256:${sha256Hex(config)}`,
  };
}

/** The docker-archive that `docker load` takes: manifest.json, the config, the layer. */
export async function helperArchive(layer: HelperLayer): Promise<Buffer> {
  const configName = `${layer.expectedId.slice("sha256:".length)}.json`;
  const layerName = `${layer.diffId.slice("sha256:".length)}.tar`;
  const manifest = [{ Config: configName, RepoTags: [layer.tag], Layers: [layerName] }];
  return packFiles([
    { name: "manifest.json", data: Buffer.from(JSON.stringify(manifest)), mode: 0o644 },
    { name: configName, data: layer.config, mode: 0o644 },
    { name: layerName, data: await layer.layerTar(), mode: 0o644 },
  ]);
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Whether an inspected image has the helper's shape: one layer and exactly the config we write
 * (see the trust rule above). With `expected`, also this version, this binary and this layer.
 * Everything a container inherits from its image is compared, since a derived image (FROM ours)
 * keeps our layer and labels while adding, say, an environment or a healthcheck.
 */
export function isHelperImage(
  image: ImageDetails,
  expected?: Pick<HelperLayer, "version" | "sha256" | "diffId">,
): boolean {
  const c = image.config;
  const labels = Object.keys(image.labels).sort();
  const version = image.labels[LABEL_IMAGE] ?? "";
  const sha256 = image.labels[LABEL_SHA256] ?? "";
  return (
    sameList(labels, [LABEL_IMAGE, LABEL_SHA256]) &&
    (expected ? version === expected.version : version !== "") &&
    (expected ? sha256 === expected.sha256 : /^[0-9a-f]{64}$/.test(sha256)) &&
    image.layers.length === 1 &&
    (!expected || image.layers[0] === expected.diffId) &&
    sameList(c.entrypoint, HELPER_ENTRYPOINT) &&
    c.cmd.length === 0 &&
    c.env.length === 0 &&
    c.user === HELPER_USER &&
    c.workingDir === HELPER_WORKDIR &&
    c.volumes.length === 0 &&
    c.exposedPorts.length === 0 &&
    c.healthcheck.length === 0 &&
    c.onBuild.length === 0 &&
    c.stopSignal === ""
  );
}

/**
 * Our image, if our tag names it (read-only). The tag is inspected while the layer is still being
 * made; on the classic store the common case costs that one call.
 */
export async function findHelperImage(
  docker: DockerClient,
  layer: HelperLayer | Promise<HelperLayer>,
  tag: string,
): Promise<HelperImage | undefined> {
  const [made, tagged] = await Promise.all([layer, docker.inspectImage(tag)]);
  return tagged && isHelperImage(tagged, made) ? { id: tagged.id, tag, loaded: false } : undefined;
}

export interface LoadImageOptions {
  /** One progress line (the caller shows it on a TTY only). */
  onProgress?: (line: string) => void;
}

/**
 * Loads our image, which (re)tags it, and checks what the daemon made of it: the expected ID
 * (classic store), else the image under our tag, compared by layer and config (containerd
 * store). Loading the same archive again is harmless, so concurrent first runs all succeed.
 * Then the images of ours it supersedes are removed, unless something still uses them.
 */
export async function loadHelperImage(
  docker: DockerClient,
  layer: HelperLayer,
  opts: LoadImageOptions = {},
): Promise<HelperImage> {
  opts.onProgress?.(`loading ${layer.tag}`);
  await docker.loadImage(Readable.from(await helperArchive(layer)));
  const byId = await docker.inspectImage(layer.expectedId);
  let id = byId && isHelperImage(byId, layer) ? byId.id : undefined;
  if (!id) {
    const tagged = await docker.inspectImage(layer.tag);
    if (tagged && isHelperImage(tagged, layer)) id = tagged.id;
  }
  if (!id) {
    throw new LeakError(
      `the helper image ${layer.tag} was loaded, but the daemon shows neither ${layer.expectedId} nor an image with its layer and config under that tag`,
    );
  }
  await removeSupersededImages(docker, id);
  return { id, tag: layer.tag, loaded: true };
}

/**
 * Whether the image was made from our archive, byte for byte: it has the helper's shape, and its
 * ID is the digest of the config we write for its labels and layer. That tells an image of ours
 * for another version or binary from a look-alike someone built with our labels (a look-alike
 * that copies our archive format exactly is, for this purpose, ours). On a containerd image store,
 * whose IDs are manifest digests, no image passes.
 */
export function madeFromOurArchive(image: ImageDetails): boolean {
  const [diffId] = image.layers;
  if (
    !isHelperImage(image) ||
    !diffId ||
    (image.architecture !== "amd64" && image.architecture !== "arm64")
  ) {
    return false;
  }
  const config = helperImageConfig({
    arch: image.architecture,
    os: image.os,
    version: image.labels[LABEL_IMAGE] ?? "",
    sha256: image.labels[LABEL_SHA256] ?? "",
    diffId,
  });
  return image.id === `sha256:${sha256Hex(config)}`;
}

/**
 * Images of ours, every version: with the helper's shape (or, with `exact`, made from our archive
 * byte for byte: madeFromOurArchive), tagged only in our repository or not at all (an image
 * someone tagged elsewhere is theirs to remove).
 */
export async function listHelperImages(
  docker: DockerClient,
  opts: { exact?: boolean } = {},
): Promise<ImageDetails[]> {
  const labelled = await docker.listImages({ label: [LABEL_IMAGE] });
  const ours: ImageDetails[] = [];
  for (const { id } of labelled) {
    const image = await docker.inspectImage(id);
    if (
      image &&
      (opts.exact ? madeFromOurArchive(image) : isHelperImage(image)) &&
      image.repoTags.every((t) => t.startsWith(`${HELPER_REPOSITORY}:`))
    ) {
      ours.push(image);
    }
  }
  return ours;
}

/** Removes an image of ours, never forced: "in use" when a container still uses it (kept). */
export async function removeHelperImage(docker: DockerClient, id: string): Promise<"removed" | "in use"> {
  try {
    await docker.removeImage(id);
    return "removed";
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 404) return "removed"; // removed meanwhile
    if (err instanceof ApiError && err.statusCode === 409) return "in use";
    throw err;
  }
}

/**
 * Our other images (other versions or binaries), made from our archive: never `keep`, never a
 * look-alike; those in use stay. (On a containerd image store none is recognised as made from
 * our archive: `docker leak helper prune` removes them.)
 */
async function removeSupersededImages(docker: DockerClient, keep: string): Promise<void> {
  for (const image of await listHelperImages(docker, { exact: true })) {
    if (image.id === keep) continue;
    await removeHelperImage(docker, image.id).catch(() => undefined); // best effort
  }
}
