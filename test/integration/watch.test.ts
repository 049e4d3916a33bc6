/**
 * `docker leak watch` on real leaks: a holder made while its victim runs, the victim stopped →
 * a finding line naming both; the leak released elsewhere → `released`; a burst of stops → all
 * found with a few helper runs (counted from the daemon's own events); --release frees a leak and
 * leaves a running container's captured copy alone; --metrics-file parses as Prometheus text;
 * SIGINT/SIGTERM → 130/143 with no helper left; its output closed → 141, silently, no helper left.
 */
import assert from "node:assert/strict";
import type { ChildProcessByStdio } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { LABEL_HELPER } from "../../src/docker/helper-image.js";
import {
  dockerOk,
  hostMountinfoLines,
  plugin,
  pluginAsync,
  privateNamespaceHolder,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  waitForOwnNamespace,
} from "../support/daemon.js";
import { helperContainers } from "../support/helper.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON lines, checked field by field
type Line = Record<string, any>;

/** A running watch, its JSON lines collected as they come. */
class Watch {
  readonly lines: Line[] = [];
  stderr = "";
  readonly exited: Promise<[number | null, string | null]>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;

  constructor(args: string[]) {
    this.child = pluginAsync(["watch", "--format", "json", ...args]);
    let buffer = "";
    this.child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString("utf8");
      for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
        this.lines.push(JSON.parse(buffer.slice(0, nl)));
        buffer = buffer.slice(nl + 1);
      }
    });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr += d.toString("utf8");
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code, sig) => resolve([code, sig])));
  }

  /** Waits for a line (bounded generously: the bound is not what is tested). */
  async line(what: string, ok: (l: Line) => boolean, seconds = 60): Promise<Line> {
    for (let i = 0; i < seconds * 20; i++) {
      const found = this.lines.find(ok);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(
      `no ${what} line; got:\n${this.lines.map((l) => JSON.stringify(l)).join("\n")}\n${this.stderr}`,
    );
  }

  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<[number | null, string | null]> {
    this.child.kill(signal);
    return this.exited;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }

  /** Closes the read end of its stdout, as `| head -1` does once it has its line. */
  closeOutput(): void {
    this.child.stdout.destroy();
  }

  /** Its exit, waited for at most `seconds` (generous: the bound is not what is tested). */
  async exit(seconds = 60): Promise<[number | null, string | null]> {
    const late = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`still running after ${seconds} s:\n${this.stderr}`)),
        seconds * 1000,
      ).unref(),
    );
    return Promise.race([this.exited, late]);
  }
}

const findingOf = (id: string, severity: string) => (l: Line) =>
  l.finding?.target?.id === id && l.finding.severity === severity;

