import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatUnmountOrder, mountLineFingerprint } from "../../src/helper/protocol.js";

/** The reference: FNV-1a 64 with BigInt, byte by byte. */
function reference(line: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(line, "latin1")) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

describe("mount line fingerprints (carried by unmount orders)", () => {
  it("are FNV-1a 64: published vectors", () => {
    assert.equal(mountLineFingerprint(""), "cbf29ce484222325");
    assert.equal(mountLineFingerprint("a"), "af63dc4c8601ec8c");
    assert.equal(mountLineFingerprint("foobar"), "85944171f73967e8");
  });
  it("agree with the 64-bit reference on any ASCII line", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
        (l) => assert.equal(mountLineFingerprint(l), reference(l)),
      ),
      { numRuns: 300 },
    );
  });
  it("travel in the order's fp= field", () => {
    assert.equal(
      formatUnmountOrder({
        namespace: 4026532301,
        mountId: 101,
        mountPoint: "/a\\040b",
        fingerprint: "0123456789abcdef",
        members: [
          { pid: 4711, start: 123 },
          { pid: 4712, start: 130 },
        ],
      }),
      "ns=4026532301 id=101 fp=0123456789abcdef pids=4711@123,4712@130 mp=/a\\040b",
    );
  });
});
