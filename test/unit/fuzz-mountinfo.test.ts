/**
 * Property-based tests (fast-check) for the mountinfo parser: arbitrary input never crashes it
 * with anything but MountinfoSyntaxError, escaped paths round-trip, huge inputs stay fast.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeMountinfoPath,
  escapeMountinfoPath,
  type MountinfoEntry,
  MountinfoSyntaxError,
  parseMountinfoLine,
  tryParseMountinfoLine,
} from "../../src/model/mountinfo.js";

/** Any UTF-16 code unit, lone surrogates included: what a JS string can hold. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
/** Characters that matter to mountinfo: separators, escapes, multi-byte UTF-8. */
const trickyChar = fc.constantFrom(
  " ",
  "\t",
  "\n",
  "\r",
  "\\",
  "\0",
  "-",
  ":",
  ",",
  '"',
  "=",
  "é",
  "€",
  "😀",
  "\u00ff",
  "\u0080",
  "\\040",
  "\\134",
  "\\400",
  "\\12",
);
/** Well-formed text (no lone surrogates) weighted towards the tricky characters. */
const pathText = (maxLength = 40) =>
  fc.string({
    unit: fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), trickyChar),
    maxLength,
  });
/** Arbitrary strings: well-formed, tricky, or lone-surrogate-laden. */
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  pathText(80),
  fc.string({ unit: anyCodeUnit, maxLength: 80 }),
);
/** Bytes as the helper's stream might deliver them, decoded like the decoder would. */
const anyBytesText = fc.uint8Array({ maxLength: 200 }).map((b) => new TextDecoder().decode(b));

/** Lines assembled from plausible tokens, so many get past the first checks. */
const tokenLine = fc
  .array(
    fc.oneof(
      anyText,
      fc.constantFrom(
        "-",
        "0:1",
        "8:1",
        "1",
        "42",
        "/",
        "/mnt",
        "rw",
        "shared:1",
        "master:x",
        "unbindable",
        "",
      ),
      fc.nat().map(String),
    ),
    { maxLength: 16 },
  )
  .map((parts) => parts.join(" "));

function onlySyntaxErrors(line: string): MountinfoEntry | null {
  let entry: MountinfoEntry | null = null;
  try {
    entry = parseMountinfoLine(line);
  } catch (e) {
    assert.ok(e instanceof MountinfoSyntaxError, `not a MountinfoSyntaxError: ${String(e)}`);
    assert.match(e.message, /^malformed mountinfo line \(.+\): /);
    assert.equal(e.line, line);
  }
  // tryParseMountinfoLine agrees and never throws.
  const tried = tryParseMountinfoLine(line);
  assert.equal(tried === null, entry === null);
  return entry;
}

const isWellFormed = (s: string) =>
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

