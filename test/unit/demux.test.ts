import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { StreamDemuxer } from "../../src/docker/demux.js";

function frame(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Feeds `bytes` in pieces cut at `cuts`; returns what reached stdout and stderr. */
function demux(bytes: Buffer, cuts: number[]): { out: Buffer; err: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const d = new StreamDemuxer(
    (c) => out.push(Buffer.from(c)),
    (c) => err.push(Buffer.from(c)),
  );
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= at || cut >= bytes.length) continue;
    d.push(bytes.subarray(at, cut));
    at = cut;
  }
  d.push(bytes.subarray(at));
  return { out: Buffer.concat(out), err: Buffer.concat(err) };
}

describe("the attach stream's frames", () => {
  it("splits stdout and stderr frames however the stream is cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0, 1, 2), fc.uint8Array({ maxLength: 300 })), { maxLength: 20 }),
        fc.array(fc.nat(7000), { maxLength: 30 }),
        (frames, cuts) => {
          const bytes = Buffer.concat(frames.map(([t, p]) => frame(t, Buffer.from(p))));
          const { out, err } = demux(bytes, cuts);
          const expect = (types: number[]) =>
            Buffer.concat(frames.filter(([t]) => types.includes(t)).map(([, p]) => Buffer.from(p)));
          assert.deepEqual(out, expect([0, 1]));
          assert.deepEqual(err, expect([2]));
        },
      ),
    );
  });

  it("passes a daemon error frame (type 3) on as stderr", () => {
    const { out, err } = demux(
      Buffer.concat([frame(1, Buffer.from("a\n")), frame(3, Buffer.from("oops"))]),
      [3],
    );
    assert.equal(out.toString(), "a\n");
    assert.equal(err.toString(), "oops");
  });

  it("hands on a stream that is not framed (a TTY's) as it is", () => {
    const raw = Buffer.from("hello, this is a terminal\n");
    assert.deepEqual(demux(raw, [2, 9]), { out: raw, err: Buffer.alloc(0) });
    const mixed = Buffer.concat([frame(1, Buffer.from("ok\n")), raw]);
    assert.equal(demux(mixed, [5, 12]).out.toString(), `ok\n${raw.toString()}`);
  });

  it("does not copy payloads: a large frame arrives as views of the chunks", () => {
    const payload = Buffer.alloc(1 << 20, 0x61);
    const bytes = frame(1, payload);
    const seen: Buffer[] = [];
    const d = new StreamDemuxer(
      (c) => seen.push(c),
      () => undefined,
    );
    d.push(bytes);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.buffer, bytes.buffer, "a view of the received chunk");
  });
});
