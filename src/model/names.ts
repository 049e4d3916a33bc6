/**
 * Docker's name rules, and shell words built from names: the commands docker leak suggests
 * (`cure.immediate`, hints) must run on exactly the object they name, whatever bytes its name
 * holds, and must be safe to show on a terminal. Pure: no I/O.
 */

/**
 * Characters that must never reach a terminal or a suggested command raw: every C0 control
 * (including \t, \n, \r and ESC), DEL, every C1 control (U+0080–U+009F), the line and paragraph
 * separators U+2028/U+2029, and the bidirectional controls (U+061C, U+200E/U+200F,
 * U+202A–U+202E, U+2066–U+2069) that reorder what a reader sees. A regular-expression character
 * class body (without brackets), shared with render/escape.ts.
 */
export const UNSAFE_TEXT_CLASS = "\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069";

/** moby's names.RestrictedNamePattern: `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$` (two characters at least). */
const RESTRICTED_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** A container name as the daemon accepts it (create/rename), with inspect's leading "/". */
const CONTAINER_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const FULL_ID = /^[0-9a-f]{64}$/;

/** Whether the daemon would accept `name` for a container (inspect's "/name" form included). */
export function isValidContainerName(name: string): boolean {
  return CONTAINER_NAME.test(name);
}

/**
 * Whether `name` follows the local volume driver's rule (moby's RestrictedNamePattern). Other
 * volume drivers may accept any name, so a volume's name from the daemon can fail this.
 */
export function isValidVolumeName(name: string): boolean {
  return RESTRICTED_NAME.test(name);
}

/** Whether `id` is a full container ID (64 lowercase hex digits). */
export function isFullId(id: string): boolean {
  return FULL_ID.test(id);
}

/** Characters that stand for themselves in a POSIX sh word anywhere (like Python's shlex). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** From here on a word is written through printf: unsafe characters, and a backslash (see shellQuote). */
const PRINTF_FROM = new RegExp(`[\\\\${UNSAFE_TEXT_CLASS}]`);
const TRAILING_NEWLINES = /\n+$/;

/** `'…'`, with each `'` written as `'\''`. */
function singleQuoted(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * A printf(1) format (in single quotes) that prints `text` exactly: every byte that is not
 * printable ASCII, and `'`, `\` and `%`, as a three-digit octal escape; the rest as itself.
 */
function printfFormat(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x27 && byte !== 0x5c && byte !== 0x25;
    out += printable ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, "0")}`;
  }
  return `'${out}'`;
}

/**
 * `word` as one POSIX sh word that the shell turns back into exactly `word`:
 * - bare when it is made only of `A-Z a-z 0-9 _ @ % + = : , . / -` (and is not empty);
 * - otherwise in single quotes, a `'` written as `'\''`;
 * - from its first control, separator or bidi character (see UNSAFE_TEXT_CLASS) or backslash
 *   on, as `"$(printf '…')"` with octal escapes, so that the word shows no such character raw
 *   and survives being copied from a terminal. Backslashes go there too so that the result
 *   holds no backslash that escapeForTerminal would double: what the terminal shows is exactly
 *   what to paste. Command substitution drops trailing newlines, so newlines that end the word
 *   are kept raw inside single quotes: POSIX sh has no other way to write them (every output
 *   path escapes them for display).
 * A NUL cannot be part of any argument; it is not representable (dropped by the shell). A lone
 * surrogate (no name decoded from bytes holds one) is written as U+FFFD.
 */
export function shellQuote(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  const first = word.search(PRINTF_FROM);
  if (first === -1) return singleQuoted(word);
  const trailing = TRAILING_NEWLINES.exec(word)?.[0] ?? "";
  const body = word.slice(0, word.length - trailing.length);
  const start = Math.min(first, body.length);
  const head = body.slice(0, start);
  const rest = body.slice(start);
  return (
    (head ? (SAFE_WORD.test(head) ? head : singleQuoted(head)) : "") +
    (rest ? `"$(printf ${printfFormat(rest)})"` : "") +
    (trailing ? `'${trailing}'` : "")
  );
}

/** What a leak command names: a container (name and/or full ID) or a volume (name). */
export interface LeakRef {
  name?: string | null;
  id?: string | null;
}

/**
 * `docker leak rm --force-unmount REF…` / `docker leak volume rm --force-unmount REF…`, ready to
 * be pasted into a shell. Each REF is the name when Docker's rules accept it; otherwise, for a
 * container, its full ID (64 hex digits); otherwise the name, quoted by shellQuote. When a REF
 * starts with `-`, all come after `--` (so that none can be taken for an option).
 */
export function leakCommand(kind: "rm" | "volume rm", ...refs: LeakRef[]): string {
  const valid = kind === "rm" ? isValidContainerName : isValidVolumeName;
  let dashes = "";
  const words = refs.map((ref) => {
    const name = ref.name ?? null;
    if (name !== null && valid(name)) return name;
    if (kind === "rm" && ref.id && isFullId(ref.id)) return ref.id;
    const word = name ?? ref.id ?? "";
    if (word.startsWith("-")) dashes = "-- ";
    return shellQuote(word);
  });
  return `docker leak ${kind} --force-unmount ${dashes}${words.join(" ")}`;
}
