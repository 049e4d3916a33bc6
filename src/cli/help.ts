/**
 * `docker leak` as the docker CLI's own commands present themselves: the command tree comes from
 * clipanion's definitions of the registered commands (paths, descriptions, options), help is
 * rendered in docker/cli's layout (src/render/help.ts), and the command line is checked the way
 * cobra checks it before clipanion parses it, so that mistakes get cobra's words: `unknown flag:
 * --bogus`, `"docker leak rm" requires at least 1 argument.`, `See 'docker leak rm --help'.`
 *
 * What clipanion's definitions do not say (a flag's value name and default, a command's
 * arguments, a group's description) is in the tables below; a unit test checks that they and
 * the definitions name the same flags and commands, so neither can drift.
 */
import type { CommandHelp, FlagHelp, SubcommandHelp } from "../render/help.js";
import { renderHelp } from "../render/help.js";
import { PLUGIN_METADATA } from "../version.js";

/** The part of clipanion's `Definition` that help uses. */
export interface Definition {
  /** "docker leak volume rm" */
  path: string;
  description?: string;
  details?: string;
  examples?: [string, string][];
  options: { definition: string; description?: string }[];
}

export const BINARY = "docker leak";

/**
 * Value names and defaults of the flags that take a value, as pflag would print them, and the
 * values shell completion offers (src/cli/completion.ts).
 */
export const FLAG_VALUES: Readonly<
  Record<string, { value: string; default?: string; choices?: readonly string[] }>
> = {
  context: { value: "stringArray" },
  format: { value: "string", default: '"table"', choices: ["table", "json"] },
  interval: { value: "duration" },
  "metrics-file": { value: "string" },
  "node-host": { value: "string" },
  parallel: { value: "int", default: "8" },
  progress: { value: "string", default: '"auto"', choices: ["auto", "plain", "tty", "quiet"] },
  timeout: { value: "duration", default: "2m0s" },
};

/** What follows `[OPTIONS]` on a command's Usage line. */
export const COMMAND_ARGS: Readonly<Record<string, { args: string; required: boolean }>> = {
  scan: { args: "[CONTAINER|VOLUME...]", required: false },
  rm: { args: "CONTAINER [CONTAINER...]", required: true },
  "volume rm": { args: "VOLUME [VOLUME...]", required: true },
};

/** Commands that only group others (docker's "Management Commands"). */
export const GROUPS: Readonly<Record<string, string>> = {
  helper: "Manage the helper image and its containers",
  volume: "Remove volumes whose mounts other mount namespaces hold",
};

export interface Flag {
  short?: string;
  long: string;
  takesValue: boolean;
  description: string;
}

export interface LeafCommand {
  kind: "command";
  /** Words after `docker leak`, e.g. ["volume", "rm"] */
  words: string[];
  description: string;
  details: string[];
  examples: [string, string][];
  flags: Flag[];
  args: { args: string; required: boolean } | null;
}

export interface GroupCommand {
  kind: "group";
  words: string[];
  description: string;
  children: Map<string, LeafCommand>;
}

export type Node = LeafCommand | GroupCommand;

export interface CommandTree {
  top: Map<string, Node>;
}

/** "-q,--quiet" or "--format,-f #0" → the flag. */
export function parseOptionDefinition(definition: string, description = ""): Flag {
  const takesValue = / #\d+$/.test(definition);
  const names = definition.replace(/ #\d+$/, "").split(",");
  const long = names.find((n) => n.startsWith("--"))?.slice(2) ?? names[0]?.replace(/^-+/, "") ?? "";
  const short = names.find((n) => /^-[^-]$/.test(n))?.slice(1);
  return { ...(short ? { short } : {}), long, takesValue, description: description.trim() };
}

/** clipanion's prose (wrapped at 80 columns, paragraphs by blank lines) as paragraphs. */
function paragraphs(text: string | undefined): string[] {
  return (text ?? "")
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, " ").trim())
    .filter(Boolean);
}

export function commandTree(definitions: readonly Definition[]): CommandTree {
  const top = new Map<string, Node>();
  for (const d of definitions) {
    if (!d.path.startsWith(`${BINARY} `)) continue;
    const words = d.path.slice(BINARY.length + 1).split(" ");
    if (words.some((w) => w.startsWith("-"))) continue; // clipanion's own -h/--help
    const leaf: LeafCommand = {
      kind: "command",
      words,
      description: (d.description ?? "").trim(),
      details: paragraphs(d.details),
      examples: (d.examples ?? []).map(([what, cmd]) => [what.trim(), cmd.trim()]),
      flags: d.options.map((o) => parseOptionDefinition(o.definition, o.description)),
      args: COMMAND_ARGS[words.join(" ")] ?? null,
    };
    if (words.length === 1) {
      top.set(words[0]!, leaf);
    } else {
      const name = words[0]!;
      let group = top.get(name);
      if (group?.kind !== "group") {
        group = { kind: "group", words: [name], description: GROUPS[name] ?? "", children: new Map() };
        top.set(name, group);
      }
      group.children.set(words.slice(1).join(" "), leaf);
    }
  }
  return { top };
}

