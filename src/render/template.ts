/**
 * `--format TEMPLATE`: the part of Go's text/template that docker users rely on, as docker's
 * formatter applies it (docker/cli cli/command/formatter and templates/templates.go). Pure: a
 * lexer, a parser to an AST, a checker against the fields a command documents, an evaluator over
 * plain objects, and docker's tabwriter for `table TEMPLATE`.
 *
 * The --format value (docker's rules):
 *
 *   "table"             the command's own table (not handled here)
 *   "json"              the command's own JSON document (not handled here)
 *   "table" TEMPLATE    TEMPLATE per row, a header row made from the same template, columns at
 *                       each tab, aligned like docker's tabwriter (min width 10, padding 3);
 *                       like docker, anything starting with "table" is this form
 *   TEMPLATE            TEMPLATE per row, each row followed by a newline
 *
 * Before parsing, blanks around the template are trimmed and the two-character sequences `\t`
 * and `\n` anywhere in it (inside quoted strings too) become a tab and a newline, as docker does.
 *
 * The template (a subset of text/template):
 *
 *   template  = { text | action | comment }
 *   action    = "{{" ["- "] pipeline [" -"] "}}"          ("- " / " -" trim blanks, as in Go)
 *   comment   = "{{" ["- "] "/*" any "*\/" [" -"] "}}"
 *   pipeline  = command { "|" command }                   (a command's value is the next one's
 *                                                          last argument)
 *   command   = operand | function { operand }
 *   operand   = "." | field { field } | string | rawstring | integer | "true" | "false"
 *   field     = "." identifier                            (e.g. .Server.Version)
 *   function  = "json" | "join" | "upper" | "lower" | "printf"
 *   string    = Go's "…" with \\ \" \n \t \r \a \b \f \v \xHH \uHHHH \UHHHHHHHH \ooo
 *   rawstring = `…`
 *
 * Functions: `json V` (V as compact JSON, like docker's: no HTML escaping), `join LIST SEP`
 * (a list of strings or integers), `upper S`, `lower S`, `printf FORMAT ARGS…` with the verbs
 * %s %d %v %q %% and the flags `-`, `0`, `+`, a width and (%s, %q, %v) a precision; a verb that
 * does not fit its argument prints as Go does (`%!d(string=web)`).
 *
 * Not in the subset, each refused with an error that names it: if/else/range/with/end and the
 * other keywords, variables ($x), parentheses, nil, floats and characters, any other function.
 *
 * Fields are checked before anything runs, against the command's documented fields, and so are
 * the argument types and counts of the functions: a template that parses will not fail while a
 * command is removing things. Errors are TemplateErrors worded as Go's (`template: :1: function
 * "foo" not defined`).
 *
 * Text from the scanned system stays escaped: a string value is written through
 * escapeForTerminal when it reaches the output (as such, through printf, join or upper/lower);
 * `json` writes exact strings, escaped as the JSON output is (escapeJsonText). The template's own
 * text (the user's) is written as it is.
 */
import { escapeForTerminal, escapeJsonText } from "./escape.js";

export class TemplateError extends Error {
  override name = "TemplateError";
}

// ---------------------------------------------------------------------------------------------
// Fields

export type ScalarType = "string" | "int" | "bool" | "[]string" | "[]int";
export interface Field {
  /** The table header; absent: made from the name (MountPoint → MOUNT POINT) */
  header?: string;
  type: ScalarType | Schema;
}
export interface Schema {
  /** Named in errors, e.g. "scan row" */
  name: string;
  fields: Readonly<Record<string, Field>>;
}

/** `MountPoint` → `MOUNT POINT`, `ID` → `ID`, `APIVersion` → `API VERSION`. */
export function headerOf(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toUpperCase();
}

// ---------------------------------------------------------------------------------------------
// AST

export type Operand =
  | { kind: "dot"; pos: number }
  | { kind: "field"; path: string[]; pos: number }
  | { kind: "string"; value: string; pos: number }
  | { kind: "int"; value: number; pos: number }
  | { kind: "bool"; value: boolean; pos: number };
export type Command =
  | { kind: "operand"; operand: Operand; pos: number }
  | { kind: "call"; fn: FunctionName; args: Operand[]; pos: number };
export type Node = { kind: "text"; text: string } | { kind: "action"; pipeline: Command[]; pos: number };
export interface Template {
  source: string;
  nodes: Node[];
}

