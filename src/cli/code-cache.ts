/**
 * Loads the main bundle (dist/docker-leak-main.cjs) with a V8 code cache, so that a command does
 * not compile the same 0.9 MB of JavaScript on every run. Node 20 has no compile cache of its own
 * for CommonJS (`module.enableCompileCache` came with Node 22); the single executable carries one
 * made at build time (scripts/build-sea.mjs).
 *
 * V8 accepts cached code after checking only its own version, its flags and the source's length,
 * not the source itself, and runs what the cache holds. So a cache file is trusted only:
 *   - in a private directory (private-dir.ts: ours, not a symlink, writable by nobody else) —
 *     never a shared one such as /tmp, where another user could plant compiled code that this
 *     (often root) process would run;
 *   - under a name made from the Node version, the architecture and the identity of the very file
 *     read (device, inode, size, and its change and modification times to the nanosecond), so that
 *     a changed bundle never meets an old cache of the same length. The change time (ctime) is set
 *     by the kernel on every write and cannot be set back by anyone, so a bundle rewritten in place
 *     with its modification time restored still gets a name of its own. Hashing the 0.9 MB source
 *     itself did the same at a cost on every run; the source is read from the file descriptor that
 *     was identified, and the identity checked again after the read.
 * A cache V8 rejects is rewritten; any problem with the cache only means running without one.
 * `DOCKER_LEAK_CODE_CACHE=0` turns it off.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { ensurePrivateDir, readRegularFile } from "./private-dir.js";

/** What became of the cache: used, absent (made at save), rejected by V8 (remade), or not used. */
export type CodeCacheState = "hit" | "miss" | "rejected" | "off";

export interface CachedModule {
  exports: unknown;
  state: CodeCacheState;
  /** Writes the cache (with what the run compiled so far) unless it was used as it is. */
  save(): void;
}

const CACHE_FILE = /^main-[0-9a-f]{32}\.v8$/;

/** The cache file's bytes when it is a regular file of ours that nobody else can write. */
function readCache(path: string, uid: number): Buffer | undefined {
  return readRegularFile(path, (st) => st.uid === uid && !(st.mode & 0o022));
}

/** Writes `data` as `path` (a unique name renamed: a concurrent run never reads half a file). */
function writeCache(dir: string, path: string, data: Buffer): void {
  const tmp = `${path}.${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: "wx" });
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  // Caches of other bundles (earlier versions) are of no more use.
  for (const name of readdirSync(dir)) {
    if (CACHE_FILE.test(name) && join(dir, name) !== path) rmSync(join(dir, name), { force: true });
  }
}

/**
 * The file's text and its identity (see above); no identity when the file changed while it was read.
 */
function readIdentified(file: string): { source: string; identity?: string } {
  const fd = openSync(file, "r");
  try {
    const idOf = () => {
      const st = fstatSync(fd, { bigint: true });
      return `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}:${st.mtimeNs}`;
    };
    const before = idOf();
    const source = readFileSync(fd, "utf8");
    return before === idOf() ? { source, identity: before } : { source };
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs the CommonJS file `file` as `require` would (its own `require`, `module`, `__dirname`),
 * with the code cache kept in `cacheDir` (created private if missing; undefined: no cache).
 */
export function requireWithCodeCache(
  file: string,
  cacheDir: string | undefined,
  uid: number = process.getuid?.() ?? 0,
): CachedModule {
  const { source, identity } = readIdentified(file);
  let cachePath: string | undefined;
  let cached: Buffer | undefined;
  if (cacheDir && identity) {
    try {
      ensurePrivateDir(cacheDir, uid);
      const key = createHash("sha256")
        .update(`${process.version}\0${process.arch}\0${identity}`)
        .digest("hex")
        .slice(0, 32);
      cachePath = join(cacheDir, `main-${key}.v8`);
      cached = readCache(cachePath, uid);
    } catch {
      cachePath = undefined;
    }
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData: cached });
  const state: CodeCacheState = !cachePath
    ? "off"
    : !cached
      ? "miss"
      : script.cachedDataRejected
        ? "rejected"
        : "hit";
  const mod = new Module(file);
  mod.filename = file;
  const wrapper = script.runInThisContext({ displayErrors: true }) as (
    exports: unknown,
    require: NodeJS.Require,
    module: Module,
    filename: string,
    dirname: string,
  ) => void;
  wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
  mod.loaded = true;
  return {
    exports: mod.exports,
    state,
    save() {
      if (state === "hit" || state === "off" || !cacheDir || !cachePath) return;
      try {
        writeCache(cacheDir, cachePath, script.createCachedData());
      } catch {
        // Only a cache: the next run compiles again.
      }
    },
  };
}
