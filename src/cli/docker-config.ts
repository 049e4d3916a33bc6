/**
 * `docker leak install --hooks`: the docker CLI's hooks, configured in the user's config.json
 * (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`). The CLI (26.1 and later) runs
 * a plugin's hook after each command its `plugins.<name>.hooks` lists (comma-separated command
 * prefixes), when `features.hooks` (or the environment's DOCKER_CLI_HOOKS) is true and stdout is
 * a terminal. Both values are strings: the CLI reads `features` and `plugins` as string maps.
 *
 * Installing adds docker leak's commands to `plugins.leak.hooks` and sets `features.hooks` to
 * "true"; when it changes `features.hooks` it keeps the value it found in
 * `plugins.leak.featuresHooksBeforeInstall` ("" for none), and which plugins had hooks then in
 * `plugins.leak.pluginsWithHooksBeforeInstall`, so that uninstalling restores exactly that value —
 * unless a plugin has had hooks configured since, which would expect the feature on. Uninstalling
 * removes only what installing added. Every other key and value is kept, and so is the file's layout: its indent
 * (a tab, as the docker CLI writes it, for a new file), its final newline or none, its mode and
 * owner; a link is followed, as the CLI does. A file that is not a JSON object, or whose
 * `features` or `plugins` are not what the CLI expects, is an error and is left as it is.
 *
 * The edits are pure functions of the parsed document (withHooks, withoutHooks); reading and the
 * atomic write (a temp file renamed into place) are apart.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { LeakError } from "../errors.js";
import { escapeForTerminal } from "../render/escape.js";
import { HOOKED_COMMANDS } from "./hook.js";

/** The plugin's name in `plugins.<name>` (the CLI's name for it: docker-<name>). */
export const PLUGIN_NAME = "leak";
/** Where installing keeps the `features.hooks` it replaced ("" when there was none). */
export const FEATURES_BEFORE_KEY = "featuresHooksBeforeInstall";
/** Where installing keeps which plugins had hooks then (comma-separated), when it set features.hooks. */
export const HOOKED_BEFORE_KEY = "pluginsWithHooksBeforeInstall";
export const HOOKS = Object.keys(HOOKED_COMMANDS);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type ConfigDocument = { [key: string]: Json };
type StringMap = { [key: string]: string };

/** strconv.ParseBool's true, which the CLI uses to read `features.hooks` and DOCKER_CLI_HOOKS. */
export const isTrue = (v: string | undefined) =>
  v !== undefined && ["1", "t", "T", "TRUE", "true", "True"].includes(v);

const isObject = (v: Json | undefined): v is { [key: string]: Json } =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function malformed(path: string, what: string): LeakError {
  return new LeakError(
    `${escapeForTerminal(path)}: ${what}; leaving it as it is`,
    "Fix the file (the docker CLI cannot read it either), then run this again.",
  );
}

