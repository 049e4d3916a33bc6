import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  collectScan,
  decodeRecord,
  decodeText,
  formatUnmountOrder,
  type HelperRecord,
  HelperReportedError,
  ProtocolError,
  readScan,
  splitLines,
} from "../../src/helper/protocol.js";
import { FIXTURES, fixtureText } from "./fixtures.js";

const PROCESS = {
  type: "process",
  pid: 4711,
  ppid: 1,
  start: 123456,
  comm: "sleep",
  cmdline: ["sleep", "600"],
  cmdlineTruncated: false,
  mntns: 4026532301,
  root: "/",
  cgroup: ["0::/system.slice/foo.service"],
};
const line = (o: object) => JSON.stringify(o);
const text = (...records: object[]) => records.map((r) => `${line(r)}\n`).join("");
const SELF = { type: "self", pid: 99, ppid: 98, mntns: 4026532999, rootDev: "0:55" };
const NS = {
  type: "namespace",
  mntns: 4026532301,
  pids: [4711],
  readVia: 4711,
  mountinfo: [],
  full: false,
  dropped: 0,
};
const SUMMARY = {
  type: "summary",
  processes: 1,
  namespaces: 1,
  skipped: 0,
  pinned: 0,
  pinnedDropped: 0,
  stalled: 0,
};

async function* chunksOf(...parts: Array<string | Uint8Array>): AsyncGenerator<string | Uint8Array> {
  for (const p of parts) yield p;
}

