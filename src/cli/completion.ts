/**
 * Shell completion in cobra's `__complete` protocol, which the docker CLI delegates to plugins:
 * one candidate a line (`name<TAB>description`), then `:<directive>`. Pure: the command tree
 * comes in as a CompletionSpec (made from help.ts's tree, see completionSpec), container and
 * volume names as plain lists (src/cli/completion-run.ts asks the daemon for them).
 *
 * Shapes (docker/cli cli-plugins/manager/cobra.go, and Debian's 20.10 bash script):
 *   docker-leak __complete leak <args…> <toComplete>    docker 26+ (`docker __complete leak …`)
 *   docker-leak __completeNoDesc <args…> <toComplete>   the legacy bash script, without `leak`
 */
import type { CommandTree } from "./help.js";

/** cobra's ShellCompDirective bits. */
export const Directive = { Default: 0, Error: 1, NoSpace: 2, NoFileComp: 4 } as const;

export interface CompletionFlag {
  long: string;
  short?: string;
  takesValue: boolean;
  description: string;
  /** The values the flag accepts, when they are a fixed set. */
  choices?: string[];
}

export type NameKind = "container" | "volume";

export interface CompletionCommand {
  name: string;
  description: string;
  flags: CompletionFlag[];
  /** What the command's positional arguments name. */
  names: NameKind[];
  children: CompletionCommand[];
}