const FUNCTIONS = ["json", "join", "upper", "lower", "printf"] as const;
export type FunctionName = (typeof FUNCTIONS)[number];
const KEYWORDS = new Set([
  "if",
  "else",
  "end",
  "range",
  "with",
  "define",
  "template",
  "block",
  "break",
  "continue",
  "nil",
]);

// ---------------------------------------------------------------------------------------------
// Parsing

/** Line of `pos` in `source`, 1-based, for Go's `template: :LINE:` prefix. */
function lineOf(source: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < source.length; i++) if (source[i] === "\n") line++;
  return line;
}

function colOf(source: string, pos: number): number {
  const nl = source.lastIndexOf("\n", pos - 1);
  return pos - nl - 1;
}

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";
const isIdentStart = (c: string | undefined) => c !== undefined && /[A-Za-z_]/.test(c);
const isIdentChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);

type Token =
  | { t: "pipe"; pos: number }
  | { t: "operand"; operand: Operand }
  | { t: "ident"; name: string; pos: number };

/** Parses a template (after docker's `\t`/`\n` replacement). Throws TemplateError. */
export function parseTemplate(source: string): Template {
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(`template: :${lineOf(source, pos)}: ${msg}`);
  };
  const nodes: Node[] = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf("{{", i);
    let text = source.slice(i, open === -1 ? source.length : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, "");
    trimNext = false;
    if (open === -1) {
      if (text) nodes.push({ kind: "text", text });
      break;
    }
    let p = open + 2;
    if (source[p] === "-" && isSpace(source[p + 1])) {
      text = text.replace(/[ \t\r\n]+$/, "");
      p += 2;
    }
    if (text) nodes.push({ kind: "text", text });
    // A comment: /* … */ right after the delimiter (and its trim marker).
    if (source.startsWith("/*", p)) {
      const end = source.indexOf("*/", p + 2);
      if (end === -1) fail(open, "unclosed comment");
      let q = end + 2;
      if (source[q] === " " && source[q + 1] === "-" && source.startsWith("}}", q + 2)) {
        trimNext = true;
        q += 2;
      }
      if (!source.startsWith("}}", q)) fail(open, "comment ends before closing delimiter");
      i = q + 2;
      continue;
    }
    const tokens: Token[] = [];
    let closed = false;
    while (p < source.length) {
      const c = source[p]!;
      if (isSpace(c)) {
        // " -}}": trim the blanks after the action
        if (source[p + 1] === "-" && source.startsWith("}}", p + 2) && isSpace(c)) {
          trimNext = true;
          p += 4;
          closed = true;
          break;
        }
        p++;
        continue;
      }
      if (source.startsWith("}}", p)) {
        p += 2;
        closed = true;
        break;
      }
      const start = p;
      if (c === "|") {
        tokens.push({ t: "pipe", pos: p });
        p++;
      } else if (c === ".") {
        if (!isIdentStart(source[p + 1])) {
          if (isIdentChar(source[p + 1]))
            fail(p, `bad character in field name: ${JSON.stringify(source[p + 1])}`);
          tokens.push({ t: "operand", operand: { kind: "dot", pos: p } });
          p++;
          continue;
        }
        const path: string[] = [];
        while (source[p] === "." && isIdentStart(source[p + 1])) {
          let q = p + 1;
          while (isIdentChar(source[q])) q++;
          path.push(source.slice(p + 1, q));
          p = q;
        }
        if (source[p] === ".") fail(p, "unexpected . after term");
        tokens.push({ t: "operand", operand: { kind: "field", path, pos: start } });
      } else if (c === '"') {
        let q = p + 1;
        while (q < source.length && source[q] !== '"') {
          if (source[q] === "\n") fail(start, "unterminated quoted string");
          if (source[q] === "\\") q++;
          q++;
        }
        if (q >= source.length) fail(start, "unterminated quoted string");
        tokens.push({
          t: "operand",
          operand: {
            kind: "string",
            value: unquote(source.slice(p + 1, q), () => fail(start, "invalid syntax")),
            pos: start,
          },
        });
        p = q + 1;
      } else if (c === "`") {
        const q = source.indexOf("`", p + 1);
        if (q === -1) fail(start, "unterminated raw quoted string");
        tokens.push({
          t: "operand",
          operand: { kind: "string", value: source.slice(p + 1, q).replaceAll("\r", ""), pos: start },
        });
        p = q + 1;
      } else if (/[0-9+-]/.test(c)) {
        let q = p + 1;
        while (q < source.length && /[0-9A-Za-z_.+-]/.test(source[q]!)) q++;
        const word = source.slice(p, q);
        if (!/^[+-]?[0-9]+$/.test(word)) {
          if (/^[+-]?[0-9]/.test(word)) fail(start, `number ${word} is not supported (only integers)`);
          fail(start, `unexpected ${JSON.stringify(c)} in operand`);
        }
        tokens.push({ t: "operand", operand: { kind: "int", value: Number.parseInt(word, 10), pos: start } });
        p = q;
      } else if (isIdentStart(c)) {
        let q = p;
        while (isIdentChar(source[q])) q++;
        const name = source.slice(p, q);
        p = q;
        if (name === "true" || name === "false")
          tokens.push({ t: "operand", operand: { kind: "bool", value: name === "true", pos: start } });
        else if (KEYWORDS.has(name)) fail(start, `"${name}" is not in docker leak's template subset`);
        else if (!(FUNCTIONS as readonly string[]).includes(name))
          fail(start, `function "${name}" not defined`);
        else tokens.push({ t: "ident", name, pos: start });
      } else if (c === "$") {
        fail(start, "variables are not in docker leak's template subset");
      } else if (c === "(" || c === ")") {
        fail(start, "parentheses are not in docker leak's template subset");
      } else if (c === "'") {
        fail(start, "character constants are not in docker leak's template subset");
      } else {
        fail(start, `unexpected ${JSON.stringify(c)} in operand`);
      }
    }
    if (!closed) fail(open, "unclosed action");
    nodes.push({ kind: "action", pipeline: parsePipeline(tokens, open, fail), pos: open });
    i = p;
  }
  return { source, nodes: mergeText(nodes) };
}