describe("decodeRecord", () => {
  it("decodes every record type of PROTOCOL.md", () => {
    const records: object[] = [
      { type: "version", version: "0.1.0", protocol: 2 },
      SELF,
      PROCESS,
      {
        type: "skipped",
        pid: 1,
        comm: "init",
        what: "ns/mnt",
        errno: "EACCES",
        message: "Permission denied",
      },
      NS,
      {
        type: "namespace",
        mntns: 4026532302,
        pids: [5],
        readVia: null,
        mountinfo: null,
        full: false,
        dropped: 0,
        errno: "EACCES",
        message: "x",
      },
      {
        type: "pinned",
        pid: 4711,
        mntns: 4026532301,
        kind: "cwd",
        fd: null,
        mountId: 812,
        dev: "0:45",
        ino: 1234,
        path: "/old/rootfs/tmp",
        overlayRootIno: 77,
      },
      { type: "layer", dir: "3f2a9c", ino: 77 },
      {
        type: "pinned",
        pid: 4711,
        mntns: 4026532301,
        kind: "fd",
        fd: 3,
        mountId: 812,
        dev: "253:4",
        ino: 9,
        path: "/x",
        overlayRootIno: null,
      },
      SUMMARY,
      {
        type: "result",
        index: 0,
        pid: 4711,
        mountId: 101,
        mountPoint: "/var/x",
        ok: true,
        verifiedBy: "statx",
      },
      {
        type: "result",
        index: 1,
        pid: 4711,
        mountId: 101,
        mountPoint: "/var/x",
        ok: false,
        stage: "check",
        errno: "ESTALE",
        message: "mount 101 is not at /var/x (now: absent)",
        locked: false,
      },
      {
        type: "result",
        index: 2,
        pid: null,
        mountId: null,
        mountPoint: null,
        ok: false,
        stage: "parse",
        errno: "EINVAL",
        message: "bad",
        locked: false,
      },
      {
        type: "result",
        index: 3,
        pid: null,
        mountId: 7,
        mountPoint: "/x",
        ok: false,
        stage: "open",
        errno: "ESRCH",
        message: "no process of mount namespace 9 is left",
        locked: false,
      },
      { type: "summary", orders: 2, ok: 1, failed: 1 },
      { type: "error", message: "cannot open /proc: Permission denied" },
    ];
    for (const r of records) assert.deepEqual(decodeRecord(line(r)), r);
  });

  it("ignores unknown fields (a newer helper may add some)", () => {
    assert.deepEqual(decodeRecord(line({ ...SELF, extra: [1, 2] })), SELF);
  });

  const bad: Array<[string, string, RegExp]> = [
    ["not JSON", '{"type":"self",', /helper record 12: not valid JSON/],
    ["an array", "[1,2]", /helper record 12: not a JSON object/],
    ["no type", line({ pid: 1 }), /field "type" must be a string/],
    ["unknown type", line({ type: "bogus" }), /unknown record type "bogus"/],
    [
      "negative pid",
      line({ ...PROCESS, pid: -1 }),
      /helper record 12 \(process\): field "pid" must be a non-negative integer/,
    ],
    ["fractional pid", line({ ...PROCESS, pid: 1.5 }), /field "pid" must be a non-negative integer/],
    ["string pid", line({ ...PROCESS, pid: "1" }), /field "pid" must be a non-negative integer/],
    ["missing comm", line({ ...PROCESS, comm: undefined }), /field "comm" must be a string/],
    ["cmdline not strings", line({ ...PROCESS, cmdline: ["a", 2] }), /field "cmdline\[1\]" must be a string/],
    ["zero mntns", line({ ...PROCESS, mntns: 0 }), /field "mntns" must be a positive integer/],
    ["empty pids", line({ ...NS, pids: [] }), /field "pids" must name at least one member/],
    ["readVia not a member", line({ ...NS, readVia: 1 }), /field "readVia" must be one of "pids"/],
    ["read but no readVia", line({ ...NS, readVia: null }), /field "readVia" must be a PID/],
    [
      "unreadable without errno",
      line({ ...NS, readVia: null, mountinfo: null }),
      /field "errno" must be a string/,
    ],
    [
      "fd on a cwd",
      line({
        type: "pinned",
        pid: 1,
        mntns: 2,
        kind: "cwd",
        fd: 3,
        mountId: 1,
        dev: "0:1",
        ino: 1,
        path: "/",
      }),
      /field "fd" must be null when kind is "cwd"/,
    ],
    [
      "bad kind",
      line({
        type: "pinned",
        pid: 1,
        mntns: 2,
        kind: "mmap",
        fd: null,
        mountId: 1,
        dev: "0:1",
        ino: 1,
        path: "/",
      }),
      /field "kind" must be one of "cwd", "root", "exe", "fd"/,
    ],
    [
      "bad dev",
      line({
        type: "pinned",
        pid: 1,
        mntns: 2,
        kind: "cwd",
        fd: null,
        mountId: 1,
        dev: "0-1",
        ino: 1,
        path: "/",
      }),
      /field "dev" must be "major:minor"/,
    ],
    [
      "result without stage",
      line({ type: "result", index: 0, pid: 1, mountId: 1, mountPoint: "/", ok: false }),
      /field "stage"/,
    ],
    [
      "ok not boolean",
      line({ type: "result", pid: 1, mountId: 1, mountPoint: "/", ok: "yes" }),
      /field "ok"/,
    ],
    ["empty line", "", /helper record 12: empty line/],
  ];
  for (const [what, input, message] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => decodeRecord(input, 12),
        (e: unknown) => e instanceof ProtocolError && message.test(e.message) && e.lineNo === 12,
      );
    });
  }

  it("never throws anything but ProtocolError, whatever the line", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (input) => {
          try {
            decodeRecord(input, 1);
          } catch (e) {
            assert.ok(e instanceof ProtocolError, String(e));
          }
        },
      ),
    );
  });
});

