/**
 * Typed records of the helper's NDJSON stdout and their decoder. The contract is
 * src/helper/PROTOCOL.md; a record that does not match it is rejected with a ProtocolError
 * naming the line and the field, never passed on half-checked.
 *
 * Unknown fields are ignored (a newer helper may add some); unknown record types, missing or
 * mistyped fields are errors.
 */

export const PROTOCOL_VERSION = 2;

export interface VersionRecord {
  type: "version";
  version: string;
  protocol: number;
}

export interface SelfRecord {
  type: "self";
  pid: number;
  /** The process that started the helper container (the runtime's shim) */
  ppid: number;
  mntns: number;
  /** major:minor of the helper's own root filesystem */
  rootDev: string;
}

export interface ProcessRecord {
  type: "process";
  pid: number;
  ppid: number;
  /** Start time (clock ticks after boot): with the PID, names one process for good */
  start: number;
  comm: string;
  cmdline: string[];
  /** The command line was longer than the helper reads */
  cmdlineTruncated: boolean;
  /** Inode of /proc/PID/ns/mnt */
  mntns: number;
  /** readlink /proc/PID/root as the helper sees it */
  root: string;
  /** Lines of /proc/PID/cgroup */
  cgroup: string[];
}

export interface SkippedRecord {
  type: "skipped";
  pid: number;
  comm: string;
  /** What could not be read, e.g. "ns/mnt" */
  what: string;
  errno: string;
  message: string;
}

export interface NamespaceRecord {
  type: "namespace";
  mntns: number;
  pids: number[];
  /** The member whose mountinfo was read; null when none could be read */
  readVia: number | null;
  /** Raw mountinfo lines (escaped, printable ASCII); null when unreadable */
  mountinfo: string[] | null;
  /** Every line (the helper's parent's namespace), not only those matching a filter and their ancestors */
  full: boolean;
  /** Lines left out for the helper's size limits */
  dropped: number;
  errno?: string;
  message?: string;
}

export type PinnedKind = "cwd" | "root" | "exe" | "fd";

export interface PinnedRecord {
  type: "pinned";
  pid: number;
  mntns: number;
  kind: PinnedKind;
  /** The fd number when kind is "fd", else null */
  fd: number | null;
  mountId: number;
  /** major:minor of the file's st_dev */
  dev: string;
  ino: number;
  /** The link text of /proc/PID/{cwd,root,exe,fd/N} */
  path: string;
  /**
   * For a directory on an overlay: the inode of that overlay's root directory (the upper
   * directory's inode: ties a detached container rootfs to its overlay2/<id>/diff); else null.
   */
  overlayRootIno: number | null;
}

/** With `scan --deep --layers DIR`: the entry of DIR whose diff/ has a pinned overlay's root inode. */
export interface LayerRecord {
  type: "layer";
  dir: string;
  ino: number;
}

export interface ScanSummaryRecord {
  type: "summary";
  processes: number;
  namespaces: number;
  skipped: number;
  pinned: number;
  /** Pinned files left out for the per-process limit */
  pinnedDropped: number;
  /** Workers killed for making no progress (a stalled filesystem or process) */
  stalled: number;
}

export interface UmountSummaryRecord {
  type: "summary";
  orders: number;
  ok: number;
  failed: number;
}

export type SummaryRecord = ScanSummaryRecord | UmountSummaryRecord;

export type UmountStage = "parse" | "open" | "setns" | "chroot" | "resolve" | "check" | "umount";

/** How the helper proved that the descriptor it unmounted is the ordered mount. */
export type VerifyMethod = "statx" | "fdinfo" | "mountinfo";

export type UmountResultRecord =
  | {
      type: "result";
      /** The order's position, from 0 */
      index: number;
      pid: number;
      mountId: number;
      mountPoint: string;
      ok: true;
      verifiedBy: VerifyMethod;
    }
  | {
      type: "result";
      index: number;
      /** The member used; null when none was usable (or the order could not be parsed) */
      pid: number | null;
      mountId: number | null;
      mountPoint: string | null;
      ok: false;
      stage: UmountStage;
      errno: string;
      message: string;
      /** EINVAL from umount2 while the member lives in another user namespace: a locked mount */
      locked: boolean;
    };

export interface ErrorRecord {
  type: "error";
  message: string;
}

