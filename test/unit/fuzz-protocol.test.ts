/**
 * Property-based tests (fast-check) for the NDJSON decoder: arbitrary lines, bytes and record
 * streams fail only with ProtocolError (or HelperReportedError for an `error` record), valid
 * records round-trip, chunking never changes the result, and large scans stay fast.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  collectScan,
  decodeRecord,
  decodeRecords,
  decodeText,
  type HelperRecord,
  HelperReportedError,
  type NumberedLine,
  ProtocolError,
  splitLines,
} from "../../src/helper/protocol.js";

const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 120 }),
  fc.string({ unit: anyCodeUnit, maxLength: 60 }),
  fc.uint8Array({ maxLength: 120 }).map((b) => new TextDecoder().decode(b)),
);
const text = fc.string({ unit: "binary", maxLength: 30 });
const count = fc.nat({ max: 2 ** 32 });
const inode = fc.integer({ min: 1, max: 2 ** 40 });
const dev = fc.tuple(fc.nat(4095), fc.nat()).map(([a, b]) => `${a}:${b}`);

/** Valid records of every type, as the helper would print them. */
const validRecord: fc.Arbitrary<HelperRecord> = fc.oneof(
  fc.record({
    type: fc.constant("version" as const),
    version: text.filter((s) => s !== ""),
    protocol: count,
  }),
  fc.record({ type: fc.constant("self" as const), pid: count, ppid: count, mntns: inode, rootDev: dev }),
  fc.record({
    type: fc.constant("process" as const),
    pid: count,
    ppid: count,
    start: count,
    comm: text,
    cmdline: fc.array(text, { maxLength: 4 }),
    cmdlineTruncated: fc.boolean(),
    mntns: inode,
    root: text,
    cgroup: fc.array(text, { maxLength: 3 }),
  }),
  fc.record({
    type: fc.constant("skipped" as const),
    pid: count,
    comm: text,
    what: text.filter((s) => s !== ""),
    errno: fc.constantFrom("ESRCH", "EACCES", "ENOENT"),
    message: text,
  }),
  fc
    .tuple(
      fc.array(count, { minLength: 1, maxLength: 5 }),
      inode,
      fc.array(text, { maxLength: 4 }),
      fc.nat(),
      fc.boolean(),
      count,
    )
    .map(
      ([pids, mntns, mountinfo, i, full, dropped]): HelperRecord => ({
        type: "namespace",
        mntns,
        pids,
        readVia: pids[i % pids.length]!,
        mountinfo,
        full,
        dropped,
      }),
    ),
  fc.tuple(fc.array(count, { minLength: 1, maxLength: 5 }), inode, text, fc.boolean()).map(
    ([pids, mntns, message, via]): HelperRecord => ({
      type: "namespace",
      mntns,
      pids,
      readVia: via ? pids[0]! : null,
      mountinfo: null,
      full: false,
      dropped: 0,
      errno: "ESRCH",
      message,
    }),
  ),
  fc
    .tuple(fc.constantFrom("cwd" as const, "root" as const, "exe" as const, "fd" as const), count)
    .chain(([kind, fd]) =>
      fc.record({
        type: fc.constant("pinned" as const),
        pid: count,
        mntns: inode,
        kind: fc.constant(kind),
        fd: fc.constant(kind === "fd" ? fd : null),
        mountId: count,
        dev,
        ino: count,
        path: text,
        overlayRootIno: fc.option(count, { nil: null }),
      }),
    ),
  fc.record({ type: fc.constant("layer" as const), dir: text.filter((t) => t.length > 0), ino: count }),
  fc.record({
    type: fc.constant("summary" as const),
    processes: count,
    namespaces: count,
    skipped: count,
    pinned: count,
    pinnedDropped: count,
    stalled: count,
  }),
  fc.record({ type: fc.constant("summary" as const), orders: count, ok: count, failed: count }),
  fc.record({
    type: fc.constant("result" as const),
    index: count,
    pid: count,
    mountId: count,
    mountPoint: text,
    ok: fc.constant(true as const),
    verifiedBy: fc.constantFrom("statx" as const, "fdinfo" as const, "mountinfo" as const),
  }),
  fc.record({
    type: fc.constant("result" as const),
    index: count,
    pid: fc.option(count, { nil: null }),
    mountId: count,
    mountPoint: text,
    ok: fc.constant(false as const),
    stage: fc.constantFrom(
      "open" as const,
      "setns" as const,
      "chroot" as const,
      "resolve" as const,
      "check" as const,
      "umount" as const,
    ),
    errno: fc.constantFrom("EINVAL", "EBUSY", "ETIMEDOUT"),
    message: text,
    locked: fc.boolean(),
  }),
  fc.record({ type: fc.constant("error" as const), message: text }),
);