/** `doc[key]` as a string map (created when absent), or an error naming what is wrong. */
function stringMap(doc: { [key: string]: Json }, key: string, where: string, path: string): StringMap {
  const value = doc[key];
  if (value === undefined) return {};
  if (!isObject(value)) throw malformed(path, `${where} is not an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") throw malformed(path, `${where}.${escapeForTerminal(k)} is not a string`);
  }
  return { ...(value as StringMap) };
}

const entries = (hooks: string | undefined) =>
  (hooks ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);

/** What an edit changed, for the user; empty when nothing. */
export interface ConfigEdit {
  doc: ConfigDocument;
  changes: string[];
  /** Said to the user besides the changes (e.g. why features.hooks stays). */
  notes: string[];
}

/** features, plugins and plugins.leak of `input`, as copies to edit, or an error naming what is wrong. */
function sections(input: ConfigDocument, path: string) {
  const doc: ConfigDocument = { ...input };
  const features = stringMap(doc, "features", "features", path);
  const plugins = doc.plugins;
  if (plugins !== undefined && !isObject(plugins)) throw malformed(path, "plugins is not an object");
  const allPlugins = { ...((plugins ?? {}) as { [key: string]: Json }) };
  const ours = stringMap(allPlugins, PLUGIN_NAME, `plugins.${PLUGIN_NAME}`, path);
  return { doc, features, allPlugins, ours };
}

/** The plugins with hooks configured (docker leak as `ours` says), in the config's order. */
function pluginsWithHooks(allPlugins: { [key: string]: Json }, ours: StringMap): string[] {
  return Object.entries(allPlugins)
    .filter(([name, cfg]) => {
      const c = name === PLUGIN_NAME ? ours : cfg;
      return (
        isObject(c) &&
        ((typeof c.hooks === "string" && c.hooks) ||
          (typeof c["error-hooks"] === "string" && c["error-hooks"]))
      );
    })
    .map(([name]) => name);
}

/** The document with docker leak's hooks configured. */
export function withHooks(input: ConfigDocument, path = "config.json"): ConfigEdit {
  const { doc, features, allPlugins, ours } = sections(input, path);
  const changes: string[] = [];
  const notes: string[] = [];

  const hooked = pluginsWithHooks(allPlugins, ours);
  const present = entries(ours.hooks);
  const missing = HOOKS.filter((h) => !present.includes(h));
  if (missing.length) {
    ours.hooks = [...present, ...missing].join(",");
    changes.push(`plugins.${PLUGIN_NAME}.hooks: ${ours.hooks}`);
  }
  if (!isTrue(features.hooks)) {
    // Recorded once: a second install must not take its own "true" for what was there before.
    if (ours[FEATURES_BEFORE_KEY] === undefined) {
      ours[FEATURES_BEFORE_KEY] = features.hooks ?? "";
      ours[HOOKED_BEFORE_KEY] = hooked.join(",");
      if (hooked.length) {
        notes.push(
          `features.hooks also turns on the hooks configured for ${hooked.map(escapeForTerminal).join(", ")}`,
        );
      }
    }
    features.hooks = "true";
    changes.push("features.hooks: true");
  }
  if (!changes.length) return { doc: input, changes, notes };
  doc.features = features;
  allPlugins[PLUGIN_NAME] = ours;
  doc.plugins = allPlugins;
  return { doc, changes, notes };
}

/** The document without what withHooks added. */
export function withoutHooks(input: ConfigDocument, path = "config.json"): ConfigEdit {
  const { doc, features, allPlugins, ours } = sections(input, path);
  const changes: string[] = [];
  const notes: string[] = [];

  if (ours.hooks !== undefined) {
    const rest = entries(ours.hooks).filter((h) => !HOOKS.includes(h));
    if (rest.length) ours.hooks = rest.join(",");
    else delete ours.hooks;
    changes.push(`plugins.${PLUGIN_NAME}.hooks: ${rest.length ? rest.join(",") : "removed"}`);
  }
  const before = ours[FEATURES_BEFORE_KEY];
  const hookedBefore = entries(ours[HOOKED_BEFORE_KEY]);
  delete ours[HOOKED_BEFORE_KEY];
  if (before !== undefined) {
    delete ours[FEATURES_BEFORE_KEY];
    const since = pluginsWithHooks(allPlugins, ours).filter((p) => !hookedBefore.includes(p));
    if (!isTrue(features.hooks)) {
      // Changed since: whatever it is now is the user's.
    } else if (since.length) {
      notes.push(
        `features.hooks stays true: the hooks of ${since.map(escapeForTerminal).join(", ")} came since`,
      );
    } else if (before === "") {
      delete features.hooks;
      changes.push("features.hooks: removed");
    } else {
      features.hooks = before;
      changes.push(`features.hooks: ${escapeForTerminal(before)}`);
    }
  }
  if (!changes.length && before === undefined) return { doc: input, changes, notes };

  if (Object.keys(features).length) doc.features = features;
  else delete doc.features;
  if (Object.keys(ours).length) allPlugins[PLUGIN_NAME] = ours;
  else delete allPlugins[PLUGIN_NAME];
  if (Object.keys(allPlugins).length) doc.plugins = allPlugins;
  else delete doc.plugins;
  if (!changes.length) changes.push(`plugins.${PLUGIN_NAME}: install's records removed`);
  return { doc, changes, notes };
}

/** config.json as read: its document, and the layout to write it back in. */
export interface ConfigFile {
  /** The file written to: config.json, or what its link points to. */
  path: string;
  doc: ConfigDocument;
  exists: boolean;
  indent: string;
  finalNewline: boolean;
}

export function configFilePath(configDir: string): string {
  return join(configDir, "config.json");
}

/** A link's final target, also when that target does not exist yet (as the CLI's Save does). */
function resolveLinks(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    let p = path;
    for (let i = 0; i < 40; i++) {
      let target: string;
      try {
        if (!lstatSync(p).isSymbolicLink()) return p;
        target = readlinkSync(p);
      } catch {
        return p;
      }
      p = resolve(dirname(p), target);
    }
    return p;
  }
}