describe("splitLines", () => {
  it("reassembles lines split across chunks, even inside a UTF-8 sequence", async () => {
    const bytes = Buffer.from('{"a":"é"}\n{"b":"€"}\n');
    const lines: string[] = [];
    for await (const l of splitLines(
      chunksOf(bytes.subarray(0, 7), bytes.subarray(7, 8), bytes.subarray(8, 15), bytes.subarray(15)),
    ))
      lines.push(`${l.lineNo}:${l.line}`);
    assert.deepEqual(lines, ['1:{"a":"é"}', '2:{"b":"€"}']);
  });

  it("rejects a last line without its newline (truncated output)", async () => {
    await assert.rejects(
      async () => {
        for await (const _ of splitLines(chunksOf('{"type":"self"}\n{"type":"pro'))) {
        }
      },
      (e: unknown) =>
        e instanceof ProtocolError && /truncated: record 2 has no terminating newline/.test(e.message),
    );
  });

  it("gives the same records however a real scan is chunked", async () => {
    const ndjson = fixtureText("shm-leaked-container", "scan.ndjson");
    const expected = decodeText(ndjson);
    const bytes = Buffer.from(ndjson);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 20 }),
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
          const parts = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
          const scan = await readScan(Readable.from(parts));
          assert.equal(scan.processes.length, expected.filter((r) => r.type === "process").length);
          assert.equal(scan.namespaces.length, expected.filter((r) => r.type === "namespace").length);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("collectScan", () => {
  it("assembles a scan", () => {
    const scan = collectScan(decodeText(text(SELF, PROCESS, NS, SUMMARY)));
    assert.equal(scan.self.pid, 99);
    assert.deepEqual(
      scan.processes.map((p) => p.pid),
      [4711],
    );
    assert.equal(scan.namespaces[0]?.readVia, 4711);
  });

  it("reads every recorded fixture, and output of the real helper", () => {
    for (const dir of fs.readdirSync(FIXTURES)) {
      const file = path.join(FIXTURES, dir, "scan.ndjson");
      if (!fs.existsSync(file)) continue;
      const scan = collectScan(decodeText(fs.readFileSync(file, "utf8")));
      assert.ok(scan.processes.length > 0, dir);
    }
    const real = collectScan(decodeText(fixtureText("helper", "scan-host.ndjson")));
    assert.ok(
      real.namespaces.some((ns) => ns.mountinfo?.some((l) => l.includes("/var/lib/docker-leak-test/root"))),
    );
  });

  const broken: Array<[string, HelperRecord[] | string, RegExp]> = [
    ["no summary (truncated)", text(SELF, PROCESS, NS), /truncated: no summary after 3 records/],
    ["nothing at all", "", /helper printed nothing/],
    ["self not first", text(PROCESS, SELF, NS, SUMMARY), /"self" must come first/],
    ["no self", text(PROCESS, NS, SUMMARY), /no "self" record/],
    ["a record after the summary", text(SELF, PROCESS, NS, SUMMARY, PROCESS), /"process" after the summary/],
    [
      "a namespace twice",
      text(SELF, PROCESS, NS, NS, { ...SUMMARY, namespaces: 2 }),
      /namespace 4026532301 reported twice/,
    ],
    [
      "counts that disagree",
      text(SELF, PROCESS, NS, { ...SUMMARY, processes: 2 }),
      /summary counts 2 processes but 1 arrived/,
    ],
    [
      "an umount record in a scan",
      text(SELF, {
        type: "result",
        index: 0,
        pid: 1,
        mountId: 1,
        mountPoint: "/",
        ok: true,
        verifiedBy: "statx",
      }),
      /unexpected "result"/,
    ],
  ];
  for (const [what, input, message] of broken) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => collectScan(typeof input === "string" ? decodeText(input) : input),
        (e: unknown) => e instanceof ProtocolError && message.test(e.message),
      );
    });
  }

  it("turns an error record into a HelperReportedError", async () => {
    const input = text(SELF, { type: "error", message: "cannot open /proc: Permission denied" });
    assert.throws(() => collectScan(decodeText(input)), HelperReportedError);
    await assert.rejects(readScan(chunksOf(input)), /helper failed: cannot open \/proc: Permission denied/);
  });

  it("decodeText rejects text without a final newline", () => {
    assert.throws(() => decodeText(line(SELF)), /truncated: record 1 has no terminating newline/);
  });
});

describe("formatUnmountOrder", () => {
  it("keeps the raw mount point, colons and escapes included, last", () => {
    assert.equal(
      formatUnmountOrder({
        namespace: 9,
        mountId: 101,
        fingerprint: "00000000000000ff",
        members: [{ pid: 4711, start: 5 }],
        mountPoint: "/srv/a:b\\040c/shm",
      }),
      "ns=9 id=101 fp=00000000000000ff pids=4711@5 mp=/srv/a:b\\040c/shm",
    );
  });
});