export type HelperRecord =
  | VersionRecord
  | SelfRecord
  | ProcessRecord
  | SkippedRecord
  | NamespaceRecord
  | PinnedRecord
  | LayerRecord
  | SummaryRecord
  | UmountResultRecord
  | ErrorRecord;

/** Everything one `scan` run reported, checked for completeness. */
export interface HelperScan {
  self: SelfRecord;
  processes: ProcessRecord[];
  namespaces: NamespaceRecord[];
  pinned: PinnedRecord[];
  /** --deep --layers: overlay layer directories whose diff/ is the root of a pinned overlay */
  layers: LayerRecord[];
  skipped: SkippedRecord[];
  summary: ScanSummaryRecord;
}

/** The helper's output broke the contract (malformed, truncated, out of order). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(
    message: string,
    readonly lineNo?: number,
  ) {
    super(message);
  }
}

/** The helper ran but reported that it could not (an `error` record). */
export class HelperReportedError extends Error {
  override name = "HelperReportedError";
}

// ------------------------------------------------------------------------------------------
// Field checks

type Json = Record<string, unknown>;

class Fields {
  constructor(
    private readonly obj: Json,
    private readonly where: string,
    private readonly lineNo: number | undefined,
  ) {}

  fail(field: string, what: string): never {
    throw new ProtocolError(`${this.where}: field "${field}" ${what}`, this.lineNo);
  }

  has(field: string): boolean {
    return Object.hasOwn(this.obj, field) && this.obj[field] !== undefined;
  }

  count(field: string): number {
    const v = this.obj[field];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      this.fail(field, "must be a non-negative integer");
    return v;
  }

  /** A namespace inode: a positive integer. */
  inode(field: string): number {
    const v = this.obj[field];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0)
      this.fail(field, "must be a positive integer");
    return v;
  }

  countOrNull(field: string): number | null {
    return this.obj[field] === null ? null : this.count(field);
  }

  string(field: string): string {
    const v = this.obj[field];
    if (typeof v !== "string") this.fail(field, "must be a string");
    return v;
  }

  nonEmptyString(field: string): string {
    const v = this.string(field);
    if (v === "") this.fail(field, "must not be empty");
    return v;
  }

  stringOrNull(field: string): string | null {
    return this.obj[field] === null ? null : this.string(field);
  }

  boolean(field: string): boolean {
    const v = this.obj[field];
    if (typeof v !== "boolean") this.fail(field, "must be true or false");
    return v;
  }

  strings(field: string): string[] {
    const v = this.obj[field];
    if (!Array.isArray(v)) this.fail(field, "must be an array of strings");
    v.forEach((item, i) => {
      if (typeof item !== "string") this.fail(`${field}[${i}]`, "must be a string");
    });
    return v as string[];
  }

  counts(field: string): number[] {
    const v = this.obj[field];
    if (!Array.isArray(v)) this.fail(field, "must be an array of non-negative integers");
    v.forEach((item, i) => {
      if (typeof item !== "number" || !Number.isSafeInteger(item) || item < 0)
        this.fail(`${field}[${i}]`, "must be a non-negative integer");
    });
    return v as number[];
  }

  oneOf<T extends string>(field: string, values: readonly T[]): T {
    const v = this.obj[field];
    if (typeof v !== "string" || !(values as readonly string[]).includes(v))
      this.fail(field, `must be one of ${values.map((x) => `"${x}"`).join(", ")}`);
    return v as T;
  }
}

const PINNED_KINDS = ["cwd", "root", "exe", "fd"] as const;
const UMOUNT_STAGES = ["parse", "open", "setns", "chroot", "resolve", "check", "umount"] as const;
const VERIFY_METHODS = ["statx", "fdinfo", "mountinfo"] as const;
const DEV = /^\d+:\d+$/;

/**
 * Decodes one NDJSON line into a typed record. `lineNo` (1-based) only improves messages:
 * `helper record 12: field "pid" must be a non-negative integer`.
 */
