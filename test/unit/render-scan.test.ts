import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { makeChalk } from "../../src/cli/color.js";
import { analyze } from "../../src/model/analyze.js";
import {
  byName,
  exitCodeOf,
  nextCommands,
  renderQuiet,
  renderScanJson,
  renderScanTable,
  SCAN_SCHEMA_VERSION,
  scanHints,
  scanSummary,
  scanView,
} from "../../src/render/scan.js";
import { renderTable, truncateMiddle } from "../../src/render/table.js";
import { FIXTURES, loadFixture, loadHandwritten } from "./fixtures.js";

const plain = makeChalk(0);

function viewOf(name: string) {
  const { inventory, scan } = loadFixture(name);
  return scanView(analyze({ inventory, scan, now: new Date("2026-11-27T00:00:00Z") }));
}

describe("scan renderings (table, JSON, quiet) of one view", () => {
  for (const name of ["shm-leaked-host", "shm-leaked-container", "volume-leaked", "shm-captured"]) {
    it(`${name}: the three renderings agree`, () => {
      const view = viewOf(name);
      assert.ok(view.findings.length > 0, "the fixture has findings");
      const json = JSON.parse([...renderScanJson(view)].join(""));
      assert.equal(json.schemaVersion, SCAN_SCHEMA_VERSION);
      assert.equal(json.findings.length, view.findings.length);
      assert.equal(json.leaks, exitCodeOf(view) === 3);
      const table = renderScanTable(view, { noTrunc: false, color: plain }).trimEnd().split("\n");
      assert.match(table[0]!, /^TARGET\s+STATE\s+MOUNT\s+SEVERITY\s+HOLDER\s+PIDS\s+NAMESPACE\s+CAUSE$/);
      assert.equal(table.length - 1, view.findings.length, "one row per finding");
      const targets = new Set(
        json.findings.map((f: { target: { kind: string; id?: string; name: string } }) =>
          f.target.kind === "volume" ? f.target.name : f.target.id,
        ),
      );
      const quiet = renderQuiet(view, true).trimEnd().split("\n");
      assert.deepEqual(new Set(quiet), targets, "-q --no-trunc lists each affected target once, full IDs");
      const short = new Set(
        json.findings.map((f: { target: { kind: string; id?: string; name: string } }) =>
          f.target.kind === "volume" ? f.target.name : f.target.id?.slice(0, 12),
        ),
      );
      assert.deepEqual(
        new Set(renderQuiet(view, false).trimEnd().split("\n")),
        short,
        "-q: short IDs, like docker ps -q",
      );
      for (const f of json.findings) {
        if (f.target.kind === "container") assert.match(f.target.id, /^[0-9a-f]{64}$/);
        assert.ok(Array.isArray(f.holder.pids) && f.holder.pids.length > 0);
        assert.equal(typeof f.cause.full, "string");
      }
    });
  }

  it("--no-trunc shows full IDs and mount points; the default truncates like docker ps", () => {
    const view = viewOf("shm-leaked-host");
    const f = view.findings[0]!;
    assert.equal(f.target.kind, "container");
    const full = renderScanTable(view, { noTrunc: true, color: plain });
    const short = renderScanTable(view, { noTrunc: false, color: plain });
    if (f.target.kind === "container") {
      // The TARGET cell (the mount point may name the ID in full: not shortened off a terminal).
      const target = (table: string) => table.split("\n")[1]!.split(/ {3,}/)[0];
      assert.equal(target(full), `${f.target.name} (${f.target.id})`);
      assert.equal(target(short), `${f.target.name} (${f.target.id.slice(0, 12)})`);
    }
    assert.ok(full.includes(f.mount!.mountPoint));
  });

  it("captured-only results exit 0 but are shown", () => {
    const view = viewOf("shm-captured");
    assert.ok(view.findings.every((f) => f.severity === "captured"));
    assert.equal(exitCodeOf(view), 0);
    assert.match(scanSummary(view, plain), /captured/);
  });

  it("the summary counts what was scanned", () => {
    assert.match(
      scanSummary(viewOf("shm-leaked-host"), plain),
      /^\d+ leaked across 1 target \(\d+ processes in \d+ mount namespaces scanned/,
    );
  });

  it("the summary says whether the findings block docker rm / docker volume rm on the daemon's kernel", () => {
    const held = viewOf("shm-leaked-host");
    assert.ok(scanSummary(held, plain).endsWith("; nothing blocks removal on this kernel"));
    // A mount below a volume's data in the daemon's own namespace blocks docker volume rm.
    assert.ok(scanSummary(viewOf("volume-stale"), plain).endsWith("; 1 finding blocks docker volume rm"));
    for (const f of held.findings) {
      if (f.cause.facts.removal) f.cause.facts.removal = { ...f.cause.facts.removal, blocks: "unknown" };
    }
    assert.ok(scanSummary(held, plain).endsWith("; removal may fail (fs.may_detach_mounts)"));
  });

  it("groups of one severity are ordered by name the same way on every machine", () => {
    const names = ["db_2", "Web", "db-10", "web", "DB", "app", "Ärger", "db"];
    assert.deepEqual([...names].sort(byName), ["app", "DB", "db", "db-10", "db_2", "Web", "web", "Ärger"]);
    fc.assert(
      fc.property(fc.array(fc.string()), (xs) => {
        const once = [...xs].sort(byName);
        // a total order: sorting again, or from the reverse, gives the same
        assert.deepEqual([...once].reverse().sort(byName), once);
      }),
    );
  });

  it("truncateMiddle keeps both ends", () => {
    assert.equal(truncateMiddle("/var/lib/docker/containers/abc/mounts/shm", 20), "/var/li…c/mounts/shm");
    assert.equal(truncateMiddle("short", 20), "short");
  });
});

/** A view of `name` whose first finding's holder, mount point and target carry hostile text. */
function hostileView(name: string, comm: string, mountPoint: string) {
  const view = viewOf(name);
  const f = view.findings[0]!;
  assert.ok(f.holder.leader && f.mount, "the fixture's first finding has a leader process and a mount");
  f.holder.leader.comm = comm;
  f.holder.leader.cmdline = [comm, "--evil\x1b]0;title\x07"];
  f.mount.mountPoint = mountPoint;
  return view;
}

const RAW_UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe("hostile text from the scanned system", () => {
  const comm = "sl\x1b[2J\neep";
  const mountPoint = "/tmp/x\x1b[31m\nFAKE ROW\u202e/containers/shm";

  it("a holder comm with ESC[2J and a newline stays in its row, visibly escaped, columns aligned", () => {
    const view = hostileView("shm-leaked-host", comm, mountPoint);
    for (const noTrunc of [false, true]) {
      const table = renderScanTable(view, { noTrunc, color: plain });
      const lines = table.trimEnd().split("\n");
      assert.equal(lines.length - 1, view.findings.length, "one row per finding: no forged rows");
      assert.doesNotMatch(table, RAW_UNSAFE, "no raw control character anywhere");
      const row = lines[1]!;
      assert.ok(row.includes("PID ") && row.includes("(sl\\x1b[2J\\neep)"), row);
      if (noTrunc) assert.ok(row.includes("/tmp/x\\x1b[31m\\nFAKE ROW\\u202e/containers/shm"), row);
      // Every cell starts where its header does, on every row (the escapes count in the widths).
      const header = lines[0]!;
      const starts = ["STATE", "MOUNT", "SEVERITY", "HOLDER", "PIDS", "NAMESPACE", "CAUSE"].map((h) =>
        header.indexOf(h),
      );
      for (const line of lines.slice(1)) {
        for (const at of starts) {
          assert.equal(line.slice(at - 3, at), "   ", `a column gap before ${at} in ${JSON.stringify(line)}`);
          assert.notEqual(line[at], " ", `a cell starts at ${at} in ${JSON.stringify(line)}`);
        }
      }
    }
  });

  it("the colour of a severity still paints the padded cell only", () => {
    const view = hostileView("shm-leaked-host", comm, mountPoint);
    const colored = renderScanTable(view, { noTrunc: false, color: makeChalk(1) });
    const plainRows = renderScanTable(view, { noTrunc: false, color: plain });
    assert.equal(colored.replace(/\x1b\[[0-9;]*m/g, ""), plainRows);
    assert.ok(colored.includes("\x1b[31m"), "severity colour kept");
  });

  it("renderTable: cells lengthened by escapes keep the columns aligned", () => {
    const rows = [
      ["a", "x"],
      ["\x1b\x1b", "y"],
      ["\u202e", "z"],
    ];
    const out = renderTable(
      [
        { header: "A", value: (r: string[]) => r[0]! },
        { header: "B", value: (r: string[]) => r[1]! },
      ],
      rows,
    );
    assert.equal(out, "A          B\na          x\n\\x1b\\x1b   y\n\\u202e     z\n");
  });

  it("JSON keeps the exact strings and shows no raw DEL, C1, separator or bidi character", () => {
    const nasty = `${comm}\x7f\x85\x9b\u2028\u2029\u202e\u2066`;
    const view = hostileView("shm-leaked-host", nasty, mountPoint);
    view.report.warnings.push("bad line \x1b[2J\u2028");
    const text = [...renderScanJson(view)].join("");
    assert.doesNotMatch(text.trimEnd(), /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/);
    const json = JSON.parse(text);
    assert.equal(json.findings[0].holder.leader.comm, nasty);
    assert.equal(json.findings[0].mount.mountPoint, mountPoint);
    assert.deepEqual(json.warnings, ["bad line \x1b[2J\u2028"]);
  });

  it("-q: container IDs as hex; a volume name Docker would not accept as one escaped word", () => {
    const view = viewOf("volume-leaked");
    const f = view.findings.find((x) => x.target.kind === "volume")!;
    assert.ok(f && f.target.kind === "volume");
    const valid = renderQuiet(view, false);
    assert.ok(valid.split("\n").includes(f.target.name), "a valid name is printed as it is");
    for (const x of view.findings)
      if (x.target.kind === "volume") x.target.name = "x important\n\x1b[2Jother";
    const quiet = renderQuiet(view, false);
    assert.doesNotMatch(quiet.trimEnd(), /[\s'"\x00-\x1f\x7f-\x9f]/, "no blank, quote or control within");
    assert.ok(quiet.split("\n").includes("x\\x20important\\x0a\\x1b\\x5b2Jother"), quiet);
    for (const line of quiet.trimEnd().split("\n")) assert.match(line, /^[A-Za-z0-9_.\\-]+$/);
  });
});

/**
 * The table on a terminal: fitted to its width (golden files at 80 and 140 columns, read by eye
 * when recorded), never wider at any width, and whole when not on a terminal.
 */
describe("the scan table fits the terminal", () => {
  const views = {
    kubernetes: () => {
      const { inventory, scan } = loadHandwritten("kubernetes-cgroup2");
      return scanView(analyze({ inventory, scan }));
    },
    "shm-leaked-container": () => viewOf("shm-leaked-container"),
  };
  const goldenPath = (name: string, width: number) => join(FIXTURES, "tables", `${name}-${width}.txt`);

  for (const [name, view] of Object.entries(views)) {
    for (const width of [80, 140]) {
      it(`${name} at ${width} columns is the golden table`, () => {
        const out = renderScanTable(view(), { noTrunc: false, color: plain, width });
        if (process.env.RECORD_TABLES === "1") writeFileSync(goldenPath(name, width), out);
        assert.equal(out, readFileSync(goldenPath(name, width), "utf8"));
      });
    }
  }

  it("no line is wider than the terminal at any width, coloured or not; every row stays", () => {
    const view = views.kubernetes();
    const color = makeChalk(3);
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 400 }), fc.boolean(), (width, colored) => {
        const out = renderScanTable(view, { noTrunc: false, color: colored ? color : plain, width });
        const lines = out.trimEnd().split("\n");
        assert.equal(lines.length, view.findings.length + 1);
        for (const l of lines) assert.ok(l.replace(/\x1b\[[0-9;]*m/g, "").length <= width, `${width}: ${l}`);
      }),
    );
  });

  it("not on a terminal, and with --no-trunc, nothing is shortened", () => {
    const view = views.kubernetes();
    for (const out of [
      renderScanTable(view, { noTrunc: false, color: plain }),
      renderScanTable(view, { noTrunc: true, color: plain, width: 80 }),
    ]) {
      assert.doesNotMatch(out, /…/);
      for (const f of view.findings) assert.ok(out.includes(f.mount!.mountPoint), f.mount!.mountPoint);
    }
  });
});

describe("what's next", () => {
  it("one command per kind of target, for the targets that have a command now", () => {
    assert.deepEqual(nextCommands(viewOf("shm-leaked-host")), [
      "docker leak rm --force-unmount dl-fixture-shm",
    ]);
    assert.deepEqual(nextCommands(viewOf("volume-stale")), [
      "docker leak volume rm --force-unmount dl-fixture-vol2",
    ]);
    assert.deepEqual(nextCommands(viewOf("shm-captured")), [], "a running owner: nothing to release yet");
    const { inventory, scan } = loadHandwritten("kubernetes-cgroup2");
    assert.deepEqual(nextCommands(scanView(analyze({ inventory, scan }))), [
      "docker leak rm --force-unmount batch",
    ]);
  });

  it("several targets in one command, every name quoted as needed", () => {
    const view = viewOf("shm-leaked-host");
    const f = view.findings[0]!;
    // A name Docker would refuse is replaced by the full ID; without one, it is quoted, after --.
    const other = { ...f, target: { ...f.target, id: "ab".repeat(32), name: "-x y" } };
    const odd = { ...f, target: { ...f.target, id: "not-an-id", name: "-x y" } };
    assert.deepEqual(nextCommands({ ...view, findings: [f, other] }), [
      `docker leak rm --force-unmount dl-fixture-shm ${"ab".repeat(32)}`,
    ]);
    assert.deepEqual(nextCommands({ ...view, findings: [f, odd] }), [
      "docker leak rm --force-unmount -- dl-fixture-shm '-x y'",
    ]);
  });

  it("the hint block reads like docker's", () => {
    assert.equal(
      scanHints(viewOf("shm-leaked-host")),
      "\nWhat's next:\n    Release and remove the containers → docker leak rm --force-unmount dl-fixture-shm\n",
    );
    assert.equal(scanHints(viewOf("shm-captured")), "");
  });
});
