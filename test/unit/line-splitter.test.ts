/**
 * The one line reader (LineSplitter, and splitLines over it): what the helper runner feeds the
 * helper's stdout through.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { LineSplitter, ProtocolError, splitLines } from "../../src/helper/protocol.js";

async function lines(chunks: (string | Buffer)[]): Promise<string[]> {
  const out: string[] = [];
  async function* source() {
    yield* chunks;
  }
  for await (const { line } of splitLines(source())) out.push(line);
  return out;
}

describe("LineSplitter (the helper's stdout, line by line)", () => {
  it("gives the same lines whatever the chunking, also inside multi-byte characters", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ unit: "grapheme" }).map((s) => s.replace(/\n/g, "")),
          { maxLength: 20 },
        ),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (ls, cuts) => {
          const text = Buffer.from(ls.map((l) => `${l}\n`).join(""));
          const points = [...new Set(cuts.map((c) => (text.length ? c % text.length : 0)))].sort(
            (a, b) => a - b,
          );
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of points) {
            chunks.push(text.subarray(prev, p));
            prev = p;
          }
          chunks.push(text.subarray(prev));
          assert.deepEqual(await lines(chunks.filter((c) => c.length)), ls);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a last line without a newline is a cut-off output", async () => {
    await assert.rejects(
      lines(['{"a":1}\n{"b"']),
      (e: unknown) => e instanceof ProtocolError && /truncated/.test(e.message),
    );
  });

  it("a line longer than the bound is refused as it arrives, not after it is buffered", () => {
    const got: string[] = [];
    const s = new LineSplitter((l) => got.push(l), 10);
    s.push("short\n0123456");
    assert.throws(
      () => s.push("789abc"),
      (e: unknown) => e instanceof ProtocolError && /longer than 10/.test(e.message),
    );
    assert.deepEqual(got, ["short"]);
  });

  it("a 4 MB line in 1 KiB chunks stays linear", () => {
    const line = "x".repeat(4 * 1024 * 1024);
    let got = 0;
    const s = new LineSplitter((l) => {
      got = l.length;
    });
    const t = performance.now();
    for (let i = 0; i < line.length; i += 1024) s.push(line.slice(i, i + 1024));
    s.push("\n");
    s.end();
    assert.equal(got, line.length);
    assert.ok(performance.now() - t < 5000, "well under the quadratic cost");
  });
});
