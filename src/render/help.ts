/**
 * Help text in the docker CLI's layout: docker/cli's cobra usage template (cli/cobra.go) and
 * pflag's `FlagUsagesWrapped`, reproduced so that `docker leak … --help` reads like
 * `docker volume rm --help` or `docker compose ps --help`: `Usage:  …`, the description,
 * `Aliases:`, `Examples:`, `Options:` in pflag's columns (flags sorted by name, `-q, --quiet`,
 * `    --format string`, `(default "table")`, descriptions wrapped to the width), `Management
 * Commands:` and `Commands:` padded like cobra's, and the closing `Run '… COMMAND --help' …`
 * line. Plain text: help is never coloured. The golden tests compare it with the real CLI's.
 */

export interface FlagHelp {
  /** One letter, without the dash */
  short?: string;
  /** Without the dashes */
  long: string;
  /** The value's name (string, duration …); absent for a boolean flag */
  value?: string;
  description: string;
  /** As pflag prints it: strings quoted (`"table"`), others bare (`2m0s`) */
  default?: string;
}

export interface SubcommandHelp {
  name: string;
  description: string;
}

export interface CommandHelp {
  /** e.g. "docker leak scan" */
  path: string;
  /** What follows the path on the Usage line, e.g. "[OPTIONS] [CONTAINER|VOLUME...]" or "COMMAND" */
  args: string;
  description: string;
  /** Paragraphs after the description (cobra's Long); each is wrapped to the width */
  details?: string[];
  aliases?: string[];
  /** [what it does, the command] */
  examples?: readonly (readonly [string, string])[];
  flags: readonly FlagHelp[];
  managementCommands?: readonly SubcommandHelp[];
  commands?: readonly SubcommandHelp[];
}

/** cobra's minimum name padding in command lists. */
const MIN_NAME_PADDING = 11;

export function renderHelp(h: CommandHelp, width = 80): string {
  const out: string[] = [`Usage:  ${h.path}${h.args ? ` ${h.args}` : ""}`, "", h.description.trim()];
  for (const p of h.details ?? []) out.push("", ...wrapParagraph(p, width - 1));
  if (h.aliases?.length) out.push("", "Aliases:", `  ${h.aliases.join(", ")}`);
  if (h.examples?.length) {
    out.push("", "Examples:");
    h.examples.forEach(([what, command], i) => {
      if (i > 0) out.push("");
      out.push(`  # ${what.trim()}`, `  ${command}`);
    });
  }
  if (h.flags.length) out.push("", "Options:", ...flagUsages(h.flags, width - 1));
  const subs = [...(h.managementCommands ?? []), ...(h.commands ?? [])];
  const padding = Math.max(MIN_NAME_PADDING, ...subs.map((c) => c.name.length));
  if (h.managementCommands?.length) {
    out.push("", "Management Commands:");
    for (const c of h.managementCommands) out.push(`  ${c.name.padEnd(padding + 1)}${c.description}`);
  }
  if (h.commands?.length) {
    out.push("", "Commands:");
    for (const c of h.commands) out.push(`  ${c.name.padEnd(padding)} ${c.description}`);
  }
  if (subs.length) out.push("", `Run '${h.path} COMMAND --help' for more information on a command.`);
  return `${out.join("\n")}\n`;
}

/** pflag's FlagUsagesWrapped(cols): sorted by long name, descriptions aligned and wrapped. */
export function flagUsages(flags: readonly FlagHelp[], cols: number): string[] {
  const sorted = [...flags].sort((a, b) => (a.long < b.long ? -1 : a.long > b.long ? 1 : 0));
  const heads = sorted.map(
    (f) => `${f.short ? `  -${f.short}, --${f.long}` : `      --${f.long}`}${f.value ? ` ${f.value}` : ""}`,
  );
  // pflag counts a separator character in maxlen, and prints one space more: the descriptions
  // start two columns after the longest head, plus one.
  const maxlen = Math.max(...heads.map((h) => h.length + 1));
  return sorted.map((f, i) => {
    const head = heads[i] ?? "";
    const usage = `${f.description}${f.default !== undefined ? ` (default ${f.default})` : ""}`;
    return `${head} ${" ".repeat(maxlen - head.length)} ${wrap(maxlen + 2, cols, usage)}`;
  });
}

/**
 * pflag's wrapN: the text up to `i` characters, cut at its last blank, and the rest; it may run
 * `slop` characters over when that takes the whole text.
 */
function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ""];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(" "), head.lastIndexOf("\t"), head.lastIndexOf("\n"));
  if (w <= 0) return [s, ""];
  const nl = head.lastIndexOf("\n");
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

/** pflag's wrap: `s` wrapped to width `w`, continuation lines indented by `i`. */
function wrap(i: number, w: number, s: string): string {
  if (w === 0) return s.replaceAll("\n", `\n${" ".repeat(i)}`);
  let indent = i;
  let room = w - indent;
  let r = "";
  if (room < 24) {
    indent = 16;
    room = w - indent;
    r += `\n${" ".repeat(indent)}`;
  }
  if (room < 24) return s.replaceAll("\n", r);
  const slop = 5;
  room -= slop;
  const pad = " ".repeat(indent);
  let [line, rest] = wrapN(room, slop, s);
  r += line.replaceAll("\n", `\n${pad}`);
  while (rest !== "") {
    [line, rest] = wrapN(room, slop, rest);
    r += `\n${pad}${line.replaceAll("\n", `\n${pad}`)}`;
  }
  return r;
}

/** A paragraph of prose, wrapped at blanks to `width` columns, no trailing blanks. */
export function wrapParagraph(text: string, width: number): string[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
