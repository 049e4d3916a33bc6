/** The fleet's workflow (failures and interrupts) and its renderings, on recorded fixtures. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { makeChalk } from "../../src/cli/color.js";
import { contextNames, fleetProgress, parseParallel, refuseFleetFlags } from "../../src/cli/fleet.js";
import type { CoreDeps } from "../../src/core/deps.js";
import { DaemonTimeoutError, type FleetMember, runFleetScan } from "../../src/core/fleet.js";
import type { DockerClient } from "../../src/docker/client.js";
import { listContextNames } from "../../src/docker/endpoint.js";
import { DaemonError, InterruptedError, UsageError } from "../../src/errors.js";
import { analyze } from "../../src/model/analyze.js";
import { FLEET_SCAN_FIELDS, SCAN_FIELDS } from "../../src/render/fields.js";
import {
  fleetExitCode,
  fleetRows,
  fleetSummary,
  fleetView,
  renderFleetJson,
  renderFleetQuiet,
  renderFleetTable,
} from "../../src/render/fleet.js";
import { parseFormat, renderTemplate, TemplateError } from "../../src/render/template.js";
import { FakeDocker } from "../support/fake-docker.js";
import { fakeHelper, loadFixture } from "./fixtures.js";

const plain = makeChalk(0);
const reportOf = (name: string) => {
  const { inventory, scan } = loadFixture(name);
  return analyze({ inventory, scan, now: new Date("2026-11-27T00:00:00Z") });
};

describe("fleet renderings", () => {
  const leaked = reportOf("shm-leaked-host");
  const other = reportOf("volume-leaked");
  const fleet = fleetView([
    { context: "prod-1", endpoint: "ssh://root@prod-1", report: leaked },
    { context: "gone", endpoint: "unix:///nonexistent.sock", error: "Cannot connect \x1b[31m" },
    { context: "prod-2", endpoint: "tcp://10.0.0.2:2376", report: other },
  ]);

  it("JSON: an entry per daemon, with its status, error and the single-daemon report", () => {
    const doc = JSON.parse([...renderFleetJson(fleet)].join(""));
    assert.equal(doc.schemaVersion, 1);
    assert.deepEqual(
      doc.daemons.map((d: { context: string; status: string; error: string | null }) => [
        d.context,
        d.status,
        d.error === null,
      ]),
      [
        ["prod-1", "ok", true],
        ["gone", "error", false],
        ["prod-2", "ok", true],
      ],
    );
    assert.equal(doc.daemons[1].report, null);
    assert.equal(doc.daemons[0].endpoint, "ssh://root@prod-1");
    assert.equal(doc.daemons[0].report.schemaVersion, 1);
    assert.equal(doc.daemons[0].report.findings.length, leaked.findings.length);
    assert.equal(doc.daemons[2].report.findings.length, other.findings.length);
  });

  it("table: CONTEXT first, every daemon's findings; quiet: context/ID", () => {
    const table = renderFleetTable(fleet, { noTrunc: false, color: plain }).trimEnd().split("\n");
    assert.match(table[0]!, /^CONTEXT\s+TARGET\s+STATE\s+MOUNT/);
    assert.equal(table.length - 1, leaked.findings.length + other.findings.length);
    assert.ok(table.some((l) => l.startsWith("prod-1 ")));
    assert.ok(table.some((l) => l.startsWith("prod-2 ")));
    const quiet = renderFleetQuiet(fleet, false).trimEnd().split("\n");
    assert.ok(quiet.length >= 2);
    for (const line of quiet) assert.match(line, /^prod-[12]\/\S+$/);
  });

  it("--format TEMPLATE: every daemon's rows, .Context naming the daemon; a plain scan has no .Context", () => {
    const format = parseFormat("table {{.Context}}\\t{{.Severity}}", FLEET_SCAN_FIELDS);
    assert.equal(format.kind, "template");
    if (format.kind !== "template") return;
    const lines = renderTemplate(format, fleetRows(fleet, false)).trimEnd().split("\n");
    assert.match(lines[0]!, /^CONTEXT\s+SEVERITY$/);
    const contexts = lines.slice(1).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(contexts, [
      ...leaked.findings.map(() => "prod-1"),
      ...other.findings.map(() => "prod-2"),
    ]);
    assert.throws(() => parseFormat("{{.Context}}", SCAN_FIELDS), TemplateError);
  });

  it("stderr: a line per daemon, the failed one escaped; exit 3 over 1", () => {
    const summary = fleetSummary(fleet, plain);
    assert.equal(summary.trimEnd().split("\n").length, 3);
    assert.match(summary, /^gone: error: Cannot connect \\x1b\[31m$/m);
    assert.equal(fleetExitCode(fleet), 3);
    const onlyFailed = fleetView([
      { context: "a", endpoint: "x", report: { ...leaked, findings: [] } },
      { context: "b", endpoint: "y", error: "down" },
    ]);
    assert.equal(fleetExitCode(onlyFailed), 1);
    assert.equal(
      fleetExitCode(fleetView([{ context: "a", endpoint: "x", report: { ...leaked, findings: [] } }])),
      0,
    );
  });
});

describe("runFleetScan", () => {
  const failing = (context: string, seen: string[]): FleetMember => ({
    context,
    endpoint: `unix:///${context}.sock`,
    connect: () => {
      seen.push(context);
      throw new DaemonError(`cannot reach ${context}`);
    },
  });

  it("a daemon that fails is reported in its entry while the others go on, in order", async () => {
    const seen: string[] = [];
    const states: string[] = [];
    const results = await runFleetScan(
      ["a", "b", "c"].map((c) => failing(c, seen)),
      { scan: { targets: [], deep: false }, parallel: 2, onState: (c, s) => states.push(`${c}:${s}`) },
    );
    assert.deepEqual(
      results.map((r) => [r.context, r.status, (r.error as Error).message]),
      [
        ["a", "error", "cannot reach a"],
        ["b", "error", "cannot reach b"],
        ["c", "error", "cannot reach c"],
      ],
    );
    assert.deepEqual(seen, ["a", "b", "c"]);
    assert.ok(states.includes("c:failed") && states.includes("a:waiting"));
  });

  it("an interrupt starts no more scans and ends in InterruptedError", async () => {
    const abort = new AbortController();
    const seen: string[] = [];
    const members = ["a", "b", "c"].map((c) => failing(c, seen));
    members[0] = {
      ...members[0]!,
      connect: () => {
        seen.push("a");
        abort.abort();
        throw new InterruptedError("SIGINT");
      },
    };
    await assert.rejects(
      runFleetScan(members, { scan: { targets: [], deep: false }, parallel: 1, signal: abort.signal }),
      InterruptedError,
    );
    assert.deepEqual(seen, ["a"]);
  });
});

describe("runFleetScan: each daemon's deadline", { timeout: 10_000 }, () => {
  const helper = fakeHelper();
  const scan = { targets: [], deep: false };
  /** A daemon that accepted the connection and never answers anything. */
  const stuck = (): DockerClient =>
    new Proxy(
      { endpoint: { host: "unix:///stuck.sock", context: "stuck", source: "the test", configDir: "/x" } },
      {
        get: (target, key) =>
          key in target ? target[key as keyof typeof target] : () => new Promise(() => undefined),
      },
    ) as unknown as DockerClient;
  const deps = (docker: DockerClient): CoreDeps => ({
    docker,
    helperDir: helper.dir,
    version: "0.1.0",
    now: () => new Date("2026-12-02T00:00:00Z"),
  });
  const member = (context: string, docker: () => DockerClient): FleetMember => ({
    context,
    endpoint: `unix:///${context}.sock`,
    connect: () => deps(docker()),
  });
  /** Timers fired by the test: `fire(ms)` fires those set for ms. */
  const manualTimers = () => {
    const pending: { ms: number; fire: () => void; live: boolean }[] = [];
    return {
      setTimer: (ms: number, fire: () => void) => {
        const t = { ms, fire, live: true };
        pending.push(t);
        return () => {
          t.live = false;
        };
      },
      fire(ms: number) {
        for (const t of pending.splice(0))
          if (t.live && t.ms === ms) t.fire();
          else if (t.live) pending.push(t);
      },
      live: (ms: number) => pending.filter((t) => t.live && t.ms === ms).length,
    };
  };

  it("a daemon that never answers times out in its entry; the other is reported", async () => {
    const timers = manualTimers();
    const running = runFleetScan(
      [member("stuck", stuck), member("ok", () => helper.docker("shm-leaked-host"))],
      { scan, parallel: 8, deadlineMs: 5000, setTimer: timers.setTimer },
    );
    // The working daemon finishes first (its deadline cancelled); the stuck one waits for its own.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(timers.live(5000), 1);
    timers.fire(5000);
    const results = await running;
    assert.equal(results[1]!.status, "ok");
    assert.ok(results[1]!.report!.findings.length > 0);
    assert.equal(results[0]!.status, "error");
    assert.ok(results[0]!.error instanceof DaemonTimeoutError);
    assert.equal(
      (results[0]!.error as Error).message,
      "timed out after 5s: the scan of this daemon was stopped",
    );
  });

  it("a helper run past the deadline is stopped and its container removed before the entry is given up", async () => {
    const timers = manualTimers();
    const removed: string[] = [];
    class HangingHelper extends FakeDocker {
      override async startContainer(): Promise<void> {
        // started, never exits
      }
      override async removeContainer(id: string): Promise<void> {
        // The daemon takes a moment: the entry must wait for it.
        await new Promise((r) => setTimeout(r, 30));
        removed.push(id);
      }
    }
    const base = helper.docker("shm-leaked-host");
    const hanging = Object.setPrototypeOf(base, HangingHelper.prototype) as FakeDocker;
    const states: string[] = [];
    const running = runFleetScan([member("slow", () => hanging)], {
      scan,
      parallel: 1,
      deadlineMs: 1000,
      setTimer: timers.setTimer,
      onState: (_, state, event) => states.push(event ? `${state}:${event.kind}` : state),
    });
    // Until the helper runs.
    for (let i = 0; i < 100 && !states.includes("scanning:scan"); i++)
      await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    timers.fire(1000);
    const [result] = await running;
    assert.ok(result!.error instanceof DaemonTimeoutError, String(result!.error));
    assert.equal(removed.length, 1, "the helper container was removed");
    assert.equal(timers.live(15_000), 0, "the grace ended with the scan, not by giving up");
    assert.equal(states.at(-1), "failed");
  });

  it("without a deadline nothing is timed; a fast daemon's deadline is cancelled", async () => {
    const timers = manualTimers();
    const [r] = await runFleetScan([member("ok", () => helper.docker("shm-leaked-host"))], {
      scan,
      parallel: 1,
      deadlineMs: 3000,
      setTimer: timers.setTimer,
    });
    assert.equal(r!.status, "ok");
    assert.equal(timers.live(3000), 0);
  });
});

