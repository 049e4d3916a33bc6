/**
 * /proc/PID/mountinfo lines (proc(5)):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2) (3)   (4)   (5)      (6)      (7)   (8)  (9)      (10)       (11)
 *
 * mount ID, parent ID, major:minor, root (path of the mount's root within its filesystem),
 * mount point (relative to the reading process's root), mount options, zero or more optional
 * fields, a "-" separator, filesystem type, source, super options. The kernel escapes space,
 * tab, newline and backslash in paths as \040 \011 \012 \134; the helper also escapes every
 * other control byte and every byte >= 0x7f that way, so lines arrive as printable ASCII and
 * decode as octal → bytes → UTF-8.
 */

export interface Propagation {
  /** shared:N — the mount is in peer group N */
  shared: number | null;
  /** master:N — the mount is a slave of peer group N */
  master: number | null;
  /** propagate_from:N — nearest dominant peer group reachable from this namespace */
  propagateFrom: number | null;
  unbindable: boolean;
}

export interface MountinfoEntry {
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  /** "major:minor" */
  dev: string;
  /** Root of the mount within its filesystem, decoded */
  root: string;
  /** Root exactly as the kernel printed it (escaped): exact, for comparing places */
  rootRaw: string;
  /** Mount point, decoded */
  mountPoint: string;
  /** Mount point exactly as the kernel printed it (escaped): what umount orders carry */
  mountPointRaw: string;
  mountOptions: string[];
  /** Optional fields as given, e.g. ["shared:2", "master:1"] */
  optionalFields: string[];
  propagation: Propagation;
  fstype: string;
  /** Mount source, decoded ("none", "overlay", "/dev/sda1" …) */
  source: string;
  /** Super options, split on commas outside double quotes, each decoded */
  superOptions: string[];
}

export class MountinfoSyntaxError extends Error {
  override name = "MountinfoSyntaxError";
  constructor(
    message: string,
    readonly line: string,
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

/**
 * Decodes the kernel's octal escapes (\NNN, three octal digits, value <= 0377) to bytes and
 * the bytes as UTF-8 (invalid sequences become U+FFFD). Any other backslash stays literal.
 */
export function decodeMountinfoPath(raw: string): string {
  if (!raw.includes("\\") && !/[^\x00-\x7f]/.test(raw)) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c && /^[0-3][0-7]{2}$/.test(raw.slice(i + 1, i + 4))) {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // Already-decoded text (not from the helper): keep the character as its UTF-8 bytes.
      const cp = raw.codePointAt(i) ?? c;
      const ch = String.fromCodePoint(cp);
      bytes.push(...utf8Encoder.encode(ch));
      i += ch.length - 1;
    }
  }
  return utf8.decode(Uint8Array.from(bytes));
}

/**
 * The escaped form of a path as it appears in a helper mountinfo line (every byte <= 0x20,
 * backslash and every byte >= 0x7f as \NNN), for substring filters, umount orders and exact
 * comparisons with what the helper reported.
 */
export function escapeMountinfoPath(path: string): string {
  if (/^[\x21-\x5b\x5d-\x7e]*$/.test(path)) return path;
  let out = "";
  for (const b of utf8Encoder.encode(path)) {
    out +=
      b <= 0x20 || b === 0x5c || b >= 0x7f ? `\\${b.toString(8).padStart(3, "0")}` : String.fromCharCode(b);
  }
  return out;
}

/** Splits on commas that are not inside double quotes (SELinux `context="…:c1,c2"`). */
export function splitOptions(text: string): string[] {
  if (text === "") return [];
  if (!text.includes('"')) return text.split(",");
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === "," && !quoted) {
      out.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out;
}

const ID = /^\d+$/;
const DEVNO = /^(\d+):(\d+)$/;
const TAGGED = /^(shared|master|propagate_from):(\d+)$/;

/**
 * Parses one mountinfo line. Throws MountinfoSyntaxError with a message naming what is wrong
 * (never anything else); use tryParseMountinfoLine for null instead.
 */
