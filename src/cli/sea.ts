/**
 * The single executable (scripts/build-sea.mjs) carries the static helpers as SEA assets. The
 * plugin reads the helper from a file, so the helpers are written into a cache directory named
 * after their digests, and that directory is the helper directory of every later run.
 *
 * The cache is only a cache: each file's SHA-256 is checked on every use (and the file rewritten
 * from the asset when it differs), and the plugin checks the bytes it uses once more against the
 * digest built into its bundle (helper-image.ts). Cache directories are used only when they are
 * real directories (not symlinks) owned by the current user and writable by nobody else; when
 * none is, the helpers go into a fresh private temporary directory, removed at exit.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensurePrivateDir, readRegularFile } from "./private-dir.js";

export { cacheRoots } from "./private-dir.js";

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

export interface ExtractOptions {
  /** Whose directories to trust (default: the current user). */
  uid?: number;
}

const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const HELPER_FILE = /^docker-leak-helper-linux-[a-z0-9]+$/;

/** The SHA-256 of the regular file at `path` (a symlink is not followed), or undefined. */
function fileDigest(path: string): string | undefined {
  const data = readRegularFile(path);
  return data && sha256Hex(data);
}

/** Makes every helper of the manifest in `dir` equal to its asset (checked, rewritten if not). */
function writeHelpers(dir: string, manifest: HelperManifest, assets: AssetSource): void {
  for (const [name, sha256] of Object.entries(manifest.files)) {
    if (!HELPER_FILE.test(name)) throw new Error(`unexpected helper name in the manifest: ${name}`);
    const path = join(dir, name);
    if (fileDigest(path) === sha256) continue;
    const data = Buffer.from(assets.getAsset(name));
    if (sha256Hex(data) !== sha256) throw new Error(`the embedded ${name} does not match its SHA-256`);
    // Written under a unique name and renamed: a concurrent run never sees half a file.
    const tmp = `${path}.${randomBytes(4).toString("hex")}`;
    try {
      writeFileSync(tmp, data, { mode: 0o755, flag: "wx" });
      chmodSync(tmp, 0o755);
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}

/**
 * Makes sure the helpers of `assets` are, byte for byte, in a private directory under the first
 * usable root and returns that directory; with no usable root, a fresh temporary directory
 * (mode 0700) removed when the process exits. After the first run this costs reading and hashing
 * the helpers.
 */
export function extractHelpers(
  assets: AssetSource,
  roots: readonly string[],
  opts: ExtractOptions = {},
): string {
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  const manifestText = Buffer.from(assets.getAsset(HELPER_MANIFEST_ASSET)).toString("utf8");
  const manifest = JSON.parse(manifestText) as HelperManifest;
  const digest = sha256Hex(manifestText).slice(0, 16);
  for (const root of roots) {
    try {
      ensurePrivateDir(root, uid);
      const dir = join(root, `helpers-${digest}`);
      ensurePrivateDir(dir, uid);
      writeHelpers(dir, manifest, assets);
      return dir;
    } catch (err) {
      // An embedded helper that does not match its digest is not a cache problem.
      if (err instanceof Error && /does not match its SHA-256/.test(err.message)) throw err;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "docker-leak-helpers-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o700);
  writeHelpers(dir, manifest, assets);
  return dir;
}