/** A running `--ipc shareable` container (its shm is a tmpfs the daemon made). */
function shareable(scope: Scope, what: string): { name: string; id: string } {
  const name = scope.container(uniqueName(what));
  const id = dockerOk(["run", "-d", "--name", name, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"]);
  return { name, id };
}

const heldBy = (id: string, pid: number) => hostMountinfoLines(`${id}/mounts/shm`).some((l) => l.pid === pid);

/** Helper containers the daemon created since `since` (its own events: nothing can hide one). */
function helperCreations(since: string): number {
  const out = dockerOk([
    "events",
    "--since",
    since,
    "--until",
    String(Math.floor(Date.now() / 1000) + 1),
    "--filter",
    "type=container",
    "--filter",
    "event=create",
    "--filter",
    `label=${LABEL_HELPER}`,
    "--format",
    "{{.ID}}",
  ]);
  return out.split("\n").filter(Boolean).length;
}

async function noHelpersLeft(): Promise<string[]> {
  for (let i = 0; i < 100 && helperContainers().length; i++) await new Promise((r) => setTimeout(r, 100));
  return helperContainers();
}

describe("docker leak watch", () => {
  const scope = new Scope();
  const watches: Watch[] = [];
  const started = (w: Watch) => {
    watches.push(w);
    return w;
  };
  let dir: string;

  before(() => {
    requireDaemon();
    dir = mkdtempSync(join(tmpdir(), "dlt-watch-"));
  });
  after(() => {
    for (const w of watches) w.kill();
    scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a victim stopped while a holder has a copy: a finding naming both; rm --force-unmount elsewhere: released", async () => {
    const victim = shareable(scope, "watch-victim");
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    const metrics = join(dir, "watch.prom");
    const w = started(new Watch(["--metrics-file", metrics]));
    const captured = await w.line("captured", findingOf(victim.id, "captured"));
    assert.equal(captured.event.type, "watch");
    assert.equal(captured.event.action, "start");

    dockerOk(["stop", "-t", "0", victim.name]);
    const leaked = await w.line(
      "leaked",
      (l) => findingOf(victim.id, "leaked")(l) && l.finding.resource.kind === "shm",
    );
    assert.ok(["die", "stop"].includes(leaked.event.action), leaked.event.action);
    assert.equal(leaked.event.id, victim.id);
    assert.equal(leaked.event.name, victim.name);
    assert.ok(leaked.finding.holder.pids.includes(holder), JSON.stringify(leaked.finding.holder.pids));
    assert.match(leaked.time, /^\d{4}-\d\d-\d\dT/);

    // Metrics, as Prometheus reads them.
    const families = parsePrometheusTextFormat(readFileSync(metrics, "utf8"));
    const family = (name: string) => families.find((f) => f.name === name);
    const value = (name: string, labels: Record<string, string> = {}) =>
      Number(
        family(name)?.metrics.find((m) =>
          Object.entries(labels).every(
            ([k, v]) => (m.labels as Record<string, string> | undefined)?.[k] === v,
          ),
        )?.value,
      );
    assert.ok(value("docker_leak_scans_total", { result: "ok" }) >= 2);
    assert.ok(value("docker_leak_findings", { severity: "leaked" }) >= 1);
    assert.ok(value("docker_leak_findings_by_resource", { severity: "leaked", resource: "shm" }) >= 1);
    assert.equal(value("docker_leak_daemon_reachable"), 1);
    assert.ok(value("docker_leak_last_success_timestamp_seconds") > Date.now() / 1000 - 600);
    assert.equal(family("docker_leak_scan_duration_seconds")?.type, "SUMMARY");
    assert.equal(value("docker_leak_releases_total", { result: "done" }), 0);

    const rm = plugin(["rm", "--force-unmount", victim.name]);
    assert.equal(rm.code, 0, rm.stderr);
    const released = await w.line("released", (l) => l.released?.target?.id === victim.id);
    assert.equal(released.event.action, "destroy");
    assert.equal(await w.stop("SIGINT").then(([code]) => code), 130);
    assert.deepEqual(await noHelpersLeft(), []);
  });

  it("50 containers stopped at once: every one found, with only a few helper runs", async () => {
    const victims = Array.from({ length: 50 }, (_, i) => shareable(scope, `watch-burst${i}`));
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    const w = started(new Watch([]));
    for (const v of victims) await w.line("captured", findingOf(v.id, "captured"), 120);
    const since = String(Math.floor(Date.now() / 1000));
    await new Promise((r) => setTimeout(r, 1100)); // the events of the start scan are before `since`
    dockerOk(["stop", "-t", "0", ...victims.map((v) => v.name)]);
    for (const v of victims) await w.line("leaked", findingOf(v.id, "leaked"), 120);
    const runs = helperCreations(since);
    assert.ok(runs >= 1 && runs <= 6, `${runs} helper runs for 50 stops`);
    assert.equal((await w.stop("SIGTERM"))[0], 143);
    assert.deepEqual(await noHelpersLeft(), []);
    dockerOk(["rm", "-f", ...victims.map((v) => v.name)]);
  });

  it("--release frees a leak at once and leaves a running container's captured copy alone", async () => {
    const victim = shareable(scope, "watch-release");
    const running = shareable(scope, "watch-running");
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    assert.ok(heldBy(victim.id, holder) && heldBy(running.id, holder), "recipe: both held");
    const w = started(new Watch(["--release"]));
    await w.line("captured", findingOf(running.id, "captured"));
    // Idle for longer than the connection's socket timeout (5 s): the event stream must outlive it.
    await new Promise((r) => setTimeout(r, 6000));
    dockerOk(["stop", "-t", "0", victim.name]);
    const action = await w.line("release", (l) => l.release?.finding?.target?.id === victim.id);
    // Its netns copy may go by itself first (Docker removes the file a while after the stop).
    const acceptable = action.release.finding.resource.kind === "netns" ? ["released", "gone"] : ["released"];
    assert.ok(acceptable.includes(action.release.result), JSON.stringify(action.release));
    await w.line("released", (l) => l.released?.target?.id === victim.id);
    assert.ok(!heldBy(victim.id, holder), "the leaked copy is gone from the holder's namespace");
    assert.ok(heldBy(running.id, holder), "the running container's copy is untouched");
    assert.ok(!w.lines.some((l) => l.release?.finding?.target?.id === running.id));
    assert.equal((await w.stop("SIGINT"))[0], 130);
  });

  it("its output closed: at the next line it exits 141 without a word, no helper container left", async () => {
    const victim = shareable(scope, "watch-closed");
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    const w = started(new Watch(["--interval", "200ms"]));
    await w.line("captured", findingOf(victim.id, "captured"));
    w.closeOutput();
    // The leak's line is written to the closed pipe.
    dockerOk(["stop", "-t", "0", victim.name]);
    const [code] = await w.exit();
    assert.equal(code, 141, w.stderr);
    assert.doesNotMatch(w.stderr, /EPIPE|internal error|\n\s+at |Unhandled/);
    assert.deepEqual(await noHelpersLeft(), []);
  });

  it("an interrupt in the middle of a scan: exit 130 at once, no helper container left", async () => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const w = started(new Watch(["--interval", "200ms"]));
      // Wait until a helper is running, then interrupt.
      for (let i = 0; i < 400 && helperContainers().length === 0; i++)
        await new Promise((r) => setTimeout(r, 25));
      const [code] = await w.stop(signal);
      assert.equal(code, signal === "SIGINT" ? 130 : 143, w.stderr);
      assert.doesNotMatch(w.stderr, /internal error|\n\s+at /);
      assert.deepEqual(await noHelpersLeft(), []);
    }
  });
});