export function parseMountinfoLine(line: string): MountinfoEntry {
  const fail = (why: string): never => {
    throw new MountinfoSyntaxError(`malformed mountinfo line (${why}): ${line}`, line);
  };
  const fields = (line.endsWith("\n") ? line.slice(0, -1) : line).split(" ");
  const sep = fields.indexOf("-", 6);
  if (fields.length < 9) fail(`${fields.length} fields, expected at least 9`);
  if (sep === -1) fail('no "-" separator after the optional fields');
  if (fields.length - sep - 1 < 2) fail("no filesystem type and source after the separator");
  // Indexed rather than destructured: this runs for every line of every namespace, and array
  // destructuring steps an iterator per element before V8 optimizes it.
  const mountIdText = fields[0] ?? "";
  const parentIdText = fields[1] ?? "";
  const devText = fields[2] ?? "";
  const rootRaw = fields[3] ?? "";
  const mountPointRaw = fields[4] ?? "";
  const optionsText = fields[5] ?? "";
  // JSON quoting keeps the message on one line whatever the field holds.
  if (!ID.test(mountIdText)) fail(`mount ID ${JSON.stringify(mountIdText)} is not a number`);
  if (!ID.test(parentIdText)) fail(`parent ID ${JSON.stringify(parentIdText)} is not a number`);
  const dev = DEVNO.exec(devText);
  if (!dev) fail(`${JSON.stringify(devText)} is not major:minor`);
  if (rootRaw === "" || mountPointRaw === "") fail("empty root or mount point");

  const optionalFields = fields.slice(6, sep);
  const propagation: Propagation = { shared: null, master: null, propagateFrom: null, unbindable: false };
  for (let i = 0; i < optionalFields.length; i++) {
    const field = optionalFields[i] as string;
    if (field === "unbindable") {
      propagation.unbindable = true;
      continue;
    }
    const tag = TAGGED.exec(field);
    if (!tag) continue; // unknown optional fields are allowed by proc(5); keep them raw
    const n = Number(tag[2]);
    if (tag[1] === "shared") propagation.shared = n;
    else if (tag[1] === "master") propagation.master = n;
    else propagation.propagateFrom = n;
  }

  const fstype = fields[sep + 1] ?? "";
  const sourceRaw = fields[sep + 2] ?? "";
  if (fstype === "") fail("empty filesystem type");
  // Super options cannot contain a raw space; rejoin defensively in case a source held one.
  const superText =
    sep + 3 === fields.length - 1 ? (fields[sep + 3] as string) : fields.slice(sep + 3).join(" ");
  const major = Number(dev?.[1]);
  const minor = Number(dev?.[2]);
  return {
    mountId: Number(mountIdText),
    parentId: Number(parentIdText),
    major,
    minor,
    dev: `${major}:${minor}`,
    root: decodeMountinfoPath(rootRaw),
    rootRaw,
    mountPoint: decodeMountinfoPath(mountPointRaw),
    mountPointRaw,
    mountOptions: splitOptions(optionsText),
    optionalFields,
    propagation,
    fstype: decodeMountinfoPath(fstype),
    source: decodeMountinfoPath(sourceRaw),
    superOptions: splitOptions(superText).map(decodeMountinfoPath),
  };
}

export function tryParseMountinfoLine(line: string): MountinfoEntry | null {
  try {
    return parseMountinfoLine(line);
  } catch (e) {
    if (e instanceof MountinfoSyntaxError) return null;
    throw e;
  }
}

/** The value of `key=` in the super options (e.g. overlay's upperdir), or null. */
export function superOption(entry: MountinfoEntry, key: string): string | null {
  const prefix = `${key}=`;
  const option = entry.superOptions.find((o) => o.startsWith(prefix));
  return option === undefined ? null : option.slice(prefix.length);
}

/** How a copy propagates: what the cause text says about its namespace. */
export function propagationMode(p: Propagation): "shared" | "slave" | "private" | "unbindable" {
  if (p.shared !== null) return "shared";
  if (p.master !== null) return "slave";
  return p.unbindable ? "unbindable" : "private";
}