/** The command tree as plain data: built into the launcher's bundle, so no clipanion is loaded. */
export interface CompletionSpec {
  commands: CompletionCommand[];
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The spec of help's command tree; `flagValues` is help.ts's FLAG_VALUES (with `choices`). */
export function completionSpec(
  tree: CommandTree,
  flagValues: Readonly<Record<string, { choices?: readonly string[] }>>,
): CompletionSpec {
  const commands: CompletionCommand[] = [];
  for (const [name, node] of tree.top) {
    if (node.kind === "group") {
      const children = [...node.children].map(([child, leaf]) => ({
        name: child,
        description: leaf.description,
        flags: flagsOf(leaf.flags, flagValues),
        names: namesOf(leaf.args?.args),
        children: [],
      }));
      commands.push({
        name,
        description: node.description,
        flags: [],
        names: [],
        children: children.sort(byName),
      });
    } else {
      commands.push({
        name,
        description: node.description,
        flags: flagsOf(node.flags, flagValues),
        names: namesOf(node.args?.args),
        children: [],
      });
    }
  }
  return { commands: commands.sort(byName) };
}

function flagsOf(
  flags: readonly { long: string; short?: string; takesValue: boolean; description: string }[],
  flagValues: Readonly<Record<string, { choices?: readonly string[] }>>,
): CompletionFlag[] {
  return flags.map((f) => {
    const choices = f.takesValue ? flagValues[f.long]?.choices : undefined;
    return {
      long: f.long,
      ...(f.short ? { short: f.short } : {}),
      takesValue: f.takesValue,
      description: f.description,
      ...(choices ? { choices: [...choices] } : {}),
    };
  });
}

/** "[CONTAINER|VOLUME...]" → container, volume. */
function namesOf(args: string | undefined): NameKind[] {
  const kinds: NameKind[] = [];
  if (args?.includes("CONTAINER")) kinds.push("container");
  if (args?.includes("VOLUME")) kinds.push("volume");
  return kinds;
}

export interface CompletionRequest {
  /** `__complete` (with descriptions) or `__completeNoDesc`. */
  descriptions: boolean;
  /** The words before the one being completed, after `leak`. */
  words: string[];
  toComplete: string;
}

/** The request in the plugin's arguments (docker's global flags already stripped), or null. */
export function parseRequest(args: readonly string[]): CompletionRequest | null {
  const verb = args[0];
  if (verb !== "__complete" && verb !== "__completeNoDesc") return null;
  let rest = args.slice(1);
  // docker 26+ names the plugin; the legacy bash script does not. No command is called `leak`.
  if (rest[0] === "leak" && rest.length > 1) rest = rest.slice(1);
  return {
    descriptions: verb === "__complete",
    words: rest.slice(0, -1),
    toComplete: rest.at(-1) ?? "",
  };
}

export interface Answer {
  /** `value` or `value<TAB>description` */
  candidates: string[];
  directive: number;
}

/** Names to list from the daemon (the only part of an answer that needs it). */
export interface NamesQuery {
  containers: "all" | "stopped" | null;
  volumes: boolean;
  /** Already on the command line: not offered again (like docker's completion.Unique). */
  exclude: string[];
  toComplete: string;
}

/** `contexts`: the word to complete is a value of --context (names from the local context store). */
export type Plan = { answer: Answer } | { names: NamesQuery } | { contexts: string };

const nothing: Plan = { answer: { candidates: [], directive: Directive.NoFileComp } };

const withDescription = (value: string, description: string) =>
  description ? `${value}\t${description}` : value;

const HELP_COMMAND = { name: "help", description: "Help about any command" };

function helpFlags(name: string): CompletionFlag[] {
  return [{ long: "help", short: "h", takesValue: false, description: `help for ${name}` }];
}

/** Subcommand, flag and flag-value answers, or the names query for a command's arguments. */
export function plan(spec: CompletionSpec, request: CompletionRequest): Plan {
  const { toComplete } = request;
  let words = request.words;
  let isHelp = false;
  if (words[0] === "help") {
    isHelp = true;
    words = words.slice(1);
  }
  // Find the command the leading words name.
  let level = spec.commands;
  let command: CompletionCommand | null = null;
  let used = 0;
  while (used < words.length) {
    const next = level.find((c) => c.name === words[used]);
    if (!next) break;
    command = next;
    used++;
    level = next.children;
    if (next.children.length === 0) break;
  }
  const rest = words.slice(used);
  const isGroup = command === null || command.children.length > 0;
  if (isGroup || isHelp) {
    // The root or a group (or `help …`): its subcommands, and nothing after an unknown word.
    if (rest.length > 0 || (isHelp && command !== null && !isGroup)) return nothing;
    if (toComplete.startsWith("-")) {
      return flagNames(helpFlags(command?.name ?? "leak"), new Set(), toComplete);
    }
    const subcommands = [...level, ...(command === null && !isHelp ? [HELP_COMMAND] : [])].sort(byName);
    return {
      answer: {
        candidates: subcommands
          .filter((c) => c.name.startsWith(toComplete))
          .map((c) => withDescription(c.name, c.description)),
        directive: Directive.NoFileComp,
      },
    };
  }
  const leaf = command!;
  const flags = [...leaf.flags, ...helpFlags(leaf.name)];
  const byLong = new Map(flags.map((f) => [f.long, f]));
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const given = new Set<CompletionFlag>();
  const positionals: string[] = [];
  let pendingValue: CompletionFlag | null = null;
  let flagsEnded = false;
  for (const word of rest) {
    if (pendingValue) {
      pendingValue = null;
      continue;
    }
    if (flagsEnded || word === "-" || !word.startsWith("-")) {
      positionals.push(word);
      continue;
    }
    if (word === "--") {
      flagsEnded = true;
      continue;
    }
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const flag = byLong.get(word.slice(2, eq < 0 ? undefined : eq));
      if (!flag) continue;
      given.add(flag);
      if (flag.takesValue && eq < 0) pendingValue = flag;
      continue;
    }
    // -abc: booleans in a row; the first that takes a value takes the rest (or the next word).
    for (let j = 1; j < word.length; j++) {
      const flag = byShort.get(word[j]!);
      if (!flag) break;
      given.add(flag);
      if (flag.takesValue) {
        if (j === word.length - 1) pendingValue = flag;
        break;
      }
    }
  }
  if (pendingValue) return flagValues(pendingValue, toComplete);
  if (!flagsEnded && toComplete.startsWith("--") && toComplete.includes("=")) {
    const eq = toComplete.indexOf("=");
    const flag = byLong.get(toComplete.slice(2, eq));
    return flag?.takesValue ? flagValues(flag, toComplete.slice(eq + 1)) : nothing;
  }
  if (!flagsEnded && toComplete.startsWith("-")) return flagNames(flags, given, toComplete);
  if (given.has(byLong.get("help")!)) return nothing;
  if (leaf.names.length === 0) return nothing;
  // `docker leak rm` removes what is not running, unless -f (which stops running ones first).
  const force = byLong.get("force");
  const onlyStopped = words.slice(0, used).join(" ") === "rm" && !(force && given.has(force));
  return {
    names: {
      containers: leaf.names.includes("container") ? (onlyStopped ? "stopped" : "all") : null,
      volumes: leaf.names.includes("volume"),
      exclude: positionals,
      toComplete,
    },
  };
}

function flagNames(flags: readonly CompletionFlag[], given: Set<CompletionFlag>, toComplete: string): Plan {
  const candidates: string[] = [];
  for (const f of flags) {
    if (given.has(f)) continue;
    if (`--${f.long}`.startsWith(toComplete)) candidates.push(withDescription(`--${f.long}`, f.description));
    if (f.short && `-${f.short}`.startsWith(toComplete)) {
      candidates.push(withDescription(`-${f.short}`, f.description));
    }
  }
  return { answer: { candidates, directive: Directive.NoFileComp } };
}

