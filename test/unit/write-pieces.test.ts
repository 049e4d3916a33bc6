/**
 * src/cli/write-pieces.ts: the bytes written are exactly the pieces' UTF-8, in order, in buffers of
 * at most the given size (a larger piece alone), never one buffer overwritten after its write.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { WRITE_CHUNK, writePieces } from "../../src/cli/write-pieces.js";

function collect(pieces: string[], size?: number): { writes: (Uint8Array | string)[]; bytes: Buffer } {
  const writes: (Uint8Array | string)[] = [];
  writePieces({ write: (c) => writes.push(c) }, pieces, size);
  // Read only after all the writes: a buffer reused after its write would show here.
  const bytes = Buffer.concat(writes.map((w) => (typeof w === "string" ? Buffer.from(w) : w)));
  return { writes, bytes };
}

const lengthOf = (w: Uint8Array | string) => (typeof w === "string" ? Buffer.byteLength(w) : w.length);

describe("writePieces", () => {
  it("writes exactly the pieces' UTF-8, in buffers no larger than asked (a larger piece alone)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.string({ unit: "binary" }),
            fc.string({ unit: "grapheme" }),
            fc.string({ minLength: 20, maxLength: 80 }),
          ),
        ),
        fc.integer({ min: 4, max: 64 }),
        (pieces, size) => {
          const { writes, bytes } = collect(pieces, size);
          assert.deepEqual(bytes, Buffer.from(pieces.join("")));
          for (const w of writes) {
            assert.ok(lengthOf(w) > 0, "no empty write");
            if (typeof w === "string") assert.ok(lengthOf(w) > size, "a string only for a piece too large");
            else assert.ok(w.length <= size);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("packs a scan's many small pieces into few writes", () => {
    const pieces = Array.from({ length: 5000 }, (_, i) => `{"finding":${i},"text":"é ✓ 𝄞"}`);
    const { writes, bytes } = collect(pieces);
    assert.deepEqual(bytes, Buffer.from(pieces.join("")));
    // Each buffer is filled until the next piece does not fit: at most one piece's room is left.
    const longest = Math.max(...pieces.map((p) => Buffer.byteLength(p)));
    assert.ok(writes.length >= Math.ceil(bytes.length / WRITE_CHUNK));
    assert.ok(writes.length <= Math.ceil(bytes.length / (WRITE_CHUNK - longest)), `${writes.length} writes`);
    assert.ok(writes.every((w) => typeof w !== "string"));
  });

  it("writes nothing for nothing", () => {
    assert.deepEqual(collect([]).writes, []);
    assert.deepEqual(collect(["", ""]).writes, []);
  });
});
