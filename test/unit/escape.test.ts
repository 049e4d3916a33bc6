/**
 * Escaping text from the scanned system for terminals (escapeForTerminal) and JSON
 * (escapeJsonText): every character class, unambiguity (a decoder recovers the input), JSON
 * round trips, and the error paths that print daemon or helper messages.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { LeakError, UsageError } from "../../src/errors.js";
import { describeError } from "../../src/render/error.js";
import { escapeForTerminal, escapeJsonText, escapeStack, escapeToWord } from "../../src/render/escape.js";

/** The reading escape.ts documents: `\\`, `\n` `\r` `\t`, `\xHH`, `\uHHHH`; any other backslash is itself. */
function unescapeTerminal(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== "\\" || i + 1 === text.length) {
      out += c;
      continue;
    }
    const next = text[i + 1]!;
    const simple: Record<string, string> = { "\\": "\\", n: "\n", r: "\r", t: "\t" };
    if (next in simple) {
      out += simple[next];
      i++;
    } else if (next === "x" || next === "u") {
      const digits = next === "x" ? 2 : 4;
      const hex = text.slice(i + 2, i + 2 + digits);
      assert.match(hex, new RegExp(`^[0-9a-f]{${digits}}$`), `a complete escape at ${i} in ${text}`);
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 1 + digits;
    } else {
      out += c;
    }
  }
  return out;
}

/** Strings rich in what must be escaped, and in what must not be. */
const hostileString = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "\\",
        "x",
        "u",
        "n",
        "r",
        "t",
        "\x1b",
        "\n",
        "\u202e",
        "\x9b",
        "\x7f",
        "\u2028",
        "\u2066",
      ),
      fc.constantFrom("0", "a", '"', "é", "🐳", "\u200f", "\u061c", "\x85", "\x00"),
      fc.string({ unit: "binary", maxLength: 3 }),
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(""));