/** A valid record with one field replaced by any JSON value, or removed, plus unknown fields. */
const mutatedRecord = fc
  .tuple(
    validRecord,
    fc.nat(),
    fc.option(fc.jsonValue({ maxDepth: 2 })),
    fc.dictionary(text, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
  )
  .map(([record, i, value, extra]) => {
    const obj: Record<string, unknown> = { ...extra, ...record };
    const keys = Object.keys(record);
    const key = keys[i % keys.length]!;
    if (value === null) delete obj[key];
    else obj[key] = value;
    return JSON.stringify(obj);
  });

function onlyProtocolErrors(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `not a ProtocolError: ${(e as Error)?.stack ?? String(e)}`);
    return e;
  }
}

async function* chunks<T>(parts: readonly T[]): AsyncGenerator<T> {
  for (const p of parts) yield p;
}

/** Cuts `whole` at the given positions (any order, duplicates allowed: empty chunks). */
function cut<T extends { length: number; slice(a: number, b?: number): T }>(whole: T, at: number[]): T[] {
  const points = [0, ...at.map((p) => p % (whole.length + 1)).sort((a, b) => a - b), whole.length];
  return points.slice(1).map((end, i) => whole.slice(points[i]!, end));
}

async function linesOf(parts: ReadonlyArray<string | Uint8Array>): Promise<NumberedLine[] | ProtocolError> {
  const out: NumberedLine[] = [];
  try {
    for await (const l of splitLines(chunks(parts))) out.push(l);
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `not a ProtocolError: ${String(e)}`);
    return e;
  }
  return out;
}

/** What splitLines should give for a whole text. */
function expectedLines(whole: string): NumberedLine[] | string {
  if (whole !== "" && !whole.endsWith("\n")) return "truncated";
  return whole === ""
    ? []
    : whole
        .slice(0, -1)
        .split("\n")
        .map((line, i) => ({ line, lineNo: i + 1 }));
}

function sameAsExpected(got: NumberedLine[] | ProtocolError, want: NumberedLine[] | string): void {
  if (want === "truncated") {
    assert.ok(got instanceof ProtocolError, "expected a truncation error");
    assert.match(got.message, /truncated/);
  } else {
    assert.deepEqual(got, want);
  }
}