export function decodeRecord(line: string, lineNo?: number): HelperRecord {
  const where = lineNo === undefined ? "helper record" : `helper record ${lineNo}`;
  if (line.trim() === "") throw new ProtocolError(`${where}: empty line`, lineNo);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    const preview = line.length > 80 ? `${line.slice(0, 80)}…` : line;
    throw new ProtocolError(`${where}: not valid JSON (${(e as Error).message}): ${preview}`, lineNo);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ProtocolError(`${where}: not a JSON object`, lineNo);
  const obj = value as Json;
  const type = obj.type;
  if (typeof type !== "string") throw new ProtocolError(`${where}: field "type" must be a string`, lineNo);
  const f = new Fields(obj, `${where} (${type})`, lineNo);

  switch (type) {
    case "version":
      return { type, version: f.nonEmptyString("version"), protocol: f.count("protocol") };
    case "self": {
      const rootDev = f.string("rootDev");
      if (!DEV.test(rootDev)) f.fail("rootDev", 'must be "major:minor"');
      return { type, pid: f.count("pid"), ppid: f.count("ppid"), mntns: f.inode("mntns"), rootDev };
    }
    case "process":
      return {
        type,
        pid: f.count("pid"),
        ppid: f.count("ppid"),
        start: f.count("start"),
        comm: f.string("comm"),
        cmdline: f.strings("cmdline"),
        cmdlineTruncated: f.boolean("cmdlineTruncated"),
        mntns: f.inode("mntns"),
        root: f.string("root"),
        cgroup: f.strings("cgroup"),
      };
    case "skipped":
      return {
        type,
        pid: f.count("pid"),
        comm: f.has("comm") ? f.string("comm") : "",
        what: f.nonEmptyString("what"),
        errno: f.nonEmptyString("errno"),
        message: f.string("message"),
      };
    case "namespace": {
      const mountinfo = obj.mountinfo === null ? null : f.strings("mountinfo");
      const pids = f.counts("pids");
      if (pids.length === 0) f.fail("pids", "must name at least one member");
      const readVia = mountinfo === null && !f.has("readVia") ? null : f.countOrNull("readVia");
      if (mountinfo !== null && readVia === null) f.fail("readVia", "must be a PID when mountinfo was read");
      if (readVia !== null && !pids.includes(readVia))
        f.fail("readVia", `must be one of "pids" (${readVia} is not)`);
      const record: NamespaceRecord = {
        type,
        mntns: f.inode("mntns"),
        pids,
        readVia,
        mountinfo,
        full: f.boolean("full"),
        dropped: f.count("dropped"),
      };
      if (mountinfo === null) {
        record.errno = f.nonEmptyString("errno");
        record.message = f.string("message");
      }
      return record;
    }
    case "pinned": {
      const kind = f.oneOf("kind", PINNED_KINDS);
      const fd = f.countOrNull("fd");
      if (kind === "fd" && fd === null) f.fail("fd", 'must be the fd number when kind is "fd"');
      if (kind !== "fd" && fd !== null) f.fail("fd", `must be null when kind is "${kind}"`);
      const dev = f.string("dev");
      if (!DEV.test(dev)) f.fail("dev", 'must be "major:minor"');
      return {
        type,
        pid: f.count("pid"),
        mntns: f.inode("mntns"),
        kind,
        fd,
        mountId: f.count("mountId"),
        dev,
        ino: f.count("ino"),
        path: f.string("path"),
        overlayRootIno: f.countOrNull("overlayRootIno"),
      };
    }
    case "layer":
      return { type, dir: f.nonEmptyString("dir"), ino: f.count("ino") };
    case "summary":
      if (f.has("orders"))
        return { type, orders: f.count("orders"), ok: f.count("ok"), failed: f.count("failed") };
      return {
        type,
        processes: f.count("processes"),
        namespaces: f.count("namespaces"),
        skipped: f.count("skipped"),
        pinned: f.count("pinned"),
        pinnedDropped: f.count("pinnedDropped"),
        stalled: f.count("stalled"),
      };
    case "result": {
      const ok = f.boolean("ok");
      const index = f.count("index");
      if (ok)
        return {
          type,
          index,
          pid: f.count("pid"),
          mountId: f.count("mountId"),
          mountPoint: f.string("mountPoint"),
          ok,
          verifiedBy: f.oneOf("verifiedBy", VERIFY_METHODS),
        };
      const stage = f.oneOf("stage", UMOUNT_STAGES);
      const parse = stage === "parse";
      return {
        type,
        index,
        pid: f.countOrNull("pid"),
        mountId: parse ? f.countOrNull("mountId") : f.count("mountId"),
        mountPoint: parse ? f.stringOrNull("mountPoint") : f.string("mountPoint"),
        ok,
        stage,
        errno: f.nonEmptyString("errno"),
        message: f.string("message"),
        locked: f.boolean("locked"),
      };
    }
    case "error":
      return { type, message: f.string("message") };
    default:
      throw new ProtocolError(`${where}: unknown record type "${type}"`, lineNo);
  }
}