/** Every code point escapeForTerminal must never let through raw. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

const codePoints = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));

describe("escapeForTerminal", () => {
  it("C0 controls: \\n \\r \\t by name, the rest (ESC, NUL, BEL, BS …) as \\xHH", () => {
    const table: [string, string][] = [
      ["\x00", "\\x00"],
      ["\x07", "\\x07"],
      ["\b", "\\x08"],
      ["\t", "\\t"],
      ["\n", "\\n"],
      ["\x0b", "\\x0b"],
      ["\f", "\\x0c"],
      ["\r", "\\r"],
      ["\x1b", "\\x1b"],
      ["\x1f", "\\x1f"],
    ];
    for (const [raw, shown] of table) assert.equal(escapeForTerminal(raw), shown, JSON.stringify(raw));
    for (const c of codePoints(0, 0x1f)) assert.doesNotMatch(escapeForTerminal(c), UNSAFE);
  });

  it("DEL and every C1 control as \\xHH", () => {
    assert.equal(escapeForTerminal("\x7f"), "\\x7f");
    assert.equal(escapeForTerminal("\x85"), "\\x85"); // NEL: a line break to some terminals
    assert.equal(escapeForTerminal("\x9b"), "\\x9b"); // CSI: ESC [ in one byte
    assert.equal(escapeForTerminal("\x9d"), "\\x9d"); // OSC
    for (const c of codePoints(0x80, 0x9f)) {
      assert.equal(escapeForTerminal(c), `\\x${c.charCodeAt(0).toString(16)}`);
    }
    assert.equal(escapeForTerminal("\xa0é~"), "\xa0é~", "from U+00A0 on, Latin-1 prints as itself");
  });

  it("line and paragraph separators and bidi controls as \\uHHHH", () => {
    const table: [string, string][] = [
      ["\u2028", "\\u2028"],
      ["\u2029", "\\u2029"],
      ["\u202a", "\\u202a"],
      ["\u202b", "\\u202b"],
      ["\u202c", "\\u202c"],
      ["\u202d", "\\u202d"],
      ["\u202e", "\\u202e"],
      ["\u2066", "\\u2066"],
      ["\u2067", "\\u2067"],
      ["\u2068", "\\u2068"],
      ["\u2069", "\\u2069"],
      ["\u200e", "\\u200e"],
      ["\u200f", "\\u200f"],
      ["\u061c", "\\u061c"],
    ];
    for (const [raw, shown] of table) assert.equal(escapeForTerminal(raw), shown);
    assert.equal(
      escapeForTerminal("\u2027\u202f\u2065\u206a"),
      "\u2027\u202f\u2065\u206a",
      "neighbours pass",
    );
  });

  it("a typical attack reads as text on one line", () => {
    assert.equal(
      escapeForTerminal("sleep\x1b[2J\nPID 1 (init)\u202egnp.exe"),
      "sleep\\x1b[2J\\nPID 1 (init)\\u202egnp.exe",
    );
  });

  it("printable text, however long, is returned as it is (same string)", () => {
    const text = "/var/lib/docker/containers/abc/mounts/shm a\\b C:\\dir\\ ünïcödé 🐳".repeat(20_000);
    assert.equal(escapeForTerminal(text), text);
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10; i++) escapeForTerminal(text);
    const ms = Number(process.hrtime.bigint() - started) / 1e6 / 10;
    assert.ok(ms < 50, `~1.4 MB of printable text took ${ms.toFixed(1)} ms`);
  });

  it("a backslash stays single unless it could start an escape (then, and at the end, doubled)", () => {
    assert.equal(escapeForTerminal("a\\b"), "a\\b");
    assert.equal(escapeForTerminal("C:\\Program Files\\"), "C:\\Program Files\\\\");
    assert.equal(escapeForTerminal("\\x1b"), "\\\\x1b", "a file literally named \\x1b");
    assert.equal(escapeForTerminal("\\n\\t\\r\\u202e"), "\\\\n\\\\t\\\\r\\\\u202e");
    assert.equal(escapeForTerminal("\\\\a"), "\\\\\\a");
    assert.equal(escapeForTerminal("\\\x1b"), "\\\\\\x1b", "a backslash before an escaped character");
  });

  it("property: the output holds no unsafe character and reads back to the input", () => {
    const unit = fc.integer({ min: 0, max: 0x2100 }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 40 }), hostileString, (a, b) => {
        for (const text of [a.join(""), b]) {
          const shown = escapeForTerminal(text);
          assert.doesNotMatch(shown, UNSAFE);
          assert.equal(unescapeTerminal(shown), text);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("escapeJsonText", () => {
  const nasty = {
    comm: "\x1b[31mred\x07",
    mountPoint: "/tmp/a\nb\u0085c\x7fd\x9be",
    sep: "\u2028\u2029",
    bidi: "\u202e\u2066\u2069\u200e\u200f\u061c",
    fine: 'quote " backslash \\ é 🐳',
  };

  it("leaves no raw DEL, C1, separator or bidi character, and parses back to the same strings", () => {
    const json = escapeJsonText(JSON.stringify(nasty));
    assert.doesNotMatch(json, UNSAFE);
    assert.deepEqual(JSON.parse(json), nasty);
    assert.ok(json.includes("\\u007f") && json.includes("\\u0085") && json.includes("\\u009b"));
    assert.ok(json.includes("\\u2028") && json.includes("\\u202e") && json.includes("\\u061c"));
    assert.ok(json.includes("é") && json.includes("🐳"), "other non-ASCII stays as it is");
  });

  it("a DEL in otherwise plain ASCII is escaped too", () => {
    assert.equal(escapeJsonText('{"comm":"a\x7fb"}'), '{"comm":"a\\u007fb"}');
    assert.equal(escapeJsonText('"\x7f"'), '"\\u007f"');
  });

  it("JSON without such characters is returned as it is", () => {
    const json = JSON.stringify({ a: "/var/lib/docker é", b: [1, 2, null] });
    assert.equal(escapeJsonText(json), json);
  });

  it("property: any value round-trips, with nothing unsafe left", () => {
    fc.assert(
      fc.property(fc.jsonValue(), hostileString, (value, s) => {
        for (const v of [value, s, { [s]: s }]) {
          const json = escapeJsonText(JSON.stringify(v));
          assert.doesNotMatch(json, UNSAFE);
          assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(v)));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("escapeToWord (-q lines for names Docker would not accept)", () => {
  it("one word of [A-Za-z0-9_.-] and escapes, distinct for distinct names", () => {
    assert.equal(escapeToWord("data"), "data");
    assert.equal(escapeToWord("x important"), "x\\x20important");
    assert.equal(escapeToWord("a\nb'\"\\*"), "a\\x0ab\\x27\\x22\\x5c\\x2a");
    assert.equal(escapeToWord("\u202e"), "\\u202e");
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        assert.match(escapeToWord(a), /^[A-Za-z0-9_.\\-]*$/);
        if (a !== b) assert.notEqual(escapeToWord(a), escapeToWord(b));
      }),
    );
  });
});

describe("error messages on stderr", () => {
  const hostile = "unmount /tmp/x\x1b[2J\nfailed: \u202eok";

  it("describeError escapes messages and hints to one line each", () => {
    assert.equal(
      describeError(new LeakError(hostile, "retry \x1b]0;title\x07")),
      "docker leak: unmount /tmp/x\\x1b[2J\\nfailed: \\u202eok\nretry \\x1b]0;title\\x07",
    );
    assert.equal(
      describeError(new UsageError("bad \x1b")),
      "docker leak: bad \\x1b\nSee 'docker leak --help'.",
    );
    const sys = Object.assign(new Error(hostile), { code: "EIO" });
    assert.equal(describeError(sys), escapeForTerminal(hostile));
    assert.equal(describeError("raw\nstring"), "raw\\nstring");
  });

  it("a stack keeps its frame lines but its message becomes one escaped line", () => {
    const err = new Error(hostile);
    const shown = escapeStack(err);
    const lines = shown.split("\n");
    assert.equal(lines[0], `Error: ${escapeForTerminal(hostile)}`);
    assert.ok(lines.length > 2 && lines.slice(1).every((l) => l.startsWith("    at ")), shown);
    assert.doesNotMatch(shown, /\x1b|\u202e/);
    assert.equal(describeError(err), shown);
  });
});
