/**
 * Property-based tests (fast-check) for the cgroup parser: arbitrary lines never throw, known
 * layouts are recognised whatever surrounds them, and the most specific owner always wins.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type CgroupOwner,
  classifyCgroupPath,
  ownerFromCgroup,
  parseCgroupLine,
} from "../../src/model/cgroup.js";

const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const cgroupChar = fc.constantFrom(
  ":",
  "/",
  ",",
  ".",
  "-",
  "_",
  "@",
  "\n",
  " ",
  "0",
  "a",
  "f",
  "docker",
  "kubepods",
  ".slice",
  ".scope",
  ".service",
  "pod",
);
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 120 }),
  fc.string({ unit: anyCodeUnit, maxLength: 60 }),
  fc.string({ unit: cgroupChar, maxLength: 40 }),
  fc.uint8Array({ maxLength: 120 }).map((b) => new TextDecoder().decode(b)),
);
const hex64 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 });
/** Path segments that no layout gives a meaning to. */
const plainSegment = fc.stringMatching(/^[A-Z][a-zA-Z0-9]{0,10}$/);

const RANK: Record<CgroupOwner["kind"], number> = { container: 3, pod: 2, unit: 1, none: 0 };

function checkOwnerShape(owner: CgroupOwner): void {
  switch (owner.kind) {
    case "container":
      assert.ok(owner.containerIds.length >= 1);
      assert.equal(owner.containerId, owner.containerIds[0]);
      for (const id of owner.containerIds) assert.match(id, /^[0-9a-f]{64}$/);
      assert.ok(["docker", "containerd", "cri-o", "podman", "unknown"].includes(owner.runtime));
      if (owner.podUid !== null)
        assert.match(owner.podUid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      break;
    case "pod":
      assert.match(owner.podUid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      break;
    case "unit":
      assert.match(owner.unit, /\.service$/);
      assert.ok(owner.manager === "system" || owner.manager === "user");
      break;
    case "none":
      assert.deepEqual(owner, { kind: "none" });
      break;
    default:
      assert.fail(`unknown owner ${JSON.stringify(owner)}`);
  }
}

describe("fuzz: parseCgroupLine", () => {
  it("never throws; a parsed line is exactly ID:controllers:path", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          fc
            .tuple(fc.oneof(fc.nat().map(String), anyText), anyText, anyText)
            .map(([id, controllers, path]) => `${id}:${controllers}:${path}`),
        ),
        (line) => {
          const parsed = parseCgroupLine(line);
          if (parsed === null) return;
          const [id, controllers] = line.split(":");
          assert.match(id ?? "", /^\d+$/);
          assert.equal(parsed.hierarchyId, Number(id));
          assert.deepEqual(parsed.controllers, controllers === "" ? [] : controllers?.split(","));
          assert.ok(parsed.path.startsWith("/"));
          assert.equal(line, `${id}:${controllers}:${parsed.path}`);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("keeps every colon of the path", () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.stringMatching(/^[a-z=_]{1,8}$/), { maxLength: 3 }),
        anyText,
        (id, ctl, rest) => {
          const path = `/${rest}`;
          assert.deepEqual(parseCgroupLine(`${id}:${ctl.join(",")}:${path}`), {
            hierarchyId: id,
            controllers: ctl,
            path,
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("fuzz: classifyCgroupPath", () => {
  it("never throws on arbitrary paths and returns a well-formed owner", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          fc
            .array(fc.oneof(anyText, hex64, fc.uuid(), fc.constantFrom("kubepods", "docker")), {
              maxLength: 8,
            })
            .map((s) => `/${s.join("/")}`),
        ),
        (path) => checkOwnerShape(classifyCgroupPath(path)),
      ),
      { numRuns: 1500 },
    );
  });

  const layouts: Array<[string, (id: string, uid: string) => string, CgroupOwner["kind"], string, boolean]> =
    [
      ["cgroupfs", (id) => `/docker/${id}`, "container", "docker", false],
      ["systemd", (id) => `/system.slice/docker-${id}.scope`, "container", "docker", false],
      [
        "rootless",
        (id) => `/user.slice/user-1000.slice/user@1000.service/user.slice/docker-${id}.scope`,
        "container",
        "docker",
        false,
      ],
      ["k8s cgroupfs", (id, uid) => `/kubepods/burstable/pod${uid}/${id}`, "container", "unknown", true],
      [
        "k8s systemd",
        (id, uid) =>
          `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice/cri-containerd-${id}.scope`,
        "container",
        "containerd",
        true,
      ],
      [
        "containerd slice form",
        (id, uid) => `/kubepods-besteffort-pod${uid.replaceAll("-", "_")}.slice:cri-containerd:${id}`,
        "container",
        "containerd",
        true,
      ],
      ["cri-o", (id) => `/kubepods.slice/crio-${id}.scope`, "container", "cri-o", false],
      ["podman", (id) => `/machine.slice/libpod-${id}.scope`, "container", "podman", false],
    ];
  for (const [name, build, kind, runtime, hasPod] of layouts) {
    it(`recognises the ${name} layout under any unrelated prefix`, () => {
      fc.assert(
        fc.property(hex64, fc.uuid(), fc.array(plainSegment, { maxLength: 4 }), (id, uid, prefix) => {
          const path = `${prefix.map((p) => `/${p}`).join("")}${build(id, uid)}`;
          const owner = classifyCgroupPath(path);
          assert.equal(owner.kind, kind, path);
          if (owner.kind !== "container") return;
          assert.equal(owner.containerId, id);
          assert.deepEqual(owner.containerIds, [id]);
          assert.equal(owner.runtime, runtime);
          assert.equal(owner.podUid, hasPod ? uid : null);
        }),
        { numRuns: 100 },
      );
    });
  }

  it("lists nested (Docker-in-Docker) container IDs outermost first", () => {
    fc.assert(
      fc.property(fc.array(hex64, { minLength: 1, maxLength: 5 }), (ids) => {
        const owner = classifyCgroupPath(`/system.slice/docker-${ids[0]}.scope/${ids.slice(1).join("/")}`);
        assert.equal(owner.kind, "container");
        if (owner.kind === "container") assert.deepEqual(owner.containerIds, ids);
      }),
      { numRuns: 200 },
    );
  });

  it("handles a 1 MB path quickly", () => {
    for (const path of [
      `/${"a".repeat(1 << 20)}.slic`,
      `/${"kubepods-pod.slice:".repeat(1 << 16)}`,
      `/${"docker-".repeat(1 << 17)}.scope`,
      "/x".repeat(1 << 19),
    ]) {
      const t = performance.now();
      checkOwnerShape(classifyCgroupPath(path));
      assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    }
  });
});

describe("fuzz: ownerFromCgroup", () => {
  const line = fc.oneof(
    anyText,
    fc
      .tuple(
        fc.nat({ max: 15 }),
        fc.constantFrom("", "memory", "name=systemd", "cpu,cpuacct"),
        fc.oneof(
          anyText.map((s) => `/${s}`),
          hex64.map((id) => `/docker/${id}`),
          fc.uuid().map((u) => `/kubepods/pod${u}`),
          plainSegment.map((s) => `/system.slice/${s}.service`),
        ),
      )
      .map(([id, ctl, path]) => `${id}:${ctl}:${path}`),
  );

  it("never throws, and the owner is the most specific one any line names", () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 14 }), (lines) => {
        const owner = ownerFromCgroup(lines);
        checkOwnerShape(owner);
        const candidates = lines.flatMap((l) => {
          const p = parseCgroupLine(l);
          return p ? [classifyCgroupPath(p.path)] : [];
        });
        const best = Math.max(0, ...candidates.map((c) => RANK[c.kind]));
        assert.equal(RANK[owner.kind], best);
        if (owner.kind !== "none")
          assert.ok(candidates.some((c) => JSON.stringify(c) === JSON.stringify(owner)));
      }),
      { numRuns: 800 },
    );
  });

  it("handles thousands of lines quickly", () => {
    const lines = Array.from(
      { length: 5000 },
      (_, i) => `${i}:memory:/system.slice/unit${i}.service/${"x".repeat(100)}`,
    );
    lines.push(`0::/system.slice/docker-${"ab".repeat(32)}.scope`);
    const t = performance.now();
    const owner = ownerFromCgroup(lines);
    assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    assert.equal(owner.kind, "container");
  });
});