// ------------------------------------------------------------------------------------------
// Streams

export interface NumberedLine {
  line: string;
  /** 1-based */
  lineNo: number;
}

/** A helper line longer than this is refused: no record the helper writes comes near it. */
export const MAX_LINE_LENGTH = 256 * 1024 * 1024;

/**
 * Splits text arriving in chunks into `\n`-terminated lines: the one line reader of the plugin
 * (the helper runner feeds it the attach stream; `splitLines` wraps it for async iterables).
 * Chunks may split a line anywhere. Each chunk is searched once, so a long line arriving in many
 * small chunks costs linear time; a line longer than `maxLineLength` is a ProtocolError, and so
 * is a last line without its `\n` (the helper's output was cut off).
 */
export class LineSplitter {
  private pieces: string[] = [];
  private pendingLength = 0;
  private lineNo = 0;

  constructor(
    private readonly onLine: (line: string, lineNo: number) => void,
    private readonly maxLineLength = MAX_LINE_LENGTH,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (let nl = chunk.indexOf("\n"); nl !== -1; nl = chunk.indexOf("\n", start)) {
      this.grow(nl - start);
      this.pieces.push(chunk.slice(start, nl));
      const line = this.pieces.length === 1 ? (this.pieces[0] as string) : this.pieces.join("");
      this.pieces = [];
      this.pendingLength = 0;
      this.lineNo++;
      this.onLine(line, this.lineNo);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.grow(chunk.length - start);
      this.pieces.push(chunk.slice(start));
    }
  }

  /** The stream ended: a pending partial line means the output was cut off. */
  end(): void {
    if (this.pendingLength > 0) {
      throw new ProtocolError(
        `helper output truncated: record ${this.lineNo + 1} has no terminating newline (${this.pendingLength} characters)`,
        this.lineNo + 1,
      );
    }
  }

  private grow(n: number): void {
    this.pendingLength += n;
    if (this.pendingLength > this.maxLineLength) {
      throw new ProtocolError(
        `helper record ${this.lineNo + 1} is longer than ${this.maxLineLength} characters`,
        this.lineNo + 1,
      );
    }
  }
}

