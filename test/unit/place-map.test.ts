/**
 * PlaceMap (src/model/mount-table.ts): the nearest value at or above a place, found by slash
 * positions, answers exactly as the plain walk up a path's ancestors does, for any paths (double
 * and trailing slashes, the root, relative ones).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type Place, PlaceMap, relativeRaw } from "../../src/model/mount-table.js";

/** The reference: every ancestor, one string each, as resources.ts walked them before. */
function walk(
  values: Map<string, number>,
  place: Place,
  orSelf: boolean,
): { value: number; rel: string } | null {
  const key = (dev: string, path: string) => `${dev}\0${path}`;
  if (values.size === 0 || !place.path.startsWith("/")) return null;
  if (orSelf) {
    const self = values.get(key(place.dev, place.path));
    if (self !== undefined) return { value: self, rel: "" };
  }
  let dir = place.path;
  while (dir !== "/") {
    const cut = dir.lastIndexOf("/");
    dir = cut <= 0 ? "/" : dir.slice(0, cut);
    const value = values.get(key(place.dev, dir));
    if (value !== undefined) {
      const rel = relativeRaw(place.path, dir);
      if (rel !== null && rel !== "") return { value, rel };
    }
  }
  return null;
}

const component = fc.constantFrom("", "a", "b", "var", "lib", "x y", "\\040");
const path = fc.oneof(
  fc.array(component, { maxLength: 5 }).map((cs) => `/${cs.join("/")}`),
  fc.constantFrom("/", "//", "a/b", "", "/a/", "/a//b/"),
);
const place = fc.record({ dev: fc.constantFrom("0:1", "8:2"), path });

describe("PlaceMap", () => {
  it("finds what the walk up the ancestors finds, with the same rest of the path", () => {
    fc.assert(
      fc.property(
        fc.array(place, { maxLength: 12 }),
        fc.array(place, { maxLength: 12 }),
        fc.boolean(),
        (anchors, queries, orSelf) => {
          const map = new PlaceMap<number>();
          const reference = new Map<string, number>();
          anchors.forEach((p, i) => {
            map.set(p, i);
            reference.set(`${p.dev}\0${p.path}`, i);
          });
          assert.equal(map.size, reference.size);
          for (const q of [...queries, ...anchors]) {
            assert.deepEqual(map.above(q, orSelf), walk(reference, q, orSelf), JSON.stringify({ q, orSelf }));
            assert.equal(map.get(q), reference.get(`${q.dev}\0${q.path}`));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("the nearest ancestor wins, on the same device only", () => {
    const map = new PlaceMap<string>();
    map.set({ dev: "0:1", path: "/" }, "root");
    map.set({ dev: "0:1", path: "/var/lib" }, "lib");
    map.set({ dev: "0:2", path: "/var/lib/docker" }, "other device");
    assert.deepEqual(map.above({ dev: "0:1", path: "/var/lib/docker/x" }, false), {
      value: "lib",
      rel: "docker/x",
    });
    assert.deepEqual(map.above({ dev: "0:1", path: "/var/lib" }, false), { value: "root", rel: "var/lib" });
    assert.deepEqual(map.above({ dev: "0:1", path: "/var/lib" }, true), { value: "lib", rel: "" });
    assert.equal(map.above({ dev: "0:3", path: "/var/lib/x" }, true), null);
  });
});
