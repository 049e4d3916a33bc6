/**
 * Text an unprivileged user controls, end to end: a real leak whose holder process has ESC and a
 * newline in its name (comm and command line) and holds a copy of the leaked shm at a mount
 * point with ESC and a newline in it. The table, the removal report and the dry-run plan must
 * show it escaped, one row per finding; JSON must keep the exact strings; -q prints the ID only.
 *
 * Other sessions may use the daemon at the same time: assertions look only at this file's
 * container (named scans) and holder.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { escapeForTerminal } from "../../src/render/escape.js";
import {
  dockerOk,
  plugin,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  unshareHolder,
} from "../support/daemon.js";
import { type JsonRun, scanJson } from "../support/scan.js";

/**
 * The executable's name, hence the holder's comm (14 bytes: the kernel keeps 15): ESC, a
 * newline, a C1 CSI (which JSON.stringify leaves raw) and a right-to-left override.
 */
const COMM = "h\x1b[31mX\nY\x9b\u202e";
/** Where the holder binds the host's /: its copy of the shm is below it. */
const MOUNT_DIR_NAME = "mnt\x1b[31m\nFAKE ROW\u2028\x85";

/** Raw characters no terminal output may carry (a newline only ends lines). */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}

describe("hostile process names and mount points are shown escaped, kept exact in JSON", () => {
  const scope = new Scope();
  const name = uniqueName("hostile");
  let id = "";
  let holder = 0;
  let dir = "";
  let mountDir = "";
  let scan: JsonRun;

  before(async () => {
    requireDaemon();
    dir = mkdtempSync(join(tmpdir(), "dlt-hostile-"));
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    const binary = join(dir, COMM);
    copyFileSync("/usr/bin/sleep", binary);
    mountDir = join(dir, MOUNT_DIR_NAME);

    scope.container(name);
    id = dockerOk(["run", "-d", "--name", name, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"]);
    // In a private mount namespace: bind the host's / (with the running container's shm) at the
    // hostile directory, then become the hostile executable.
    holder = unshareHolder(scope, [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mkdir -p "$1" && mount --rbind / "$1" && exec "$2" 600',
      "sh",
      mountDir,
      binary,
    ]);
    await waitFor("the holder to run as the hostile executable", () =>
      readOr(`/proc/${holder}/comm`, "").startsWith(COMM),
    );
    assert.equal(readFileSync(`/proc/${holder}/comm`, "utf8"), `${COMM}\n`, "the kernel's comm");
    assert.ok(readFileSync(`/proc/${holder}/mountinfo`, "utf8").includes(`/containers/${id}/mounts/shm`));
    dockerOk(["stop", "-t", "0", id]);
    await waitFor(
      "the daemon to unmount the shm",
      () => !readFileSync("/proc/self/mountinfo", "utf8").includes(`/containers/${id}/mounts/`),
    );
    scan = scanJson([name]);
  });
  after(() => scope.cleanup());

  const ours = () => scan.json.findings.filter((f) => f.holder.pids.includes(holder));
  // The held network namespace files go by themselves when Docker's network code removes them
  // (a periodic clean-up, within about a minute of the stop): later runs may see fewer findings
  // than the scan above, never fewer than its shm copies, which stay until the removal.
  const shmFindings = () => scan.json.findings.filter((f) => f.resource.kind === "shm").length;
  const between = (n: number, what: string) => {
    assert.ok(n >= shmFindings() && n <= scan.json.findings.length, `${what}: ${n} findings`);
  };

  it("--format json parses and keeps the comm, command line and mount point exactly", () => {
    assert.equal(scan.code, 3, scan.stderr);
    const found = ours();
    assert.ok(found.length >= 2, `the shm at its own path and below the hostile bind: ${scan.stdout}`);
    for (const f of found) {
      assert.equal(f.severity, "leaked");
      assert.equal(f.holder.leader?.comm, COMM);
      assert.deepEqual(f.holder.leader?.cmdline, [join(dir, COMM), "600"]);
    }
    const below = found.find((f) => f.mount?.mountPoint.startsWith(`${mountDir}/`));
    assert.ok(below, `a copy below ${JSON.stringify(mountDir)}: ${scan.stdout}`);
    assert.ok(below.mount!.mountPoint.endsWith(`/containers/${id}/mounts/shm`), below.mount!.mountPoint);
    // The document is one line: every control inside strings is escaped.
    assert.ok(!RAW_CONTROL.test(scan.stdout) && scan.stdout.indexOf("\n") === scan.stdout.length - 1);
    assert.doesNotMatch(scan.stderr, RAW_CONTROL);
  });

  it("the table has one line per finding, escapes visible, no raw control character", () => {
    for (const args of [[], ["--no-trunc"]]) {
      const r = plugin(["scan", ...args, name]);
      assert.equal(r.code, 3, r.stderr);
      const lines = r.stdout.trimEnd().split("\n");
      between(lines.length - 1, `header + one row per finding:\n${r.stdout}`);
      assert.equal(lines.filter((l) => /\bshm \//.test(l)).length, shmFindings(), r.stdout);
      assert.doesNotMatch(r.stdout, RAW_CONTROL, r.stdout);
      assert.doesNotMatch(r.stderr, RAW_CONTROL, r.stderr);
      const shownComm = `(${escapeForTerminal(COMM)})`;
      assert.equal(shownComm, "(h\\x1b[31mX\\nY\\x9b\\u202e)");
      assert.ok(lines.filter((l) => l.includes(`PID ${holder} ${shownComm}`)).length >= 2, r.stdout);
      if (args.length) {
        assert.ok(r.stdout.includes(escapeForTerminal(mountDir)), `the mount point, escaped:\n${r.stdout}`);
      }
    }
  });

  it("-q prints only the container's short ID", () => {
    const q = plugin(["scan", "-q", name]);
    assert.equal(q.code, 3, q.stderr);
    assert.equal(q.stdout, `${id.slice(0, 12)}\n`);
  });

  it("rm's report and --dry-run plan show the holder and mount point escaped, one line each", () => {
    const held = plugin(["rm", name]);
    assert.equal(held.code, 3, held.stderr);
    assert.doesNotMatch(held.stdout + held.stderr, RAW_CONTROL);
    const lines = held.stdout.trimEnd().split("\n");
    const heldCount = Number(new RegExp(`^${name}: not removed: (\\d+) mounts held`).exec(lines[0]!)?.[1]);
    between(heldCount, held.stdout);
    assert.equal(lines.length, 1 + heldCount, held.stdout);
    assert.ok(
      lines.some((l) => l.includes(`PID ${holder} (${escapeForTerminal(COMM)})`)),
      held.stdout,
    );
    assert.match(held.stderr, new RegExp(`\`docker leak rm --force-unmount ${name}\``));

    const plan = plugin(["rm", "--force-unmount", "--dry-run", name]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.doesNotMatch(plan.stdout + plan.stderr, RAW_CONTROL);
    const rows = plan.stdout.trimEnd().split("\n");
    assert.match(rows[0]!, /^TARGET\s+ACTION\s+NAMESPACE\s+PIDS\s+OWNER\s+MOUNT ID\s+MOUNT POINT$/);
    const planned = Number(
      new RegExp(`^${name}: would be released from (\\d+) leaked mounts?, removed$`).exec(rows.at(-1)!)?.[1],
    );
    between(planned, plan.stdout);
    assert.equal(rows.length, 2 + planned, plan.stdout);
    assert.ok(plan.stdout.includes(escapeForTerminal(mountDir)), plan.stdout);
    assert.ok(
      dockerOk(["ps", "-aq", "--no-trunc", "--filter", `name=^${name}$`]).includes(id),
      "still there",
    );
  });
});