describe("fuzz: decodeRecord", () => {
  it("arbitrary strings, bytes and JSON: a record or a ProtocolError, nothing else", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          fc.json({ maxDepth: 3 }),
          fc
            .record(
              {
                type: fc.oneof(text, fc.constantFrom("process", "namespace", "pinned", "result", "summary")),
              },
              { requiredKeys: [] },
            )
            .chain((base) =>
              fc
                .dictionary(text, fc.jsonValue({ maxDepth: 2 }))
                .map((d) => JSON.stringify({ ...d, ...base })),
            ),
        ),
        fc.option(fc.nat(), { nil: undefined }),
        (line, lineNo) => {
          const r = onlyProtocolErrors(() => decodeRecord(line, lineNo));
          if (r instanceof ProtocolError) assert.equal(r.lineNo, lineNo);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("valid records with one field broken: a ProtocolError, never a half-checked record", () => {
    fc.assert(
      fc.property(mutatedRecord, (line) => {
        const r = onlyProtocolErrors(() => decodeRecord(line, 3));
        if (!(r instanceof ProtocolError)) assert.equal(typeof (r as HelperRecord).type, "string");
      }),
      { numRuns: 1500 },
    );
  });

  it("valid records round-trip, unknown fields ignored", () => {
    fc.assert(
      fc.property(
        validRecord,
        fc.dictionary(fc.stringMatching(/^x_[a-z]{1,6}$/), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
        (record, extra) => {
          const json = JSON.stringify({ ...extra, ...record });
          assert.deepEqual(decodeRecord(json), JSON.parse(JSON.stringify(record)));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("decodes a 1 MB record quickly", () => {
    const cmdline = Array.from({ length: 20_000 }, (_, i) => `arg${i}-${"é".repeat(20)}`);
    const line = JSON.stringify({
      type: "process",
      pid: 1,
      ppid: 0,
      start: 1,
      comm: "x",
      cmdline,
      cmdlineTruncated: false,
      mntns: 1,
      root: "/",
      cgroup: [],
    });
    assert.ok(line.length > 500_000);
    const t = performance.now();
    const r = decodeRecord(line);
    assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    assert.equal(r.type === "process" && r.cmdline.length, 20_000);
    for (const garbage of ["[".repeat(1 << 20), "x".repeat(1 << 20), `{"type":"${"a".repeat(1 << 20)}"}`])
      assert.ok(onlyProtocolErrors(() => decodeRecord(garbage)) instanceof ProtocolError);
  });
});

describe("fuzz: splitLines", () => {
  it("any chunking of the same bytes gives the same lines, even inside UTF-8 sequences", async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc
        .array(fc.oneof(text, fc.constantFrom("\n", "é\n", "€", "😀", "\r\n", "\ufeff")), { maxLength: 20 })
        .map((p) => Buffer.from(p.join(""))),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat(), { maxLength: 12 }), async (whole, at) => {
        const want = expectedLines(new TextDecoder().decode(whole));
        sameAsExpected(await linesOf([whole]), want);
        sameAsExpected(await linesOf(cut(whole, at)), want);
        // One byte at a time: every multi-byte sequence is split.
        sameAsExpected(await linesOf(Array.from(whole, (b) => Uint8Array.of(b))), want);
      }),
      { numRuns: 400 },
    );
  });

  it("any chunking of the same text gives the same lines", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(anyText, fc.constant("\n")), { maxLength: 12 }).map((p) => p.join("")),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (whole, at) => {
          sameAsExpected(await linesOf(cut(whole, at)), expectedLines(whole));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("splits a 1 MB line delivered in 64 KiB chunks, and 5,000 short lines, quickly", async () => {
    const line = `${"é€x".repeat(200_000)}`;
    const bytes = Buffer.from(`${line}\n`);
    assert.ok(bytes.length > 1_000_000);
    const parts = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) =>
      bytes.subarray(i * 65536, (i + 1) * 65536),
    );
    let t = performance.now();
    const got = await linesOf(parts);
    assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    assert.ok(!(got instanceof ProtocolError) && got.length === 1 && got[0]?.line === line);

    const many = Buffer.from(Array.from({ length: 5000 }, (_, i) => `{"n":${i}}\n`).join(""));
    t = performance.now();
    const lines = await linesOf(
      cut(
        many,
        Array.from({ length: 50 }, (_, i) => i * 997),
      ),
    );
    assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    assert.ok(!(lines instanceof ProtocolError) && lines.length === 5000 && lines[4999]?.lineNo === 5000);
  });
});

describe("fuzz: decodeText / decodeRecords / collectScan", () => {
  it("decodeText on arbitrary text: records or a ProtocolError, agreeing with decodeRecords", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(
            fc.oneof(
              anyText,
              mutatedRecord,
              validRecord.map((r) => JSON.stringify(r)),
              fc.constant("\n"),
            ),
            { maxLength: 6 },
          )
          .map((p) => p.join("\n")),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (whole, at) => {
          const fromText = onlyProtocolErrors(() => decodeText(whole));
          const fromStream: HelperRecord[] = [];
          let streamError: unknown;
          try {
            for await (const r of decodeRecords(chunks(cut(Buffer.from(whole), at)))) fromStream.push(r);
          } catch (e) {
            streamError = e;
          }
          if (fromText instanceof ProtocolError) {
            assert.ok(streamError instanceof ProtocolError, `stream gave ${String(streamError)}`);
          } else {
            assert.equal(streamError, undefined);
            assert.deepEqual(fromStream, fromText);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("collectScan on any sequence of valid records: a scan, a ProtocolError or a HelperReportedError", () => {
    const scanish = fc.oneof(
      fc.array(validRecord, { maxLength: 8 }),
      // Mostly well-formed scans, so the success path is exercised too.
      fc
        .tuple(
          validRecord.filter((r) => r.type === "self"),
          fc.array(
            validRecord.filter((r) => ["process", "namespace", "pinned", "skipped"].includes(r.type)),
            { maxLength: 8 },
          ),
          fc.boolean(),
        )
        .map(([self, body, honest]) => {
          const n = (t: string) => body.filter((r) => r.type === t).length;
          const summary = {
            type: "summary",
            processes: n("process"),
            namespaces: n("namespace"),
            skipped: n("skipped"),
            pinned: n("pinned") + (honest ? 0 : 1),
            pinnedDropped: 0,
            stalled: 0,
          };
          return [self, ...body, summary as HelperRecord];
        }),
    );
    fc.assert(
      fc.property(scanish, (records) => {
        let scan: ReturnType<typeof collectScan>;
        try {
          scan = collectScan(records);
        } catch (e) {
          assert.ok(e instanceof ProtocolError || e instanceof HelperReportedError, String(e));
          return;
        }
        assert.equal(records[0], scan.self);
        assert.equal(records.at(-1), scan.summary);
        assert.equal(scan.processes.length, scan.summary.processes);
        assert.equal(scan.namespaces.length, scan.summary.namespaces);
        assert.equal(scan.pinned.length, scan.summary.pinned);
        assert.equal(scan.skipped.length, scan.summary.skipped);
        assert.equal(new Set(scan.namespaces.map((n) => n.mntns)).size, scan.namespaces.length);
      }),
      { numRuns: 1000 },
    );
  });

  it("decodes and collects a scan of 5,000 mounts in 200 namespaces quickly, however chunked", async () => {
    const records: object[] = [{ type: "self", pid: 1, ppid: 0, mntns: 4026531840, rootDev: "0:1" }];
    for (let ns = 0; ns < 200; ns++) {
      const pids = [1000 + ns * 10, 1001 + ns * 10];
      records.push({
        type: "process",
        pid: pids[0],
        ppid: 1,
        start: 1,
        comm: "sh",
        cmdline: ["sh"],
        cmdlineTruncated: false,
        mntns: 4026532000 + ns,
        root: "/",
        cgroup: [],
      });
      records.push({
        type: "namespace",
        mntns: 4026532000 + ns,
        pids,
        readVia: pids[0],
        full: false,
        dropped: 0,
        mountinfo: Array.from(
          { length: 25 },
          (_, m) =>
            `${m + 20} 19 0:${m} / /var/lib/docker/overlay2/${ns}-${m}/merged rw - overlay overlay rw`,
        ),
      });
    }
    records.push({
      type: "summary",
      processes: 200,
      namespaces: 200,
      skipped: 0,
      pinned: 0,
      pinnedDropped: 0,
      stalled: 0,
    });
    const ndjson = Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 40 }), async (at) => {
        const t = performance.now();
        const decoded: HelperRecord[] = [];
        for await (const r of decodeRecords(chunks(cut(ndjson, at)))) decoded.push(r);
        const scan = collectScan(decoded);
        assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
        assert.equal(
          scan.namespaces.reduce((n, ns) => n + (ns.mountinfo?.length ?? 0), 0),
          5000,
        );
      }),
      { numRuns: 5 },
    );
  });
});
