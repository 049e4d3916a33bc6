import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeMountinfoPath,
  escapeMountinfoPath,
  MountinfoSyntaxError,
  parseMountinfoLine,
  propagationMode,
  superOption,
  tryParseMountinfoLine,
} from "../../src/model/mountinfo.js";
import { fixtureText } from "./fixtures.js";

const tricky = fixtureText("mountinfo", "tricky.txt").split("\n").filter(Boolean);
const byId = new Map(tricky.map((l) => [Number(l.split(" ")[0]), parseMountinfoLine(l)]));
const entry = (id: number) => {
  const e = byId.get(id);
  assert.ok(e, `no line ${id}`);
  return e;
};

describe("parseMountinfoLine", () => {
  it("parses the proc(5) example", () => {
    assert.deepEqual(entry(36), {
      mountId: 36,
      parentId: 35,
      major: 98,
      minor: 0,
      dev: "98:0",
      root: "/mnt1",
      rootRaw: "/mnt1",
      mountPoint: "/mnt2",
      mountPointRaw: "/mnt2",
      mountOptions: ["rw", "noatime"],
      optionalFields: ["master:1"],
      propagation: { shared: null, master: 1, propagateFrom: null, unbindable: false },
      fstype: "ext3",
      source: "/dev/root",
      superOptions: ["rw", "errors=continue"],
    });
  });

  it("decodes \\040 in the mount point and keeps the raw form for unmount orders", () => {
    const e = entry(101);
    assert.equal(
      e.mountPoint,
      "/var/lib/my docker/containers/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/mounts/shm",
    );
    assert.ok(e.mountPointRaw.startsWith("/var/lib/my\\040docker/"));
    assert.equal(e.propagation.shared, 7);
  });

  it("decodes \\011 \\134 \\012", () => {
    assert.equal(entry(102).mountPoint, "/srv/tab\there/back\\slash/new\nline");
  });

  it("decodes octal bytes >= 0x80 as UTF-8, and several optional fields", () => {
    const e = entry(103);
    assert.equal(e.mountPoint, "/srv/café/中文");
    assert.deepEqual(e.optionalFields, ["shared:9", "master:3", "propagate_from:3", "unbindable"]);
    assert.deepEqual(e.propagation, { shared: 9, master: 3, propagateFrom: 3, unbindable: true });
    assert.equal(propagationMode(e.propagation), "shared");
  });

  it("splits super options outside quotes and decodes \\054 after splitting", () => {
    const e = entry(104);
    assert.deepEqual(e.superOptions, [
      "rw",
      'context="system_u:object_r:container_file_t:s0:c1,c2"',
      "lowerdir=/srv/a,b/l/X:/srv/a,b/l/Y",
      "upperdir=/srv/a,b/overlay2/h/diff",
      "workdir=/srv/a,b/overlay2/h/work",
    ]);
    assert.equal(superOption(e, "upperdir"), "/srv/a,b/overlay2/h/diff");
    assert.equal(superOption(e, "index"), null);
    assert.equal(propagationMode(e.propagation), "private");
  });

  it("keeps a bind's root (relative to its filesystem) and nsfs roots", () => {
    assert.equal(
      entry(105).root,
      "/containers/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/hosts",
    );
    assert.equal(entry(106).root, "net:[4026532612]");
    assert.equal(entry(106).fstype, "nsfs");
  });

  it("keeps unknown optional fields raw and decodes the source", () => {
    const e = entry(107);
    assert.deepEqual(e.optionalFields, ["x-unknown:5"]);
    assert.equal(propagationMode(e.propagation), "private");
    assert.equal(e.source, "\\\\server\\share");
  });

  it("turns invalid UTF-8 into U+FFFD and leaves a short escape literal", () => {
    assert.equal(entry(108).mountPoint, "/bad\uFFFDutf8\\3");
  });

  it("parses every line the recorded fixtures contain, back to the same fields", () => {
    let lines = 0;
    for (const name of ["legit", "shm-leaked-container", "volume-stale-running"]) {
      for (const l of fixtureText(name, "scan.ndjson").split("\n").filter(Boolean)) {
        const record = JSON.parse(l) as { type: string; mountinfo?: string[] | null };
        for (const m of record.mountinfo ?? []) {
          const e = parseMountinfoLine(m);
          const fields = m.split(" ");
          // The fields the model relies on, as the kernel printed them.
          assert.equal(String(e.mountId), fields[0]);
          assert.equal(String(e.parentId), fields[1]);
          assert.equal(e.dev, fields[2]);
          assert.equal(e.rootRaw, fields[3]);
          assert.equal(e.mountPointRaw, fields[4]);
          assert.equal(e.fstype, fields[fields.indexOf("-", 6) + 1]);
          lines++;
        }
      }
    }
    assert.ok(lines > 100, `${lines} lines`);
  });

  const malformed = fixtureText("mountinfo", "malformed.txt").replace(/\n$/, "").split("\n");
  for (const [i, bad] of malformed.entries()) {
    it(`rejects malformed line ${i + 1} with a clear error: ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => parseMountinfoLine(bad),
        (e: unknown) =>
          e instanceof MountinfoSyntaxError && /^malformed mountinfo line \(.+\): /.test(e.message),
      );
      assert.equal(tryParseMountinfoLine(bad), null);
    });
  }

  it("keeps the reason on one line even when a field holds a newline (found by fuzzing)", () => {
    const bad = "\n - - - 0 0 - - 0";
    assert.throws(
      () => parseMountinfoLine(bad),
      (e: unknown) =>
        e instanceof MountinfoSyntaxError &&
        e.message.startsWith('malformed mountinfo line (mount ID "\\n" is not a number): '),
    );
  });

  it("never crashes on arbitrary input: a MountinfoSyntaxError or an entry", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom("-", "0:1", "1", "/", "shared:1", "\\040")), {
          maxLength: 14,
        }),
        (parts) => {
          const result = tryParseMountinfoLine(parts.join(" "));
          if (result) assert.ok(Number.isInteger(result.mountId));
        },
      ),
    );
  });
});

describe("escapeMountinfoPath / decodeMountinfoPath", () => {
  it("escape like the kernel and the helper", () => {
    assert.equal(escapeMountinfoPath("/srv/dôcker data\\x\ty"), "/srv/d\\303\\264cker\\040data\\134x\\011y");
  });

  it("round-trip any path", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        const escaped = escapeMountinfoPath(s);
        assert.ok(!/[\s\x80-\uffff]/.test(escaped.replace(/\\[0-7]{3}/g, "")), escaped);
        assert.equal(decodeMountinfoPath(escaped), s);
      }),
    );
  });

  it("accepts already-decoded non-ASCII text", () => {
    assert.equal(decodeMountinfoPath("/srv/café\\040x"), "/srv/café x");
  });
});
