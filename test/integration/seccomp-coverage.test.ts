/**
 * The helper's seccomp allowlist covers every system call the helper makes, for both builds:
 * amd64 is proven by every helper run on the private daemon; arm64 (no arm64 daemon here) is
 * checked by running the arm64 build under qemu-user with -strace and comparing the names.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { helperSyscalls } from "../../src/docker/seccomp.js";
import { REPO_ROOT, uniqueName } from "../support/daemon.js";

const ARM64 = join(REPO_ROOT, "build", "helper", "docker-leak-helper-linux-arm64");
const QEMU = "qemu-aarch64-static";
const ARM64_UNNAMED: Record<number, string> = { 293: "rseq" };
const haveQemu = spawnSync(QEMU, ["--version"]).status === 0;

/** The syscall names qemu's -strace printed for one run of the arm64 helper. */
function syscallsOf(args: string[]): Set<string> {
  const run = spawnSync(QEMU, ["-strace", ARM64, ...args], { encoding: "utf8", maxBuffer: 256 << 20 });
  const names = new Set<string>();
  for (const line of run.stderr.split("\n")) {
    const m = /^\d+ ([a-z_0-9]+)\(/.exec(line);
    if (m?.[1]) names.add(m[1]);
    // qemu has no name for some calls; glibc's start-up registers rseq (293 on arm64).
    const unknown = /^\d+ Unknown syscall (\d+)/.exec(line);
    if (unknown?.[1]) names.add(ARM64_UNNAMED[Number(unknown[1])] ?? `syscall ${unknown[1]}`);
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
      // qemu-user cannot always follow setns into another namespace; the calls made on the way
      // (fork, setns, chroot, umount2 or their failure) are what is counted.
      assertCovered("umount", syscallsOf(["umount", `${holder.pid}:1:${dir}`]));
    } finally {
      holder.kill("SIGKILL");
    }
  });
});