describe("fleet flags", () => {
  it("--context takes repeats and comma lists, each once", () => {
    assert.deepEqual(contextNames(["a,b", "c", "a"]), ["a", "b", "c"]);
    assert.throws(() => contextNames(["a,,b"]), UsageError);
  });
  it("--parallel is a positive number", () => {
    assert.equal(parseParallel("3"), 3);
    for (const bad of ["0", "-1", "x", "1.5"]) assert.throws(() => parseParallel(bad), UsageError);
  });
  it("rm and volume rm refuse --context, --all-contexts and --swarm; scan takes them", () => {
    assert.throws(() => refuseFleetFlags(["rm"], ["--all-contexts", "x"]), /rm works on one daemon/);
    assert.throws(() => refuseFleetFlags(["volume", "rm"], ["--context=a", "v"]), UsageError);
    assert.throws(() => refuseFleetFlags(["rm"], ["--swarm"]), UsageError);
    refuseFleetFlags(["rm"], ["x", "--", "--context"]);
    refuseFleetFlags(["scan"], ["--context", "a"]);
  });
  it("contexts are listed like docker context ls: default first, then the store's by name", () => {
    const meta = (name: string) =>
      JSON.stringify({ Name: name, Endpoints: { docker: { Host: "unix:///x" } } });
    const id = (n: string) => createHash("sha256").update(n).digest("hex");
    const files: Record<string, string> = {
      [`/cfg/contexts/meta/${id("zeta")}/meta.json`]: meta("zeta"),
      [`/cfg/contexts/meta/${id("alpha")}/meta.json`]: meta("alpha"),
      "/cfg/contexts/meta/0000/meta.json": meta("mismatched"),
    };
    const names = listContextNames("/cfg", () => [id("zeta"), id("alpha"), "0000"], {
      readFile: (p) => files[p],
      exists: (p) => p in files,
    });
    assert.deepEqual(names, ["default", "alpha", "zeta"]);
  });
});