describe("fuzz: parseMountinfoLine / tryParseMountinfoLine", () => {
  it("arbitrary strings and bytes: an entry or a MountinfoSyntaxError, nothing else", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, anyBytesText, tokenLine), (line) => {
        const entry = onlySyntaxErrors(line);
        if (entry) {
          assert.ok(Number.isInteger(entry.mountId) && entry.mountId >= 0);
          assert.ok(Number.isInteger(entry.parentId) && entry.parentId >= 0);
          assert.equal(entry.dev, `${entry.major}:${entry.minor}`);
          assert.notEqual(entry.mountPointRaw, "");
          assert.notEqual(entry.fstype, "");
        }
      }),
      { numRuns: 1500 },
    );
  });

  const mountPoint = pathText(60).map((p) => `/${p}`);
  const simpleWord = fc.stringMatching(/^[a-z0-9_.=]{1,12}$/);
  const validLine = fc.record({
    mountId: fc.nat(),
    parentId: fc.nat(),
    major: fc.nat({ max: 4095 }),
    minor: fc.nat({ max: 1 << 20 }),
    root: mountPoint,
    mountPoint,
    options: fc.array(simpleWord, { minLength: 1, maxLength: 4 }),
    optional: fc.array(
      fc.oneof(
        fc.nat().map((n) => `shared:${n}`),
        fc.nat().map((n) => `master:${n}`),
        fc.nat().map((n) => `propagate_from:${n}`),
        fc.constant("unbindable"),
        fc.stringMatching(/^[a-z]{1,8}:[0-9]{1,3}$/),
      ),
      { maxLength: 4 },
    ),
    fstype: fc.stringMatching(/^[a-z0-9.]{1,10}$/),
    source: pathText(30).map((s) => (s === "" ? "none" : s)),
    superOptions: fc.array(
      pathText(20).filter((s) => !s.includes(",") && !s.includes('"')),
      { maxLength: 4 },
    ),
    newline: fc.boolean(),
  });

  it("a generated valid line parses back to what it was built from (escaped paths round-trip)", () => {
    fc.assert(
      fc.property(validLine, (g) => {
        const line =
          [
            g.mountId,
            g.parentId,
            `${g.major}:${g.minor}`,
            escapeMountinfoPath(g.root),
            escapeMountinfoPath(g.mountPoint),
            g.options.join(","),
            ...g.optional,
            "-",
            g.fstype,
            escapeMountinfoPath(g.source),
            g.superOptions.map(escapeMountinfoPath).join(","),
          ].join(" ") + (g.newline ? "\n" : "");
        const e = parseMountinfoLine(line);
        assert.equal(e.mountId, g.mountId);
        assert.equal(e.parentId, g.parentId);
        assert.equal(e.dev, `${g.major}:${g.minor}`);
        assert.equal(e.root, g.root);
        assert.equal(e.mountPoint, g.mountPoint);
        assert.equal(e.mountPointRaw, escapeMountinfoPath(g.mountPoint));
        assert.deepEqual(e.mountOptions, g.options);
        assert.deepEqual(e.optionalFields, g.optional);
        const last = (prefix: string) => {
          const f = g.optional.filter((o) => o.startsWith(prefix)).at(-1);
          return f === undefined ? null : Number(f.slice(prefix.length));
        };
        assert.deepEqual(e.propagation, {
          shared: last("shared:"),
          master: last("master:"),
          propagateFrom: last("propagate_from:"),
          unbindable: g.optional.includes("unbindable"),
        });
        assert.equal(e.fstype, g.fstype);
        assert.equal(e.source, g.source);
        // "" as the only super option prints as an empty field: no options.
        assert.deepEqual(
          e.superOptions,
          g.superOptions.length === 1 && g.superOptions[0] === "" ? [] : g.superOptions,
        );
      }),
      { numRuns: 800 },
    );
  });

  it("handles a 1 MB line quickly, valid or not", () => {
    const big = `/${"dôcker data\\\t".repeat(80_000)}`; // > 1 MB once escaped
    const raw = escapeMountinfoPath(big);
    assert.ok(raw.length > 1_000_000);
    let t = performance.now();
    const e = parseMountinfoLine(`1 2 0:1 / ${raw} rw - overlay overlay rw`);
    assert.equal(e.mountPoint, big);
    assert.ok(performance.now() - t < 3000, `took ${performance.now() - t} ms`);
    for (const garbage of [
      " ".repeat(1 << 20),
      "x".repeat(1 << 20),
      "\\".repeat(1 << 20),
      "1 ".repeat(1 << 19),
    ]) {
      t = performance.now();
      assert.equal(tryParseMountinfoLine(garbage), null);
      assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    }
  });

  it("parses 5,000 lines (200 namespaces × 25 mounts) quickly", () => {
    const lines: string[] = [];
    for (let ns = 0; ns < 200; ns++)
      for (let m = 0; m < 25; m++)
        lines.push(
          `${ns * 100 + m + 20} ${ns * 100 + 19} 0:${m + 50} / /var/lib/docker/overlay2/${ns}${m}/m\\040erged rw,relatime shared:${m} - overlay overlay rw,lowerdir=/l/${ns}:/l/${m},upperdir=/u/${ns},workdir=/w/${ns}`,
        );
    const t = performance.now();
    const entries = lines.map(parseMountinfoLine);
    assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    assert.equal(entries.length, 5000);
    assert.equal(entries[4999]?.mountPoint, "/var/lib/docker/overlay2/19924/m erged");
  });
});

describe("fuzz: escapeMountinfoPath / decodeMountinfoPath", () => {
  it("decode(escape(path)) is the path, for any well-formed path", () => {
    fc.assert(
      fc.property(fc.oneof(pathText(60), fc.string({ unit: "binary", maxLength: 60 })), (path) => {
        const escaped = escapeMountinfoPath(path);
        // What the helper prints: ASCII only, no space/tab/newline, each backslash starts \NNN.
        assert.ok(!/[ \t\n\x80-\uffff]/.test(escaped), escaped);
        assert.ok(!/\\(?![0-3][0-7]{2})/.test(escaped), escaped);
        assert.equal(decodeMountinfoPath(escaped), path);
        // Already-decoded text without backslashes decodes to itself.
        if (!path.includes("\\")) assert.equal(decodeMountinfoPath(path), path);
      }),
      { numRuns: 1500 },
    );
  });

  it("decode never throws and always yields well-formed text, whatever the input", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, anyBytesText), (raw) => {
        const decoded = decodeMountinfoPath(raw);
        assert.equal(typeof decoded, "string");
        assert.ok(isWellFormed(decoded), JSON.stringify(decoded));
        // Escaping is idempotent through a decode: escape(decode(escape(x))) === escape(x).
        const once = escapeMountinfoPath(decoded);
        assert.equal(escapeMountinfoPath(decodeMountinfoPath(once)), once);
      }),
      { numRuns: 1500 },
    );
  });

  it("a lone surrogate escapes as U+FFFD, like the UTF-8 encoder", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0xd800, max: 0xdfff }), (c) => {
        assert.equal(decodeMountinfoPath(escapeMountinfoPath(`/a${String.fromCharCode(c)}b`)), "/a\ufffdb");
      }),
      { numRuns: 100 },
    );
  });
});
