/**
 * Installing docker leak as a docker CLI plugin: one file named `docker-leak` in a cli-plugins
 * directory. From the npm package that file is the launcher with the package root and the node
 * binary written into it (so the CLI's metadata probe needs no link resolution and no fork); from
 * the single executable it is a copy of the executable itself.
 *
 * Installing is idempotent, updates an older docker leak in place, and refuses to overwrite any
 * other file of that name unless forced.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { LeakError } from "../errors.js";

export const PLUGIN_FILE = "docker-leak";
/** Where the docker CLI looks for plugins of every user (it also reads /usr/libexec/docker/…). */
export const SYSTEM_PLUGIN_DIR = "/usr/local/lib/docker/cli-plugins";
/**
 * Found in the launcher's header and, as this very string, in the bundle and hence in the single
 * executable: a file carrying it is a docker leak we may update or remove.
 */
export const PLUGIN_MARKER = "Launcher of the `docker leak` CLI plugin";

/** The cli-plugins directory: the system one, or `<docker config dir>/cli-plugins`. */
export function pluginDir(opts: { system: boolean; configDir: string }): string {
  return opts.system ? SYSTEM_PLUGIN_DIR : join(opts.configDir, "cli-plugins");
}

/** What goes into the plugin directory. */
export type PluginPayload =
  /** The launcher script, already rendered for this package root and node. */
  | { kind: "launcher"; text: string }
  /** A copy of this file (the single executable). */
  | { kind: "executable"; source: string };

/**
 * The package root of a running bundle: the nearest directory above `entry` (after resolving
 * links) that holds the launcher.
 */
export function packageRoot(entry: string, exists: (p: string) => boolean = existsSync): string {
  let dir = dirname(entry);
  for (let i = 0; i < 4; i++) {
    if (exists(join(dir, "plugin-metadata", PLUGIN_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new LeakError(
    `cannot find plugin-metadata/${PLUGIN_FILE} above ${entry}`,
    "Reinstall the docker-leak package.",
  );
}

const shellQuoted = (s: string) => s.replace(/'/g, `'\\''`);

/** The launcher template with the package root and node binary written into its two settings. */
export function renderLauncher(template: string, root: string, node: string): string {
  if (!template.includes(PLUGIN_MARKER) || !template.includes("'@DOCKER_LEAK_ROOT@'")) {
    throw new LeakError("the launcher template is not docker leak's (plugin-metadata/docker-leak)");
  }
  // The values sit inside single quotes in the template.
  return template
    .replace("'@DOCKER_LEAK_ROOT@'", () => `'${shellQuoted(root)}'`)
    .replace("'@DOCKER_LEAK_NODE@'", () => `'${shellQuoted(node)}'`);
}

export type InstallAction = "installed" | "updated" | "replaced" | "unchanged";

export interface InstallResult {
  path: string;
  action: InstallAction;
}

/** What is at the plugin's path now. */
type Existing = { state: "absent" } | { state: "ours" | "foreign"; bytes: Buffer | undefined };

function inspectTarget(path: string): Existing {
  try {
    lstatSync(path);
  } catch {
    return { state: "absent" };
  }
  let bytes: Buffer | undefined;
  try {
    bytes = readFileSync(path);
  } catch {
    // A dangling link or a directory: not ours to judge.
    return { state: "foreign", bytes: undefined };
  }
  return { state: bytes.includes(PLUGIN_MARKER) ? "ours" : "foreign", bytes };
}

function payloadBytes(payload: PluginPayload): Buffer {
  return payload.kind === "launcher" ? Buffer.from(payload.text) : readFileSync(payload.source);
}

function fsError(err: unknown, what: string): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    throw new LeakError(
      `permission denied ${what}`,
      "Install for yourself without --system, or run it as root (sudo).",
    );
  }
  throw err;
}

/** Writes the plugin file atomically (temp file and rename) with mode 0755. */
function writePlugin(dir: string, path: string, payload: PluginPayload): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    fsError(err, `creating ${dir}`);
  }
  const tmp = join(dir, `.${PLUGIN_FILE}.${randomBytes(4).toString("hex")}`);
  try {
    if (payload.kind === "launcher") writeFileSync(tmp, payload.text, { mode: 0o755 });
    else copyFileSync(payload.source, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    fsError(err, `writing ${path}`);
  }
}

export function installPlugin(opts: { dir: string; payload: PluginPayload; force: boolean }): InstallResult {
  const path = join(opts.dir, PLUGIN_FILE);
  const existing = inspectTarget(path);
  if (existing.state === "absent") {
    writePlugin(opts.dir, path, opts.payload);
    return { path, action: "installed" };
  }
  if (existing.state === "foreign" && !opts.force) {
    throw new LeakError(`${path} exists and is not docker leak; leaving it`, "Use --force to overwrite it.");
  }
  const wanted = payloadBytes(opts.payload);
  if (existing.bytes?.equals(wanted) && lstatSync(path).isFile()) {
    // Mode too: the docker CLI skips plugins it cannot execute.
    chmodSync(path, 0o755);
    return { path, action: "unchanged" };
  }
  writePlugin(opts.dir, path, opts.payload);
  return { path, action: existing.state === "ours" ? "updated" : "replaced" };
}

export type UninstallAction = "removed" | "absent";

export function uninstallPlugin(opts: { dir: string; force: boolean }): {
  path: string;
  action: UninstallAction;
} {
  const path = join(opts.dir, PLUGIN_FILE);
  const existing = inspectTarget(path);
  if (existing.state === "absent") return { path, action: "absent" };
  if (existing.state === "foreign" && !opts.force) {
    throw new LeakError(`${path} is not docker leak; leaving it`, "Use --force to remove it anyway.");
  }
  try {
    rmSync(path, { force: true });
  } catch (err) {
    fsError(err, `removing ${path}`);
  }
  return { path, action: "removed" };
}

/**
 * The payload for this process: the single executable copies itself; the bundle renders the
 * launcher of the package it belongs to, pinned to the node running it.
 */
export function payloadFor(run: { isSea: boolean; execPath: string; entry: string }): PluginPayload {
  if (run.isSea) return { kind: "executable", source: realpathSync(run.execPath) };
  const root = packageRoot(realpathSync(run.entry));
  const template = readFileSync(join(root, "plugin-metadata", PLUGIN_FILE), "utf8");
  return { kind: "launcher", text: renderLauncher(template, root, run.execPath) };
}