function mergeText(nodes: Node[]): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    const last = out[out.length - 1];
    if (n.kind === "text" && last?.kind === "text") last.text += n.text;
    else out.push(n);
  }
  return out;
}

function parsePipeline(tokens: Token[], open: number, fail: (pos: number, msg: string) => never): Command[] {
  if (tokens.length === 0) fail(open, "missing value for command");
  const commands: Command[] = [];
  let current: Token[] = [];
  const flush = (pos: number) => {
    if (current.length === 0) fail(pos, "missing value for command");
    const [head, ...rest] = current;
    if (head!.t === "ident") {
      const args = rest.map((t) =>
        t.t === "operand" ? t.operand : fail(t.pos, "unexpected function in operand"),
      );
      commands.push({ kind: "call", fn: head!.name as FunctionName, args, pos: head!.pos });
    } else if (head!.t === "operand") {
      if (rest.length) {
        const what = head!.operand.kind === "field" ? `.${head!.operand.path.join(".")}` : "a value";
        fail(head!.operand.pos, `can't give argument to non-function ${what}`);
      }
      commands.push({ kind: "operand", operand: head!.operand, pos: head!.operand.pos });
    }
    current = [];
  };
  for (const t of tokens) {
    if (t.t === "pipe") {
      if (current.length === 0) fail(t.pos, 'unexpected "|" in command');
      flush(t.pos);
    } else current.push(t);
  }
  // Go accepts a pipeline that ends with "|"
  if (current.length || commands.length === 0) flush(open);
  return commands;
}

/** Go's strconv.Unquote for the body of a "…" string. */
function unquote(body: string, invalid: () => never): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = {
      n: "\n",
      t: "\t",
      r: "\r",
      a: "\x07",
      b: "\b",
      f: "\f",
      v: "\v",
      "\\": "\\",
      '"': '"',
    };
    if (e !== undefined && e in simple) {
      out += simple[e];
      continue;
    }
    const hexOf = (n: number) => {
      const h = body.slice(i + 1, i + 1 + n);
      if (h.length !== n || !/^[0-9A-Fa-f]+$/.test(h)) invalid();
      i += n;
      return Number.parseInt(h, 16);
    };
    if (e === "x") out += String.fromCharCode(hexOf(2));
    else if (e === "u" || e === "U") {
      const cp = hexOf(e === "u" ? 4 : 8);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) invalid();
      out += String.fromCodePoint(cp);
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || Number.parseInt(o, 8) > 255) invalid();
      out += String.fromCharCode(Number.parseInt(o, 8));
      i += 2;
    } else invalid();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checking against the fields

type Type = ScalarType | Schema | "any";

const typeName = (t: Type): string => (typeof t === "string" ? t : t.name);
const ARITY: Record<FunctionName, { want: number; variadic?: boolean }> = {
  json: { want: 1 },
  join: { want: 2 },
  upper: { want: 1 },
  lower: { want: 1 },
  printf: { want: 1, variadic: true },
};