/**
 * Splits a byte or text stream (a Node Readable, or any async iterable of chunks) into
 * `\n`-terminated lines, with LineSplitter. Chunks may split a line, or a UTF-8 sequence,
 * anywhere. A last line without its `\n` means the helper's output was cut off: ProtocolError.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array | string>,
  maxLineLength = MAX_LINE_LENGTH,
): AsyncGenerator<NumberedLine> {
  const decoder = new TextDecoder("utf-8");
  const ready: NumberedLine[] = [];
  const splitter = new LineSplitter((line, lineNo) => ready.push({ line, lineNo }), maxLineLength);
  for await (const chunk of chunks) {
    splitter.push(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }));
    yield* ready.splice(0);
  }
  splitter.push(decoder.decode());
  yield* ready.splice(0);
  splitter.end();
}

/** Decodes every line of a stream. */
export async function* decodeRecords(
  chunks: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<HelperRecord> {
  for await (const { line, lineNo } of splitLines(chunks)) yield decodeRecord(line, lineNo);
}

/** Decodes a whole NDJSON text (e.g. a recorded fixture). */
export function decodeText(text: string): HelperRecord[] {
  if (text === "") return [];
  if (!text.endsWith("\n")) {
    const lines = text.split("\n").length;
    throw new ProtocolError(`helper output truncated: record ${lines} has no terminating newline`, lines);
  }
  return text
    .slice(0, -1)
    .split("\n")
    .map((line, i) => decodeRecord(line, i + 1));
}

/**
 * Assembles the records of one `scan` run and checks that it is complete: `self` first, one
 * `summary` last whose counts match what arrived. A missing summary means the output was cut
 * off; an `error` record becomes a HelperReportedError.
 */
export function collectScan(records: Iterable<HelperRecord>): HelperScan {
  let self: SelfRecord | undefined;
  let summary: ScanSummaryRecord | undefined;
  const processes: ProcessRecord[] = [];
  const namespaces: NamespaceRecord[] = [];
  const pinned: PinnedRecord[] = [];
  const layers: LayerRecord[] = [];
  const skipped: SkippedRecord[] = [];
  const seenNamespaces = new Set<number>();
  let n = 0;
  for (const record of records) {
    n++;
    if (summary) throw new ProtocolError(`helper record ${n}: "${record.type}" after the summary`, n);
    switch (record.type) {
      case "error":
        throw new HelperReportedError(`helper failed: ${record.message}`);
      case "self":
        if (self) throw new ProtocolError(`helper record ${n}: a second "self" record`, n);
        if (n !== 1) throw new ProtocolError(`helper record ${n}: "self" must come first`, n);
        self = record;
        break;
      case "process":
        processes.push(record);
        break;
      case "skipped":
        skipped.push(record);
        break;
      case "namespace":
        if (seenNamespaces.has(record.mntns))
          throw new ProtocolError(`helper record ${n}: namespace ${record.mntns} reported twice`, n);
        seenNamespaces.add(record.mntns);
        namespaces.push(record);
        break;
      case "pinned":
        pinned.push(record);
        break;
      case "layer":
        layers.push(record);
        break;
      case "summary":
        if (!("processes" in record))
          throw new ProtocolError(`helper record ${n}: an umount summary in a scan`, n);
        summary = record;
        break;
      default:
        throw new ProtocolError(`helper record ${n}: unexpected "${record.type}" record in a scan`, n);
    }
  }
  if (!self) throw new ProtocolError(n === 0 ? "helper printed nothing" : 'helper scan has no "self" record');
  if (!summary) throw new ProtocolError(`helper output truncated: no summary after ${n} records`);
  const mismatch = (
    [
      ["processes", processes.length],
      ["namespaces", namespaces.length],
      ["skipped", skipped.length],
      ["pinned", pinned.length],
    ] as const
  ).find(([key, got]) => summary[key] !== got);
  if (mismatch) {
    const [key, got] = mismatch;
    throw new ProtocolError(
      `helper output incomplete: the summary counts ${summary[key]} ${key} but ${got} arrived`,
    );
  }
  return { self, processes, namespaces, pinned, layers, skipped, summary };
}

/** Reads a whole `scan` run from the helper's stdout. */
export async function readScan(chunks: AsyncIterable<Uint8Array | string>): Promise<HelperScan> {
  const records: HelperRecord[] = [];
  for await (const record of decodeRecords(chunks)) {
    if (record.type === "error") throw new HelperReportedError(`helper failed: ${record.message}`);
    records.push(record);
  }
  return collectScan(records);
}

/** One process of the holder's namespace, as the scan saw it. */
export interface OrderMember {
  pid: number;
  /** Start time from the scan's process record */
  start: number;
}

/**
 * The helper's `umount` argument for one order (PROTOCOL.md): the namespace, the mount ID and
 * the fingerprint of its line, the members to enter it through, and the raw mount point last
 * (raw mount points never contain a space).
 */
export function formatUnmountOrder(order: {
  namespace: number;
  mountId: number;
  fingerprint: string;
  members: readonly OrderMember[];
  mountPoint: string;
}): string {
  const pids = order.members.map((m) => `${m.pid}@${m.start}`).join(",");
  return `ns=${order.namespace} id=${order.mountId} fp=${order.fingerprint} pids=${pids} mp=${order.mountPoint}`;
}

/**
 * 64-bit FNV-1a of a mountinfo line as the helper prints it (pure ASCII: the helper escapes every
 * byte >= 0x80), as 16 hex digits. The helper computes the same over the line it re-reads.
 * In four 16-bit limbs, so that every product stays a small integer: the 64-bit prime is
 * 2^40 + 0x1b3, so h * prime = h * 0x1b3 + (h << 40), and h << 40 moves limb 0 to limb 2 (<< 8).
 */
export function mountLineFingerprint(line: string): string {
  // offset basis 0xcbf29ce484222325, lowest limb first
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (let i = 0; i < line.length; i++) {
    h0 ^= line.charCodeAt(i) & 0xff;
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  const hex = (n: number) => n.toString(16).padStart(4, "0");
  return hex(h3) + hex(h2) + hex(h1) + hex(h0);
}
