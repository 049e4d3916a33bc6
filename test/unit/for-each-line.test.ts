import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import fc from "fast-check";
import { forEachLine } from "../../src/docker/helper-runner.js";

async function lines(chunks: (string | Buffer)[]): Promise<string[]> {
  const out: string[] = [];
  const bytes = chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c));
  // Byte mode, as the helper's demuxed stdout is.
  await forEachLine(Readable.from(bytes, { objectMode: false }), (l) => out.push(l));
  return out;
}

describe("forEachLine (the helper's stdout, line by line)", () => {
  it("gives the same lines whatever the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ unit: "grapheme" }).map((s) => s.replace(/\n/g, "")),
          { maxLength: 20 },
        ),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (ls, cuts) => {
          // Cut the bytes anywhere, also inside multi-byte characters, as a pipe may.
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
          assert.deepEqual(await lines(chunks.filter((c) => c.length)), ls.filter(Boolean));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("passes a last line without a newline on (the decoder flags it)", async () => {
    assert.deepEqual(await lines(['{"a":1}\n{"b"']), ['{"a":1}', '{"b"']);
  });

  it("a 4 MB line in 1 KiB chunks stays linear", async () => {
    const line = "x".repeat(4 * 1024 * 1024);
    const chunks: string[] = [];
    for (let i = 0; i < line.length; i += 1024) chunks.push(line.slice(i, i + 1024));
    chunks.push("\n");
    const t = performance.now();
    const out = await lines(chunks);
    assert.equal(out[0]?.length, line.length);
    assert.ok(performance.now() - t < 5000, "well under the quadratic cost");
  });
});