/**
 * Checks every field and function call of `t` against `schema`: unknown fields, fields of a
 * value that has none, wrong argument counts and types (join needs a list and a string,
 * upper/lower a string, printf a string format). Throws TemplateError.
 */
export function checkTemplate(t: Template, schema: Schema): void {
  const fail = (pos: number, at: string, msg: string): never => {
    throw new TemplateError(
      `template: :${lineOf(t.source, pos)}:${colOf(t.source, pos)}: at <${at}>: ${msg}`,
    );
  };
  const operandType = (o: Operand): Type => {
    switch (o.kind) {
      case "dot":
        return schema;
      case "string":
        return "string";
      case "int":
        return "int";
      case "bool":
        return "bool";
      case "field": {
        let type: Type = schema;
        for (let k = 0; k < o.path.length; k++) {
          const name = o.path[k]!;
          const at = `.${o.path.slice(0, k + 1).join(".")}`;
          if (typeof type === "string")
            fail(o.pos, at, `can't evaluate field ${name} in type ${typeName(type)}`);
          const s = type as Schema;
          const f = Object.hasOwn(s.fields, name) ? s.fields[name] : undefined;
          if (!f) {
            fail(
              o.pos,
              at,
              `can't evaluate field ${name} in type ${s.name} (fields: ${Object.keys(s.fields).join(", ")})`,
            );
          }
          type = f!.type;
        }
        return type;
      }
    }
  };
  const operandText = (o: Operand) =>
    o.kind === "field"
      ? `.${o.path.join(".")}`
      : o.kind === "dot"
        ? "."
        : o.kind === "string"
          ? JSON.stringify(o.value)
          : String(o.value);
  for (const node of t.nodes) {
    if (node.kind !== "action") continue;
    let previous: Type | null = null;
    for (const cmd of node.pipeline) {
      if (cmd.kind === "operand") {
        if (previous !== null)
          fail(
            cmd.pos,
            operandText(cmd.operand),
            `can't give argument to non-function ${operandText(cmd.operand)}`,
          );
        previous = operandType(cmd.operand);
        continue;
      }
      const args = cmd.args.map((a) => ({ type: operandType(a), at: operandText(a), pos: a.pos }));
      if (previous !== null) args.push({ type: previous, at: cmd.fn, pos: cmd.pos });
      const arity = ARITY[cmd.fn];
      if (arity.variadic ? args.length < arity.want : args.length !== arity.want) {
        fail(
          cmd.pos,
          cmd.fn,
          `wrong number of args for ${cmd.fn}: want ${arity.variadic ? "at least " : ""}${arity.want} got ${args.length}`,
        );
      }
      const expect = (k: number, ok: (t: Type) => boolean, want: string) => {
        const a = args[k]!;
        if (!ok(a.type)) fail(a.pos, a.at, `wrong type for value; expected ${want}; got ${typeName(a.type)}`);
      };
      const isString = (x: Type) => x === "string" || x === "any";
      switch (cmd.fn) {
        case "join":
          expect(0, (x) => x === "[]string" || x === "[]int", "[]string");
          expect(1, isString, "string");
          break;
        case "upper":
        case "lower":
        case "printf":
          expect(0, isString, "string");
          break;
        case "json":
          break;
      }
      previous = "string";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** A string that is safe to write as it is: the template's own text, or already escaped. */
class Safe {
  constructor(readonly text: string) {}
}
type Value = Safe | string | number | boolean | null | readonly Value[] | { readonly [k: string]: Value };

/** fmt's %v, with strings from the data escaped for the terminal. */
function show(v: Value): string {
  if (v instanceof Safe) return v.text;
  if (typeof v === "string") return escapeForTerminal(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === null) return "<nil>";
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  return `{${Object.values(v as Record<string, Value>)
    .map(show)
    .join(" ")}}`;
}

/** Go's type name of a value, for printf's `%!d(string=…)`. */
function goType(v: Value): string {
  if (v instanceof Safe || typeof v === "string") return "string";
  if (typeof v === "number") return "int";
  if (typeof v === "boolean") return "bool";
  if (v === null) return "<nil>";
  if (Array.isArray(v)) return v.every((x) => typeof x === "number") && v.length ? "[]int" : "[]string";
  return "struct";
}

function jsonOf(v: Value): string {
  if (v instanceof Safe) return JSON.stringify(v.text);
  return escapeJsonText(JSON.stringify(v, (_k, x) => (x instanceof Safe ? x.text : x)));
}

/** strconv.Quote, also escaping what escapeForTerminal would (the result is shown as it is). */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    const simple: Record<string, string> = {
      '"': '\\"',
      "\\": "\\\\",
      "\n": "\\n",
      "\t": "\\t",
      "\r": "\\r",
      "\x07": "\\a",
      "\b": "\\b",
      "\f": "\\f",
      "\v": "\\v",
    };
    if (ch in simple) out += simple[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (escapeForTerminal(ch) !== ch) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

const PRINTF_VERB = /%([-+# 0]*)([0-9]*)(?:\.([0-9]*))?([a-zA-Z%])?/g;

function pad(text: string, flags: string, width: string, zeroOk: boolean): string {
  const w = width ? Number(width) : 0;
  const len = [...text].length;
  if (len >= w) return text;
  if (flags.includes("-")) return text + " ".repeat(w - len);
  if (flags.includes("0") && zeroOk) {
    const sign = /^[+-]/.test(text) ? text.charAt(0) : "";
    return sign + "0".repeat(w - len) + text.slice(sign.length);
  }
  return " ".repeat(w - len) + text;
}

/** fmt.Sprintf for the verbs %s %d %v %q %%; the result is safe to show. */
export function sprintf(format: string, args: readonly Value[]): string {
  let used = 0;
  const out = format.replace(
    PRINTF_VERB,
    (_m, flags: string, width: string, prec: string | undefined, verb: string | undefined) => {
      if (verb === undefined) return "%!(NOVERB)";
      if (verb === "%") return "%";
      if (used >= args.length) return `%!${verb}(MISSING)`;
      const a = args[used++]!;
      const cut = (s: string) => (prec === undefined ? s : [...s].slice(0, Number(prec || "0")).join(""));
      const bad = () => `%!${verb}(${goType(a)}=${show(a)})`;
      switch (verb) {
        case "s":
          if (a instanceof Safe) return pad(cut(a.text), flags, width, false);
          if (typeof a === "string") return pad(escapeForTerminal(cut(a)), flags, width, false);
          if (Array.isArray(a) && a.every((x) => typeof x === "string" || x instanceof Safe))
            return pad(show(a), flags, width, false);
          return bad();
        case "v":
          if (typeof a === "string") return pad(escapeForTerminal(cut(a)), flags, width, false);
          return pad(cut(show(a)), flags, width, typeof a === "number");
        case "d":
          if (typeof a === "number")
            return pad(flags.includes("+") && a >= 0 ? `+${a}` : String(a), flags, width, true);
          if (Array.isArray(a) && a.every((x) => typeof x === "number"))
            return pad(show(a), flags, width, false);
          return bad();
        case "q":
          if (a instanceof Safe) return pad(goQuote(cut(a.text)), flags, width, false);
          if (typeof a === "string") return pad(goQuote(cut(a)), flags, width, false);
          return bad();
        default:
          return bad();
      }
    },
  );
  if (used < args.length) {
    return `${out}%!(EXTRA ${args
      .slice(used)
      .map((a) => `${goType(a)}=${show(a)}`)
      .join(", ")})`;
  }
  return out;
}

export type Row = { readonly [k: string]: Value };

function evaluate(t: Template, dot: Value, header: boolean): string {
  const operand = (o: Operand): Value => {
    switch (o.kind) {
      case "dot":
        return header ? new Safe("") : dot;
      case "string":
        return new Safe(o.value);
      case "int":
      case "bool":
        return o.value;
      case "field": {
        if (header) {
          // docker runs the template over a map of headers: a field is its header
          let s = dot as unknown as Schema;
          let h = "";
          for (const name of o.path) {
            const f = s.fields?.[name];
            h = f?.header ?? headerOf(name);
            if (f && typeof f.type !== "string") s = f.type;
          }
          return new Safe(h);
        }
        let v: Value = dot;
        for (const name of o.path)
          v =
            v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Safe)
              ? ((v as Row)[name] ?? null)
              : null;
        return v;
      }
    }
  };
  const text = (v: Value, f: (s: string) => string): Value => {
    if (v instanceof Safe) return new Safe(f(v.text));
    return f(typeof v === "string" ? v : show(v));
  };
  let out = "";
  for (const node of t.nodes) {
    if (node.kind === "text") {
      out += node.text;
      continue;
    }
    let previous: Value | undefined;
    for (const cmd of node.pipeline) {
      if (cmd.kind === "operand") {
        previous = operand(cmd.operand);
        continue;
      }
      const args = cmd.args.map(operand);
      if (previous !== undefined) args.push(previous);
      switch (cmd.fn) {
        case "json":
          previous = header ? args[0]! : new Safe(jsonOf(args[0]!));
          break;
        case "join": {
          const [list, sep] = args;
          if (header) previous = list!;
          else {
            const items = Array.isArray(list) ? (list as Value[]) : [];
            previous = new Safe(items.map(show).join(show(sep!)));
          }
          break;
        }
        // docker's header functions pass the header through unchanged
        case "upper":
          previous = header ? args[0]! : text(args[0]!, (s) => s.toUpperCase());
          break;
        case "lower":
          previous = header ? args[0]! : text(args[0]!, (s) => s.toLowerCase());
          break;
        case "printf":
          previous = new Safe(sprintf(show(args[0]!), args.slice(1)));
          break;
      }
    }
    out += show(previous ?? null);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// --format

export type OutputFormat =
  | { kind: "table" }
  | { kind: "json" }
  | { kind: "template"; table: boolean; template: Template; schema: Schema };

/**
 * A --format value, as docker reads it: "table", "json", "table TEMPLATE" or TEMPLATE. Throws
 * TemplateError (worded `failed to parse template: …`, as docker 28) for a template outside the
 * subset or naming a field `schema` does not have.
 */
export function parseFormat(format: string, schema: Schema): OutputFormat {
  if (format === "table") return { kind: "table" };
  if (format === "json") return { kind: "json" };
  const table = format.startsWith("table");
  const source = (table ? format.slice("table".length) : format)
    .replace(/^ +| +$/g, "")
    .replace(/\\t|\\n/g, (m) => (m === "\\t" ? "\t" : "\n"));
  try {
    const template = parseTemplate(source);
    checkTemplate(template, schema);
    return { kind: "template", table, template, schema };
  } catch (err) {
    if (err instanceof TemplateError) throw new TemplateError(`failed to parse template: ${err.message}`);
    throw err;
  }
}

/** One row of output (no newline): the template over `row`. */
export function executeTemplate(t: Template, row: Row): string {
  return evaluate(t, row, false);
}

/** The header row of `table TEMPLATE`: the template over the fields' headers. */
export function executeHeader(t: Template, schema: Schema): string {
  return evaluate(t, schema as unknown as Value, true);
}

/** The rows through the template; with `table`, a header first and columns aligned. */
export function renderTemplate(f: Extract<OutputFormat, { kind: "template" }>, rows: readonly Row[]): string {
  const lines = rows.map((r) => `${executeTemplate(f.template, r)}\n`);
  if (!f.table) return lines.join("");
  return tabwrite(`${executeHeader(f.template, f.schema)}\n${lines.join("")}`);
}

// ---------------------------------------------------------------------------------------------
// Go's text/tabwriter as docker sets it up: NewWriter(out, 10, 1, 3, ' ', 0)

const MIN_WIDTH = 10;
const PADDING = 3;

/**
 * Cells end at tabs; the text after a line's last tab is not a column. Consecutive lines that
 * have a cell in a column form a block that gets one width: the widest cell plus the padding,
 * at least the minimum width (Go's column blocks). Widths count code points, as Go counts runes.
 */
export function tabwrite(text: string): string {
  const hasNewline = text.endsWith("\n");
  const lines = (hasNewline ? text.slice(0, -1) : text).split("\n").map((l) => l.split("\t"));
  const width = (s: string) => [...s].length;
  const widths: number[] = [];
  const out: string[] = new Array(lines.length);
  const writeLines = (from: number, to: number) => {
    for (let l = from; l < to; l++) {
      const cells = lines[l]!;
      let s = "";
      cells.forEach((c, j) => {
        if (j < widths.length && j < cells.length - 1)
          s += c + " ".repeat(Math.max(0, widths[j]! - width(c)));
        else s += c;
      });
      out[l] = s;
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let l = line0; l < line1; l++) {
      if (column >= lines[l]!.length - 1) continue;
      writeLines(line0, l);
      line0 = l;
      let w = MIN_WIDTH;
      for (; l < line1; l++) {
        const cells = lines[l]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + PADDING);
      }
      widths.push(w);
      format(line0, l);
      widths.pop();
      line0 = l;
      l--;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out.join("\n") + (hasNewline ? "\n" : "");
}