function flagValues(flag: CompletionFlag, toComplete: string): Plan {
  if (flag.long === "context") return { contexts: toComplete };
  // A path: the shell completes file names.
  if (flag.long === "metrics-file") return { answer: { candidates: [], directive: Directive.Default } };
  const candidates = (flag.choices ?? []).filter((c) => c.startsWith(toComplete));
  return { answer: { candidates, directive: Directive.NoFileComp } };
}

export interface ContainerEntry {
  id: string;
  /** As the API lists them: with the leading slash; links (`/a/b`) are skipped. */
  names: string[];
  state: string;
}

/** Context names as `docker context create` accepts them; anything else is not offered. */
const CONTEXT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/;

/** The answer for a --context value: the store's contexts (and `default`) that start with the word. */
export function contextsAnswer(toComplete: string, names: readonly string[]): Answer {
  const candidates = ["default", ...[...new Set(names)].filter((n) => n !== "default").sort()].filter(
    (n) => CONTEXT_NAME.test(n) && n.startsWith(toComplete),
  );
  return { candidates, directive: Directive.NoFileComp };
}

/** What Docker accepts as a container or volume name; anything else would corrupt the protocol. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ID = /^[0-9a-f]{64}$/;
const STATE = /^[a-z]{1,20}$/;
const RUNNING = new Set(["running", "paused", "restarting"]);

/**
 * The names answer. IDs are offered, as docker does, with DOCKER_COMPLETION_SHOW_CONTAINER_IDS=yes,
 * and also when the word typed so far is the start of an ID.
 */
export function namesAnswer(
  query: NamesQuery,
  containers: readonly ContainerEntry[],
  volumes: readonly string[],
  showIds = false,
): Answer {
  const seen = new Set(query.exclude);
  const candidates: string[] = [];
  const offer = (value: string, description: string) => {
    if (seen.has(value) || !value.startsWith(query.toComplete)) return;
    seen.add(value);
    candidates.push(withDescription(value, description));
  };
  if (query.containers) {
    for (const c of containers) {
      if (query.containers === "stopped" && RUNNING.has(c.state)) continue;
      const description = STATE.test(c.state) ? `container, ${c.state}` : "container";
      for (const raw of c.names) {
        const name = raw.replace(/^\//, "");
        if (NAME.test(name)) offer(name, description);
      }
      if (ID.test(c.id) && (showIds || (query.toComplete !== "" && c.id.startsWith(query.toComplete)))) {
        offer(c.id, description);
      }
    }
  }
  if (query.volumes) {
    for (const v of volumes) if (NAME.test(v)) offer(v, "volume");
  }
  return { candidates, directive: Directive.NoFileComp };
}

/** The protocol's text: candidates (descriptions dropped when not wanted), then the directive. */
export function formatAnswer(answer: Answer, descriptions: boolean): string {
  const lines = answer.candidates.map((c) => {
    // Descriptions are our own text; still, nothing but one line per candidate may go out.
    const [value = "", description = ""] = c.split("\t", 2);
    // Like cobra: a description of several lines is offered by its first.
    const clean = (description.split("\n", 1)[0] ?? "").replace(/[\p{Cc}]+/gu, " ").trim();
    return descriptions && clean ? `${value}\t${clean}` : value;
  });
  return `${[...lines, `:${answer.directive}`].join("\n")}\n`;
}

/**
 * The docker CLI hands a plugin `__complete leak …` without the global flags (`-c`, `-H`,
 * `--config`) and turns `__completeNoDesc` into `__complete`; the docker process that runs us
 * still has them on its command line. Given that command line and our own arguments after
 * `__complete`, returns docker's global arguments and whether descriptions were asked for, or
 * null when the parent is not such a docker command.
 */
export function parentRequest(
  parentArgv: readonly string[],
  ownArgs: readonly string[],
): { globals: string[]; descriptions: boolean } | null {
  const program = parentArgv[0]?.split("/").at(-1) ?? "";
  if (!/^(com\.)?docker(\.exe)?$/.test(program)) return null;
  const args = parentArgv.slice(1);
  if (args.length < ownArgs.length) return null;
  const head = args.slice(0, args.length - ownArgs.length);
  if (!args.slice(head.length).every((a, i) => a === ownArgs[i])) return null;
  const verbs = head.filter((a) => a === "__complete" || a === "__completeNoDesc");
  if (verbs.length !== 1) return null;
  return { globals: head.filter((a) => a !== verbs[0]), descriptions: verbs[0] === "__complete" };
}
