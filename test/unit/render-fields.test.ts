/**
 * The rows `--format TEMPLATE` sees for scan, rm / volume rm and version (render/fields.ts):
 * made from the same data as the table and JSON renderings, escaped like them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { analyze } from "../../src/model/analyze.js";
import type { RemovalReport } from "../../src/model/removal.js";
import {
  REMOVAL_FIELDS,
  removalRows,
  SCAN_FIELDS,
  scanRows,
  VERSION_FIELDS,
  versionRow,
} from "../../src/render/fields.js";
import { renderQuiet, renderScanJson, scanView } from "../../src/render/scan.js";
import {
  type OutputFormat,
  parseFormat,
  type Row,
  renderTemplate,
  type Schema,
} from "../../src/render/template.js";
import { loadFixture } from "./fixtures.js";

function viewOf(name: string) {
  const { inventory, scan } = loadFixture(name);
  return scanView(analyze({ inventory, scan, now: new Date("2026-11-27T00:00:00Z") }));
}
const render = (format: string, schema: Schema, rows: readonly Row[]) => {
  const f = parseFormat(format, schema);
  assert.equal(f.kind, "template");
  return renderTemplate(f as Extract<OutputFormat, { kind: "template" }>, rows);
};
const RAW_UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe("scan rows", () => {
  for (const name of ["shm-leaked-host", "shm-leaked-container", "volume-leaked", "shm-captured"]) {
    it(`${name}: one row per finding, agreeing with -q and the JSON output`, () => {
      const view = viewOf(name);
      for (const noTrunc of [false, true]) {
        const ids = render("{{.ID}}", SCAN_FIELDS, scanRows(view, noTrunc)).trimEnd().split("\n");
        assert.equal(ids.length, view.findings.length);
        assert.deepEqual([...new Set(ids)], renderQuiet(view, noTrunc).trimEnd().split("\n"));
      }
      const json = JSON.parse([...renderScanJson(view)].join(""));
      const rows = render("{{json .}}", SCAN_FIELDS, scanRows(view, true))
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l));
      rows.forEach((r, i) => {
        const f = json.findings[i];
        assert.equal(r.Severity, f.severity);
        assert.deepEqual(r.PIDs, f.holder.pids);
        assert.equal(r.Namespace, f.holder.namespace);
        assert.equal(r.MountPoint, f.mount?.mountPoint ?? f.resource.path);
        assert.equal(r.Kind, f.target.kind);
        assert.equal(r.Cause, f.cause.full, "--no-trunc: the full cause");
      });
      assert.deepEqual(
        Object.keys(rows[0]),
        Object.keys(SCAN_FIELDS.fields),
        "every documented field, in order",
      );
    });
  }

  it("table TEMPLATE: docker's headers and columns", () => {
    const view = viewOf("shm-leaked-host");
    const out = render(
      'table {{.Name}}\\t{{.Severity}}\\t{{join .PIDs ","}}\\t{{.MountPoint}}',
      SCAN_FIELDS,
      scanRows(view, false),
    );
    const [header, ...lines] = out.trimEnd().split("\n");
    assert.match(header!, /^NAME {3,}SEVERITY {3,}PIDS {3,}MOUNT POINT$/);
    assert.equal(lines.length, view.findings.length);
    const at = header!.indexOf("SEVERITY");
    for (const l of lines) assert.match(l.slice(at), /^(leaked|stale|pinned|captured) /);
  });

  it("hostile text from the system stays escaped in template output, exact in json", () => {
    const view = viewOf("shm-leaked-host");
    const f = view.findings[0]!;
    assert.ok(f.holder.leader && f.mount);
    f.holder.leader.comm = "sl\x1b[2J\neep";
    f.mount.mountPoint = "/tmp/x\x1b[31m\nFAKE ROW\u202e/shm";
    const out = render(
      "{{.Holder}}\\t{{.MountPoint}}\\t{{upper .Mount}}",
      SCAN_FIELDS,
      scanRows(view, false),
    );
    assert.doesNotMatch(out.replaceAll("\t", ""), RAW_UNSAFE);
    assert.equal(out.split("\n").length, view.findings.length + 1, "no forged row");
    assert.ok(out.includes("(sl\\x1b[2J\\neep)\t/tmp/x\\x1b[31m\\nFAKE ROW\\u202e/shm"), out);
    const json = render("{{json .MountPoint}}", SCAN_FIELDS, scanRows(view, false)).split("\n")[0]!;
    assert.doesNotMatch(json, RAW_UNSAFE);
    assert.equal(JSON.parse(json), f.mount.mountPoint);
  });
});

describe("removal rows", () => {
  const report: RemovalReport = {
    kind: "container",
    dryRun: false,
    forceUnmount: true,
    targets: [
      {
        ref: "web",
        kind: "container",
        id: "7d63588e88f1aaaa7d63588e88f1aaaa7d63588e88f1aaaa7d63588e88f1aaaa",
        name: "web",
        status: "removed",
        stopped: false,
        removed: true,
        orders: [],
        released: 2,
        detached: 0,
        remaining: [],
        failures: [],
        reason: null,
      },
      {
        ref: "db\x1b[2J",
        kind: "container",
        id: null,
        name: "db\x1b[2J",
        status: "refused",
        stopped: false,
        removed: false,
        orders: [],
        released: 0,
        detached: 0,
        remaining: [],
        failures: ["busy\nFAKE"],
        reason: "container is running",
      },
    ],
    restarted: [],
    warnings: [],
  };

  it("one row per target, in the order named, escaped", () => {
    assert.equal(
      render(
        '{{.Ref}} {{.Status}} {{.Released}} {{.Removed}} {{.Reason}} {{join .Failures ";"}}',
        REMOVAL_FIELDS,
        removalRows(report),
      ),
      "web removed 2 true  \ndb\\x1b[2J refused 0 false container is running busy\\nFAKE\n",
    );
    assert.equal(
      render("{{.ID}}", REMOVAL_FIELDS, removalRows(report)).split("\n")[0],
      report.targets[0]!.id,
    );
    assert.equal(
      render("table {{.Name}}\\t{{.Status}}", REMOVAL_FIELDS, removalRows(report)),
      "NAME        STATUS\nweb         removed\ndb\\x1b[2J   refused\n",
    );
  });
});

describe("version row", () => {
  const row = versionRow(
    "0.1.0",
    {
      version: "20.10.24",
      apiVersion: "1.41",
      minApiVersion: "1.12",
      os: "linux",
      arch: "amd64",
      kernelVersion: "6.1",
    },
    { rootDir: "/var/lib/docker", driver: "overlay2" } as Parameters<typeof versionRow>[2],
    { host: "unix:///var/run/docker.sock", context: "default", source: "default" },
  );
  it("nested like docker version's", () => {
    assert.equal(
      render(
        "{{.Plugin.Version}} {{.Server.Version}} {{.Server.APIVersion}} {{.Server.RootDir}} {{.Endpoint.Context}}",
        VERSION_FIELDS,
        [row],
      ),
      "0.1.0 20.10.24 1.41 /var/lib/docker default\n",
    );
    assert.deepEqual(JSON.parse(render("{{json .Server}}", VERSION_FIELDS, [row])).Driver, "overlay2");
    assert.throws(
      () => parseFormat("{{.Client.Version}}", VERSION_FIELDS),
      /can't evaluate field Client in type version \(fields: Plugin, Server, Endpoint\)/,
    );
  });
});