/** The command the leading words of `tokens` name, and how many words that took. */
export function resolve(
  tree: CommandTree,
  tokens: readonly string[],
): { node: Node | null; used: number; unknown: string | null } {
  const first = tokens[0];
  if (first === undefined || first.startsWith("-")) return { node: null, used: 0, unknown: null };
  const node = tree.top.get(first);
  if (!node) return { node: null, used: 0, unknown: first };
  if (node.kind === "command") return { node, used: 1, unknown: null };
  const second = tokens[1];
  if (second === undefined || second.startsWith("-")) return { node, used: 1, unknown: null };
  const child = node.children.get(second);
  return child ? { node: child, used: 2, unknown: null } : { node, used: 1, unknown: second };
}

const pathOf = (n: Node | null) => [BINARY, ...(n?.words ?? [])].join(" ");

function toFlagHelp(f: Flag): FlagHelp {
  const value = f.takesValue ? FLAG_VALUES[f.long] : undefined;
  return {
    ...(f.short ? { short: f.short } : {}),
    long: f.long,
    ...(f.takesValue ? { value: value?.value ?? "string" } : {}),
    description: f.description,
    ...(value?.default !== undefined ? { default: value.default } : {}),
  };
}

const byName = (a: SubcommandHelp, b: SubcommandHelp) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The help of a command, a group, or (null) the root, in docker's layout. */
export function helpText(tree: CommandTree, node: Node | null, width: number): string {
  if (node === null) {
    const management: SubcommandHelp[] = [];
    const commands: SubcommandHelp[] = [];
    for (const [name, n] of tree.top) {
      (n.kind === "group" ? management : commands).push({ name, description: n.description });
    }
    return renderHelp(
      {
        path: BINARY,
        args: "COMMAND",
        description: PLUGIN_METADATA.ShortDescription,
        flags: [],
        managementCommands: management.sort(byName),
        commands: commands.sort(byName),
      },
      width,
    );
  }
  if (node.kind === "group") {
    const commands = [...node.children].map(([name, c]) => ({ name, description: c.description }));
    return renderHelp(
      {
        path: pathOf(node),
        args: "COMMAND",
        description: node.description,
        flags: [],
        commands: commands.sort(byName),
      },
      width,
    );
  }
  return renderHelp(leafHelp(node), width);
}

function usageArgs(node: LeafCommand): string {
  return `${node.flags.length ? "[OPTIONS]" : ""}${node.args ? `${node.flags.length ? " " : ""}${node.args.args}` : ""}`;
}

function leafHelp(node: LeafCommand): CommandHelp {
  return {
    path: pathOf(node),
    args: usageArgs(node),
    description: node.description,
    details: node.details,
    examples: node.examples,
    flags: node.flags.map(toFlagHelp),
  };
}

/**
 * Checks a command's arguments the way cobra does before running it; returns cobra's message
 * (without the `See …` line) or null when clipanion may parse them.
 */
export function checkArguments(node: LeafCommand, args: readonly string[]): string | null {
  const longs = new Map(node.flags.map((f) => [f.long, f]));
  const shorts = new Map(node.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  let positionals = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      positionals += args.length - i - 1;
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const flag = longs.get(name);
      if (!flag) return `unknown flag: --${name}`;
      if (flag.takesValue && eq < 0) {
        if (i + 1 >= args.length) return `flag needs an argument: --${name}`;
        i++;
      } else if (!flag.takesValue && eq >= 0 && !/^(true|false|1|0)$/.test(a.slice(eq + 1))) {
        return `invalid argument "${a.slice(eq + 1)}" for "--${name}" flag: strconv.ParseBool: parsing "${a.slice(eq + 1)}": invalid syntax`;
      }
    } else if (a.startsWith("-") && a.length > 1) {
      // -abc: booleans in a row; the first one that takes a value takes the rest (or the next word).
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const flag = shorts.get(c);
        if (!flag) return `unknown shorthand flag: '${c}' in ${a}`;
        if (flag.takesValue) {
          if (j === a.length - 1) {
            if (i + 1 >= args.length) return `flag needs an argument: '${c}' in ${a}`;
            i++;
          }
          break;
        }
      }
    } else {
      positionals++;
    }
  }
  if (node.args === null && positionals > 0) return `"${pathOf(node)}" accepts no arguments.`;
  if (node.args?.required && positionals === 0) return `"${pathOf(node)}" requires at least 1 argument.`;
  return null;
}

/** cobra's usage error: the message, the `See` line, and for argument counts the usage. */
export function usageErrorText(node: LeafCommand, message: string): string {
  const see = `See '${pathOf(node)} --help'.`;
  if (/ (requires|accepts) /.test(message)) {
    return `${message}\n${see}\n\nUsage:  ${pathOf(node)} ${usageArgs(node)}\n\n${node.description}\n`;
  }
  return `${message}\n${see}\n`;
}

/** `docker leak bogus`, `docker leak volume bogus`. */
export function unknownCommandText(group: Node | null, word: string): string {
  return `${BINARY}: '${word}' is not a ${pathOf(group)} command.\nSee '${pathOf(group)} --help'.\n`;
}
