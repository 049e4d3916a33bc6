/**
 * src/cli/interrupts.ts with a stand-in process: SIGINT/SIGTERM abort the work and report; a
 * closed stdout (EPIPE) aborts it silently as SIGPIPE and, past the cleanup bound, exits 141; any
 * other stdout error stays a crash.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { installInterrupts } from "../../src/cli/interrupts.js";

class FakeProcess extends EventEmitter {
  readonly stdout = new EventEmitter();
  readonly exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
}

const errno = (code: string) => Object.assign(new Error(`write ${code}`), { code, syscall: "write" });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function install(cleanupMs = 30) {
  const proc = new FakeProcess();
  const reports: string[] = [];
  const interrupts = installInterrupts(proc as unknown as NodeJS.Process, (m) => reports.push(m), cleanupMs);
  return { proc, reports, interrupts };
}

describe("installInterrupts", () => {
  it("a closed stdout stops the work silently as SIGPIPE, and exits 141 once if the cleanup hangs", async () => {
    const { proc, reports, interrupts } = install();
    assert.equal(interrupts.interrupted, false);
    proc.stdout.emit("error", errno("EPIPE"));
    proc.stdout.emit("error", errno("EPIPE")); // every later write fails too
    assert.equal(interrupts.signal.aborted, true);
    assert.equal(interrupts.by, "SIGPIPE");
    assert.deepEqual(reports, []);
    assert.deepEqual(proc.exits, []);
    await tick(60);
    assert.deepEqual(proc.exits, [141]);
  });

  it("any other stdout error is still thrown", () => {
    const { proc, interrupts } = install();
    assert.throws(() => proc.stdout.emit("error", errno("ENOSPC")), /ENOSPC/);
    assert.equal(interrupts.interrupted, false);
  });

  it("SIGTERM aborts and says so; a second signal exits 130 at once", () => {
    const { proc, reports, interrupts } = install(10_000);
    proc.emit("SIGTERM", "SIGTERM");
    assert.equal(interrupts.signal.aborted, true);
    assert.equal(interrupts.by, "SIGTERM");
    assert.deepEqual(reports, ["docker leak: interrupted by SIGTERM, cleaning up"]);
    proc.emit("SIGINT", "SIGINT");
    assert.deepEqual(proc.exits, [130]);
  });

  it("a closed stdout after a signal changes nothing", () => {
    const { proc, interrupts } = install(10_000);
    proc.emit("SIGINT", "SIGINT");
    proc.stdout.emit("error", errno("EPIPE"));
    assert.equal(interrupts.by, "SIGINT");
    assert.deepEqual(proc.exits, []);
  });
});