describe("fleet progress", () => {
  const capture = () => {
    const stream = Object.assign(new PassThrough(), { columns: 40 });
    let text = "";
    stream.on("data", (c: Buffer) => {
      text += c.toString();
    });
    return { stream, text: () => text };
  };
  it("on a terminal: one line per daemon, redrawn in place, escaped, cleared at the end", async () => {
    const out = capture();
    const p = fleetProgress("auto", out.stream, true, ["a", "b\x1b[2J"]);
    p.update("a", "scanning");
    await new Promise((r) => setTimeout(r, 80));
    p.update("a", "done");
    await new Promise((r) => setTimeout(r, 80));
    p.done();
    const text = out.text();
    assert.match(text, /a: scanning\n/);
    assert.match(text, /\x1b\[2A\r\x1b\[2Ka: done\n/, "moves up over both lines and redraws");
    assert.ok(text.includes("b\\x1b[2J: waiting"), "a context name cannot drive the terminal");
    assert.ok(text.endsWith("\x1b[2A\r\x1b[J"), "cleared before the results");
  });
  it("piped: nothing unless --progress plain, which writes each change once", () => {
    const quiet = capture();
    const q = fleetProgress("auto", quiet.stream, false, ["a"]);
    q.update("a", "scanning");
    q.done();
    assert.equal(quiet.text(), "");
    const plain = capture();
    const p = fleetProgress("plain", plain.stream, false, ["a"]);
    p.update("a", "scanning");
    p.update("a", "scanning");
    p.update("a", "failed");
    assert.equal(plain.text(), "a: scanning\na: failed\n");
  });
});
