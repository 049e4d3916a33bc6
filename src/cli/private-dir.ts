/**
 * Per-user cache directories (the single executable's helpers, the main bundle's code cache).
 * Used only when they are real directories (not symlinks) owned by the current user and writable
 * by nobody else: a file another user could plant there would be run (helpers) or trusted as
 * compiled code (the code cache).
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  type Stats,
} from "node:fs";
import { dirname, join } from "node:path";

/**
 * Cache roots, best first: $XDG_CACHE_HOME/docker-leak, else ~/.cache/docker-leak. No shared
 * directory with a predictable name (such as /tmp/docker-leak-UID).
 */
export function cacheRoots(env: NodeJS.ProcessEnv, home: string | undefined): string[] {
  if (env.XDG_CACHE_HOME) return [join(env.XDG_CACHE_HOME, "docker-leak")];
  return home ? [join(home, ".cache", "docker-leak")] : [];
}

/**
 * Creates `path` (mode 0700; missing parents too) unless it exists, then checks it: a directory,
 * not a symlink, owned by `uid`, not writable by group or others. Throws when it is not.
 */
export function ensurePrivateDir(path: string, uid: number): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      mkdirSync(path, { mode: 0o700 });
    } else if (code !== "EEXIST") {
      throw err;
    }
  }
  const st = lstatSync(path);
  if (!st.isDirectory()) throw new Error(`${path} is not a directory (a symlink or a file); not using it`);
  if (st.uid !== uid) throw new Error(`${path} belongs to uid ${st.uid}, not ${uid}; not using it`);
  if (st.mode & 0o022) {
    throw new Error(`${path} is writable by others (mode ${(st.mode & 0o777).toString(8)}); not using it`);
  }
}

/**
 * The bytes of the regular file at `path` when `accept` takes its status (a symlink is not
 * followed; the status is of the file opened, not of a name that may change), or undefined.
 */
export function readRegularFile(
  path: string,
  accept: (st: Stats) => boolean = () => true,
): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    return st.isFile() && accept(st) ? readFileSync(fd) : undefined;
  } finally {
    closeSync(fd);
  }
}
