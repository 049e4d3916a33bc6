/**
 * The helper's seccomp allowlist covers every system call the helper makes, for both builds:
 * amd64 is proven by every helper run on the private daemon; arm64 (no arm64 daemon here) is
 * checked by running the arm64 build under qemu-user with -strace and comparing the names
 * (its workers included: qemu-user follows forks and prints their calls with their PIDs).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { helperSyscalls } from "../../src/docker/seccomp.js";
import { REPO_ROOT, uniqueName } from "../support/daemon.js";

const ARM64 = join(REPO_ROOT, "build", "helper", "docker-leak-helper-linux-arm64");
const QEMU = "qemu-aarch64-static";
const ARM64_UNNAMED: Record<number, string> = { 293: "rseq", 437: "openat2" };
const haveQemu = spawnSync(QEMU, ["--version"]).status === 0;

/** The syscall names qemu's -strace printed for one run of the arm64 helper. */
function syscallsOf(args: string[], check?: (stdout: string) => void): Set<string> {
  const run = spawnSync(QEMU, ["-strace", ARM64, ...args], { encoding: "utf8", maxBuffer: 256 << 20 });
  check?.(run.stdout);
  const names = new Set<string>();
  // qemu prints each call as "PID name(args" and then " = result\n"; the helper's workers run at
  // the same time, so pieces of several processes interleave within lines: every "PID name(" is
  // a call, wherever it starts.
  for (const m of run.stderr.matchAll(/(?:^|[^\w])\d+ ([a-z][a-z_0-9]*)\(/gm)) names.add(m[1]!);
  // qemu has no name for some calls; glibc's start-up registers rseq (293 on arm64).
  for (const m of run.stderr.matchAll(/(?:^|[^\w])\d+ Unknown syscall (\d+)/gm)) {
    names.add(ARM64_UNNAMED[Number(m[1])] ?? `syscall ${m[1]}`);
  }
  assert.ok(names.has("exit_group"), `qemu -strace printed no calls: ${run.stderr.slice(0, 300)}`);
  return names;
}

function assertCovered(mode: "scan" | "umount" | "version", used: Set<string>): void {
  const allowed = new Set(helperSyscalls(mode));
  const missing = [...used].filter((n) => !allowed.has(n));
  assert.deepEqual(missing, [], `${mode}: the arm64 helper calls what the allowlist refuses`);
}

describe("the seccomp allowlist covers the arm64 helper (under qemu-user)", {
  skip: !haveQemu && `${QEMU} missing`,
}, () => {
  const dir = `/tmp/${uniqueName("seccomp-umount")}`;
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("version", () => assertCovered("version", syscallsOf(["version"])));

  it("scan --deep --layers", () => {
    assertCovered("scan", syscallsOf(["scan", "--filter", "/var/lib/docker", "--deep", "--layers", "/tmp"]));
  });

  it("umount (one child per order, joining a real holder's namespace)", async () => {
    mkdirSync(dir, { recursive: true });
    const holder = spawn(
      "unshare",
      ["-m", "--propagation", "private", "sh", "-c", `mount -t tmpfs dlt-sc ${dir} && exec sleep 60`],
      { stdio: "ignore" },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      const pid = holder.pid!;
      const line = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
        .split("\n")
        .find((l) => l.includes(" dlt-sc "));
      assert.ok(line, "the holder's tmpfs is mounted");
      const start = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19];
      const ns = statSync(`/proc/${pid}/ns/mnt`).ino;
      // A real order (the helper's own fingerprint: FNV-1a of the line, all ASCII here). Under
      // qemu-user the child's setns fails (EINVAL: qemu's own threads make the process
      // multi-threaded), so what follows it (chroot, openat2, statx, fchdir, umount2) is counted
      // only on amd64 (helper-binary.test.ts runs it all); the calls made up to setns are checked.
      let fp = 0xcbf29ce484222325n;
      for (const b of Buffer.from(line)) fp = ((fp ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
      const order = `ns=${ns} id=${line.split(" ")[0]} fp=${fp.toString(16).padStart(16, "0")} pids=${pid}@${start} mp=${dir}`;
      const reachedChild = (stdout: string) => {
        assert.match(stdout, /"type":"result"/, stdout);
        assert.doesNotMatch(stdout, /"stage":"(parse|open)"/, "the order reached the child");
      };
      assertCovered("umount", syscallsOf(["umount", order], reachedChild));
    } finally {
      holder.kill("SIGKILL");
    }
  });
});