function ioError(err: unknown, what: string): LeakError {
  const e = err as NodeJS.ErrnoException;
  return new LeakError(`cannot ${what}: ${escapeForTerminal(e.message ?? String(err))}`);
}

/** The document in `text`, or an error naming the file; "" (an empty file) is an empty document. */
export function parseConfig(text: string, path: string): ConfigDocument {
  if (text.trim() === "") return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw malformed(path, `not valid JSON (${escapeForTerminal((err as Error).message)})`);
  }
  if (!isObject(doc as Json)) throw malformed(path, "not a JSON object");
  return doc as ConfigDocument;
}

/** The first level's indent in `text`, if the text is indented at all. */
function indentOf(text: string): string | undefined {
  return /^\{\s*?\n([ \t]+)\S/.exec(text)?.[1];
}

export function readConfig(configDir: string): ConfigFile {
  const path = resolveLinks(configFilePath(configDir));
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      return { path, doc: {}, exists: false, indent: "\t", finalNewline: false };
    }
    throw ioError(err, `read ${path}`);
  }
  return {
    path,
    doc: parseConfig(text, path),
    exists: true,
    indent: indentOf(text) ?? "\t",
    finalNewline: text.endsWith("\n"),
  };
}

/** The document as the file's layout writes it. */
export function formatConfig(file: Pick<ConfigFile, "indent" | "finalNewline">, doc: ConfigDocument): string {
  return JSON.stringify(doc, null, file.indent) + (file.finalNewline ? "\n" : "");
}

/** Writes `doc` in place of `file` atomically, keeping its mode and owner (new: 0600, in a 0700 directory). */
export function writeConfig(file: ConfigFile, doc: ConfigDocument): void {
  const dir = dirname(file.path);
  let mode = 0o600;
  let owner: { uid: number; gid: number } | undefined;
  if (file.exists) {
    const st = statSync(file.path);
    mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
  } else {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw ioError(err, `create ${dir}`);
    }
  }
  const tmp = join(dir, `.config.json.${randomBytes(4).toString("hex")}`);
  try {
    writeFileSync(tmp, formatConfig(file, doc), { mode: 0o600, flag: "wx" });
    chmodSync(tmp, mode);
    if (owner && process.getuid?.() === 0) chownSync(tmp, owner.uid, owner.gid);
    renameSync(tmp, file.path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw ioError(err, `write ${file.path}`);
  }
}

export interface HooksResult {
  path: string;
  changes: string[];
  notes: string[];
}

/** The environment's word on hooks, which overrides features.hooks (as the CLI reads it). */
export function environmentOverride(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of ["DOCKER_CLI_HOOKS", "DOCKER_CLI_HINTS"]) {
    const v = env[name];
    if (v)
      return isTrue(v) ? undefined : `${name}=${escapeForTerminal(v)} in the environment turns hooks off`;
  }
  return undefined;
}

/** The edit to make, checked before anything is written (install: before the plugin is copied). */
export function planHooks(configDir: string, install: boolean): { file: ConfigFile; edit: ConfigEdit } {
  const file = readConfig(configDir);
  const edit = install ? withHooks(file.doc, file.path) : withoutHooks(file.doc, file.path);
  return { file, edit };
}

export function applyHooks(plan: { file: ConfigFile; edit: ConfigEdit }): HooksResult {
  if (plan.edit.changes.length) writeConfig(plan.file, plan.edit.doc);
  return { path: plan.file.path, changes: plan.edit.changes, notes: plan.edit.notes };
}
