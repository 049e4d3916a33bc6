/**
 * The single executable (scripts/build-sea.mjs) carries the static helpers as SEA assets. The
 * helper image is built from files, so the helpers are written once into a cache directory named
 * after their digests, and that directory is the helper directory of every later run.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The asset listing the helper files and their SHA-256 (written by scripts/build-sea.mjs). */
export const HELPER_MANIFEST_ASSET = "helpers.json";

export interface HelperManifest {
  /** File name (docker-leak-helper-linux-<arch>) → SHA-256 of its bytes; the asset has the same key. */
  files: Record<string, string>;
}

export interface AssetSource {
  getAsset(key: string): ArrayBuffer;
}

/** node:sea when running as a single executable, else undefined (also on Node < 20.12). */
export function singleExecutable(): AssetSource | undefined {
  try {
    const sea = createRequire(process.execPath)("node:sea") as typeof import("node:sea");
    return sea.isSea() ? sea : undefined;
  } catch {
    return undefined;
  }
}

/** Candidate cache roots, best first: $XDG_CACHE_HOME or ~/.cache, then the temp dir. */
export function cacheRoots(env: NodeJS.ProcessEnv, home: string | undefined, uid: number): string[] {
  const roots: string[] = [];
  if (env.XDG_CACHE_HOME) roots.push(join(env.XDG_CACHE_HOME, "docker-leak"));
  else if (home) roots.push(join(home, ".cache", "docker-leak"));
  roots.push(join(tmpdir(), `docker-leak-${uid}`));
  return roots;
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure the helpers of `assets` exist under one of `roots` and returns that directory.
 * After the first run this costs one stat per helper.
 */
export function extractHelpers(assets: AssetSource, roots: readonly string[]): string {
  const manifestText = Buffer.from(assets.getAsset(HELPER_MANIFEST_ASSET)).toString("utf8");
  const manifest = JSON.parse(manifestText) as HelperManifest;
  const digest = createHash("sha256").update(manifestText).digest("hex").slice(0, 16);
  let lastError: unknown;
  for (const root of roots) {
    const dir = join(root, `helpers-${digest}`);
    try {
      for (const [name, sha256] of Object.entries(manifest.files)) {
        const path = join(dir, name);
        const bytes = assets.getAsset(name);
        if (sizeOf(path) === bytes.byteLength) continue;
        const data = Buffer.from(bytes);
        if (createHash("sha256").update(data).digest("hex") !== sha256) {
          throw new Error(`the embedded ${name} does not match its SHA-256`);
        }
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        // Written under a unique name and renamed: a concurrent run never sees half a file.
        const tmp = `${path}.${randomBytes(4).toString("hex")}`;
        try {
          writeFileSync(tmp, data, { mode: 0o755 });
          chmodSync(tmp, 0o755);
          renameSync(tmp, path);
        } finally {
          rmSync(tmp, { force: true });
        }
      }
      return dir;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
