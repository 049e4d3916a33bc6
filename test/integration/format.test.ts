/**
 * --format templates on a real leak (the private test daemon): scan's rows and `table`
 * headers, `rm --format` on a real removal, a bad template refused before anything is touched,
 * and version's fields against `docker version`'s.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  docker,
  dockerOk,
  hostMountinfoLines,
  kernelCopyRange,
  plugin,
  privateNamespaceHolder,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  waitForOwnNamespace,
} from "../support/daemon.js";

describe("--format TEMPLATE on a real leak", () => {
  const scope = new Scope();
  let name: string;
  let id: string;
  let holder: number;

  before(async () => {
    requireDaemon();
    // A stopped --ipc shareable container whose shm a private mount namespace holds.
    name = scope.container(uniqueName("format"));
    id = dockerOk(["run", "-d", "--name", name, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"]);
    holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    dockerOk(["stop", "-t", "0", name]);
    assert.ok(
      hostMountinfoLines(`${id}/mounts/shm`).some((l) => l.pid === holder),
      "recipe: the shm is held",
    );
  });
  after(() => scope.cleanup());

  it("scan --format '{{.Name}}\\t{{.Severity}}': one line per finding, tab-separated", () => {
    const r = plugin([
      "scan",
      "--format",
      '{{.Name}}\\t{{.Severity}}\\t{{join .PIDs ","}}\\t{{.Resource}}',
      name,
    ]);
    assert.equal(r.code, 3, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.ok(lines.length >= 1);
    for (const l of lines) assert.match(l, new RegExp(`^${name}\\tleaked\\t[0-9,]+\\t\\w`));
    assert.ok(
      lines.some((l) => l.split("\t")[2]!.split(",").includes(String(holder)) && l.endsWith("\tshm")),
      r.stdout,
    );
    assert.match(r.stderr, /leaked/, "the summary stays on stderr");
  });

  it("scan --format 'table …': docker's headers and aligned columns", () => {
    const r = plugin([
      "scan",
      "--format",
      "table {{.ID}}\\t{{.Name}}\\t{{.Severity}}\\t{{.MountPoint}}",
      name,
    ]);
    assert.equal(r.code, 3, r.stderr);
    const [header, ...rows] = r.stdout.trimEnd().split("\n");
    assert.match(header!, /^ID {13}NAME {3,}SEVERITY {3}MOUNT POINT$/);
    const cols = ["NAME", "SEVERITY", "MOUNT POINT"].map((h) => header!.indexOf(h));
    const shm = rows.find((l) => l.includes(`${id}/mounts/shm`));
    assert.ok(shm, r.stdout);
    assert.equal(shm.slice(0, 15), `${id.slice(0, 12)}   `);
    assert.equal(shm.slice(cols[0], cols[0]! + name.length), name);
    assert.equal(shm.slice(cols[1], cols[1]! + 6), "leaked");
    assert.equal(shm[cols[2]!], "/");
    // --no-trunc: full ID, as -q --no-trunc
    const full = plugin(["scan", "--no-trunc", "--format", "{{.ID}}", name]);
    assert.equal(new Set(full.stdout.trimEnd().split("\n")).size, 1);
    assert.equal(full.stdout.split("\n")[0], id);
  });

  it("scan --format '{{json .}}': one JSON object per finding with the documented fields", () => {
    const r = plugin(["scan", "--format", "{{json .}}", name]);
    assert.equal(r.code, 3, r.stderr);
    const rows = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    const shm = rows.find((x) => x.Resource === "shm");
    assert.ok(shm, r.stdout);
    assert.equal(shm.Name, name);
    assert.equal(shm.Kind, "container");
    assert.ok(shm.PIDs.includes(holder));
    assert.equal(typeof shm.Namespace, "number");
    assert.match(shm.Command, /^docker leak rm --force-unmount /);
  });

  it("rm with a bad template is refused before anything is unmounted or removed", () => {
    const copies = kernelCopyRange(name);
    const r = plugin(["rm", "--force-unmount", "--format", "{{.Nope}}", name]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /^docker leak: failed to parse template: .*can't evaluate field Nope in type removal row/,
    );
    assert.equal(docker(["inspect", name]).code, 0, "the container is still there");
    assert.equal(
      kernelCopyRange(name).min,
      copies.min,
      "its copies are still held (netns copies may go by themselves)",
    );
  });

  it("rm --force-unmount --format: one line per target on a real removal", () => {
    const r = plugin([
      "rm",
      "--force-unmount",
      "--format",
      "{{.Name}} {{.Status}} {{.Removed}} {{.Released}}",
      name,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${name} removed true [1-9]\\d*\\n$`));
    assert.notEqual(docker(["inspect", name]).code, 0, "removed");
    assert.ok(!hostMountinfoLines(`${id}/mounts/shm`).some((l) => l.pid === holder), "released");
  });

  it("version --format '{{.Server.Version}}' agrees with docker version", () => {
    const r = plugin(["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `${dockerOk(["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"])}\n`,
    );
  });
});
