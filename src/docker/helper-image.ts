/**
 * The helper image: built by the plugin from a generated context (a `FROM scratch` Dockerfile and
 * the static helper for the daemon's architecture), never pulled. It is trusted only when its
 * label carries the SHA-256 of the binary we hold; anything else under our tag is rebuilt.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { LeakError } from "../errors.js";
import type { DockerClient } from "./client.js";

export const HELPER_REPOSITORY = "docker-leak-helper";
export const LABEL_HELPER = "io.docker-leak.helper";
export const LABEL_SHA256 = "io.docker-leak.helper.sha256";
export const LABEL_VERSION = "io.docker-leak.version";
const BINARY_NAME = "docker-leak-helper";

export interface HelperBinary {
  arch: "amd64" | "arm64";
  path: string;
  sha256: string;
}

export interface HelperImage {
  /** The image ID the helper runs from (not the tag, which someone could move). */
  id: string;
  tag: string;
  built: boolean;
}

/** The daemon's architecture in Go's terms (from `docker version` .Arch or `docker info`). */
export function helperArch(daemonArch: string): "amd64" | "arm64" {
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

export function locateHelperBinary(helperDir: string, arch: "amd64" | "arm64"): HelperBinary {
  const path = join(helperDir, `${BINARY_NAME}-linux-${arch}`);
  if (!existsSync(path)) {
    throw new LeakError(
      `the helper binary for linux/${arch} is missing (${path})`,
      "Build it with scripts/build-helper.sh, or reinstall the plugin.",
    );
  }
  const sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
  return { arch, path, sha256 };
}

export function helperTag(version: string): string {
  return `${HELPER_REPOSITORY}:${version}`;
}

export function dockerfile(binary: HelperBinary, version: string): string {
  return [
    "FROM scratch",
    `COPY ${BINARY_NAME} /${BINARY_NAME}`,
    `LABEL ${LABEL_HELPER}="1" ${LABEL_SHA256}="${binary.sha256}" ${LABEL_VERSION}="${version}"`,
    `ENTRYPOINT ["/${BINARY_NAME}"]`,
    "",
  ].join("\n");
}

export interface BuildImageOptions {
  version: string;
  /** One progress line per build step (the caller shows it on a TTY only). */
  onProgress?: (line: string) => void;
}

/**
 * The image under our tag, if it carries the SHA-256 of the binary we hold (read-only). The
 * image is asked for while the binary is still being picked.
 */
export async function trustedHelperImage(
  docker: DockerClient,
  binary: HelperBinary | Promise<HelperBinary>,
  version: string,
): Promise<HelperImage | undefined> {
  const tag = helperTag(version);
  const [existing, { sha256 }] = await Promise.all([docker.inspectImage(tag), binary]);
  return existing && existing.labels[LABEL_SHA256] === sha256
    ? { id: existing.id, tag, built: false }
    : undefined;
}

/**
 * Builds the image and tags it; the images of ours it supersedes (now untagged) are removed,
 * unless something still uses them.
 */
export async function buildHelperImage(
  docker: DockerClient,
  binary: HelperBinary,
  opts: BuildImageOptions,
): Promise<HelperImage> {
  const tag = helperTag(opts.version);
  const dir = mkdtempSync(join(tmpdir(), "docker-leak-helper-"));
  try {
    writeFileSync(join(dir, "Dockerfile"), dockerfile(binary, opts.version));
    copyFileSync(binary.path, join(dir, BINARY_NAME));
    // Loaded on a build only (rare): the scan path does not pay for tar-fs.
    const { pack } = await import("tar-fs");
    const context = pack(dir, {
      entries: ["Dockerfile", BINARY_NAME],
      map: (header) => ({ ...header, uid: 0, gid: 0, uname: "root", gname: "root", mtime: new Date(0) }),
    });
    await docker.buildImage(context as unknown as Readable, tag, (line) => {
      const step = line.trim();
      if (step.startsWith("Step ")) opts.onProgress?.(step);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const built = await docker.inspectImage(tag);
  if (!built || built.labels[LABEL_SHA256] !== binary.sha256) {
    throw new LeakError(`the helper image ${tag} was built but does not carry the expected label`);
  }
  await removeSupersededImages(docker, built.id);
  return { id: built.id, tag, built: true };
}

async function removeSupersededImages(docker: DockerClient, keep: string): Promise<void> {
  const old = await docker.listImages({ label: [`${LABEL_HELPER}=1`], dangling: ["true"] });
  for (const image of old) {
    if (image.id === keep) continue;
    await docker.removeImage(image.id).catch(() => undefined); // in use by a container: kept
  }
}
