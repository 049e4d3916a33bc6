/**
 * Text from the scanned system (process names and command lines, mount points, cgroup-derived
 * names, daemon and helper messages) may hold any bytes an unprivileged user chose: terminal
 * escape sequences, newlines that forge table rows, bidi overrides that reorder what is read.
 * Everything that reaches a terminal goes through escapeForTerminal; JSON goes through
 * escapeJsonText.
 *
 * escapeForTerminal writes each character of UNSAFE_TEXT_CLASS (model/names.ts) as a visible
 * escape, in JavaScript's notation:
 *
 *   \n \r \t        line feed, carriage return, tab
 *   \xHH            any other C0 control, DEL and the C1 controls (U+0080–U+009F), e.g. \x1b
 *   \uHHHH          U+2028, U+2029 and the bidi controls, e.g. \u202e
 *
 * A backslash stays a single backslash (paths rarely hold one, and `a\b` reads as it is) unless
 * it could be read as the start of one of those escapes: then it is doubled. That is, a
 * backslash is written `\\` when the next character is `\`, `x`, `u`, `n`, `r` or `t`, is one
 * that gets escaped, or when it ends the text. So the output reads back unambiguously: `\\` is a
 * backslash, `\n` `\r` `\t` `\xHH` `\uHHHH` are the escapes above, and a backslash followed by
 * anything else is itself. A file literally named `\x1b` shows as `\\x1b`, never as an ESC.
 *
 * Text without anything to escape is returned as it is (one regular-expression test, no copy).
 */
import { UNSAFE_TEXT_CLASS } from "../model/names.js";

const TERMINAL_UNSAFE = new RegExp(`[${UNSAFE_TEXT_CLASS}]|\\\\(?=[\\\\xunrt${UNSAFE_TEXT_CLASS}]|$)`, "g");
const JSON_UNSAFE = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, "0");

function terminalEscapeOf(c: string): string {
  switch (c) {
    case "\\":
      return "\\\\";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
}

/** Escapes already made (the patterns match fewer than a hundred distinct characters). */
const ESCAPES = new Map<string, string>();
const JSON_ESCAPES = new Map<string, string>();

function terminalEscape(c: string): string {
  let e = ESCAPES.get(c);
  if (e === undefined) {
    e = terminalEscapeOf(c);
    ESCAPES.set(c, e);
  }
  return e;
}

function jsonEscape(c: string): string {
  let e = JSON_ESCAPES.get(c);
  if (e === undefined) {
    e = `\\u${hex(c.charCodeAt(0), 4)}`;
    JSON_ESCAPES.set(c, e);
  }
  return e;
}

/** `text` with every control, separator and bidi character (and ambiguous backslash) made visible. */
export function escapeForTerminal(text: string): string {
  TERMINAL_UNSAFE.lastIndex = 0;
  if (!TERMINAL_UNSAFE.test(text)) return text;
  return text.replace(TERMINAL_UNSAFE, terminalEscape);
}

/**
 * `text` as one word of `[A-Za-z0-9_.-]` and escapes: every other character (UTF-16 code unit)
 * as `\xHH` or `\uHHHH`, a backslash included. For -q lines that name something Docker's rules
 * would not accept: no blank, quote, control or glob character survives.
 */
export function escapeToWord(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });
}

/**
 * JSON.stringify's output with DEL, the C1 controls, U+2028/U+2029 and the bidi controls written
 * as `\uXXXX` (JSON.stringify escapes only C0 controls, `"` and `\`, and lone surrogates). Valid
 * JSON in, valid JSON out, parsing to the same values: these characters can only occur inside
 * string literals, where `\uXXXX` means the same character.
 */
export function escapeJsonText(json: string): string {
  // Text whose UTF-8 is as long as it is holds only ASCII, where DEL is the one character of the
  // class: a native count and search, three times faster than the regexp on a scan's documents.
  if (Buffer.byteLength(json) === json.length && !json.includes("\x7f")) return json;
  JSON_UNSAFE.lastIndex = 0;
  if (!JSON_UNSAFE.test(json)) return json;
  return json.replace(JSON_UNSAFE, jsonEscape);
}

/**
 * A stack trace for a terminal: the first line(s) (the message, which may carry text from the
 * daemon or the helper) escaped as one line, each frame line escaped on its own.
 */
export function escapeStack(err: Error): string {
  const stack = err.stack ?? String(err);
  const lines = (text: string) => text.split("\n").map(escapeForTerminal).join("\n");
  const at = err.message ? stack.indexOf(err.message) : -1;
  if (at === -1) return lines(stack);
  const end = at + err.message.length;
  return escapeForTerminal(stack.slice(0, at)) + escapeForTerminal(err.message) + lines(stack.slice(end));
}
