/**
 * The helper binary (build/helper/docker-leak-helper-linux-amd64) run directly on the host as
 * root, without Docker, against namespaces, mounts and processes the tests make: protocol 2
 * records, namespace filtering, escaping and limits, unmount orders and their refusals, a
 * symlink-swap race, stopped FUSE servers, and old kernels (emulated by a seccomp filter that
 * answers statx and openat2 with ENOSYS: test/support/enosys-exec.c).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { arch, release, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { helperSyscalls } from "../../src/docker/seccomp.js";
import { REPO_ROOT, Scope, uniqueName, unshareHolder, waitForOwnNamespace } from "../support/daemon.js";

/** DLT_HELPER_BINARY: another build to test (e.g. a deliberately broken one). */
const HELPER =
  process.env.DLT_HELPER_BINARY ?? join(REPO_ROOT, "build", "helper", "docker-leak-helper-linux-amd64");
const VERSION: string = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).version;
const onHost = process.getuid?.() === 0 && arch() === "x64";
const haveBindfs = spawnSync("bindfs", ["--version"]).status === 0 && existsSync("/dev/fuse");
const haveStrace = spawnSync("strace", ["-V"]).status === 0;
/** statx reports mount IDs from Linux 5.8; before, the helper verifies through fdinfo. */
const [kMajor = 0, kMinor = 0] = release().split(".").map(Number);
const NATIVE_VERIFY = kMajor > 5 || (kMajor === 5 && kMinor >= 8) ? "statx" : "fdinfo";

// biome-ignore lint/suspicious/noExplicitAny: records are checked field by field
type AnyRecord = Record<string, any>;

interface HelperRun {
  code: number | null;
  stdout: string;
  stderr: string;
  records: AnyRecord[];
  ms: number;
}

/** Runs the helper (behind `prefix`, e.g. the ENOSYS launcher) and parses its NDJSON. */
function helper(args: string[], prefix: string[] = [], timeout = 60_000): HelperRun {
  const argv = [...prefix, HELPER, ...args];
  const t0 = Date.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout, maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  const records = r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, records, ms: Date.now() - t0 };
}

/** A mountinfo line as the helper prints it: every byte below 0x20 or from 0x7f as \NNN. */
function escapeLine(raw: Buffer): string {
  let s = "";
  for (const b of raw)
    s += b < 0x20 || b >= 0x7f ? `\\${b.toString(8).padStart(3, "0")}` : String.fromCharCode(b);
  return s;
}

/** The kernel's mountinfo of `pid`, escaped as the helper escapes it. */
function mountinfo(pid: number): string[] {
  const raw = readFileSync(`/proc/${pid}/mountinfo`);
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a) {
      if (i > start) lines.push(escapeLine(raw.subarray(start, i)));
      start = i + 1;
    }
  }
  return lines;
}

function lineWith(pid: number, needle: string): string {
  const line = mountinfo(pid).find((l) => l.includes(needle));
  assert.ok(line, `no mount with ${needle} in ${pid}`);
  return line;
}

const isMounted = (pid: number, needle: string) => mountinfo(pid).some((l) => l.includes(needle));

/** 64-bit FNV-1a of an (escaped, ASCII) mountinfo line, as 16 hex digits. */
function fingerprint(line: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(line, "latin1")) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, "0");
}

function startTime(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
}

function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]!;
  } catch {
    return "gone";
  }
}

/** System call numbers of the calls the stall tests wait in, by architecture. */
const SYSCALLS: Record<string, Record<string, number>> = {
  x64: { read: 0, mmap: 9 },
  arm64: { read: 63, mmap: 222 },
};

/**
 * Whether `pid` sleeps uninterruptibly inside system call `name`. The state alone is not enough:
 * a process also sleeps in D while the kernel pages its program in from a cold disk.
 */
function blockedIn(pid: number, name: "read" | "mmap"): boolean {
  if (procState(pid) !== "D") return false;
  try {
    const nr = readFileSync(`/proc/${pid}/syscall`, "latin1").split(" ")[0];
    return Number(nr) === SYSCALLS[process.arch]![name];
  } catch {
    return false;
  }
}

const nsOf = (pid: number | "self") => statSync(`/proc/${pid}/ns/mnt`).ino;

function devString(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** An umount order for the mount carrying `needle` in `holder`'s namespace. */
function orderFor(
  holder: number,
  needle: string,
  o: { pids?: [number, number][]; ns?: number; mp?: string } = {},
): { order: string; id: number; mp: string; line: string } {
  const line = lineWith(holder, needle);
  const f = line.split(" ");
  const mp = o.mp ?? f[4]!;
  const pids = (o.pids ?? [[holder, startTime(holder)]]).map(([p, s]) => `${p}@${s}`).join(",");
  const order = `ns=${o.ns ?? nsOf(holder)} id=${f[0]} fp=${fingerprint(line)} pids=${pids} mp=${mp}`;
  return { order, id: Number(f[0]), mp, line };
}

const results = (run: HelperRun) => run.records.filter((r) => r.type === "result");

async function until(what: string, cond: () => boolean, ms = 15000): Promise<void> {
  for (const t0 = Date.now(); !cond(); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/** The reference selection of a filtered namespace record (PROTOCOL.md), computed here. */
function expectedFiltered(lines: string[], filters: string[], rootDev: string): string[] {
  const f = lines.map((l) => l.split(" "));
  const byId = new Map(f.map((x, i) => [x[0]!, i]));
  const initial = lines.map((l, i) => filters.some((s) => l.includes(s)) || f[i]![2] === rootDev);
  const selected = [...initial];
  initial.forEach((sel, i) => {
    if (!sel) return;
    for (let j = byId.get(f[i]![1]!); j !== undefined && !selected[j]; j = byId.get(f[j]![1]!)) {
      selected[j] = true;
    }
  });
  return lines.filter((_, i) => selected[i]);
}

const scope = new Scope();
let work: string;
let enosysExec: string;

describe("the helper binary on the host", { skip: !onHost && "needs root on x86_64" }, () => {
  before(() => {
    assert.ok(existsSync(HELPER), `${HELPER} missing: build it with scripts/build-helper.sh --arch amd64`);
    work = mkdtempSync(join(tmpdir(), "dlt-hb-"));
    enosysExec = join(work, "enosys-exec");
    execFileSync("gcc", ["-O2", "-o", enosysExec, join(REPO_ROOT, "test/support/enosys-exec.c")]);
  });
  after(() => {
    scope.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** Runs `script` with sh in a new private mount namespace (unshare ARGS); returns the PID of
   * its final exec (`exec sleep …`). */
  async function inPrivateNamespace(
    script: string,
    o: { args?: string[]; env?: NodeJS.ProcessEnv } = {},
  ): Promise<number> {
    const args = [...(o.args ?? ["-m", "--propagation", "private"]), "sh", "-c", script];
    let pid: number;
    if (o.env) {
      const child = spawn("unshare", args, {
        stdio: "ignore",
        detached: true,
        env: { ...process.env, ...o.env },
      });
      child.unref();
      pid = scope.process(child.pid!);
    } else {
      pid = unshareHolder(scope, args);
    }
    await waitForOwnNamespace(pid);
    return pid;
  }

  /** A fresh directory under /tmp, removed at the end. */
  function tmpDir(what: string): string {
    const dir = `/tmp/${uniqueName(what)}`;
    mkdirSync(dir, { recursive: true });
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  describe("scan", () => {
    it("speaks protocol 2: version, self, process, namespace and summary records", async () => {
      assert.deepEqual(helper(["version"]).records, [{ type: "version", version: VERSION, protocol: 2 }]);
      const holder = await inPrivateNamespace("exec sleep 600");
      const run = helper(["scan", "--filter", "/nonexistent-filter"]);
      assert.equal(run.code, 0, run.stderr);
      const [self, ...rest] = run.records;
      assert.deepEqual(Object.keys(self!), ["type", "pid", "ppid", "mntns", "rootDev"]);
      assert.equal(self!.type, "self");
      assert.equal(self!.ppid, process.pid, "its parent: us");
      assert.equal(self!.mntns, nsOf("self"));
      assert.equal(self!.rootDev, devString(statSync("/", { bigint: true }).dev));
      assert.ok(
        rest.some((r) => r.type === "process" && r.pid === self!.pid),
        "the helper reports itself",
      );

      const proc = rest.find((r) => r.type === "process" && r.pid === holder)!;
      assert.deepEqual(Object.keys(proc), [
        "type",
        "pid",
        "ppid",
        "start",
        "comm",
        "cmdline",
        "cmdlineTruncated",
        "mntns",
        "root",
        "cgroup",
      ]);
      assert.equal(proc.start, startTime(holder));
      assert.deepEqual([proc.comm, proc.cmdline, proc.cmdlineTruncated], ["sleep", ["sleep", "600"], false]);
      assert.equal(proc.mntns, nsOf(holder));
      assert.equal(proc.root, "/");

      const ns = rest.find((r) => r.type === "namespace" && r.mntns === nsOf(holder))!;
      assert.deepEqual(Object.keys(ns), ["type", "mntns", "pids", "readVia", "full", "dropped", "mountinfo"]);
      assert.deepEqual([ns.pids, ns.readVia, ns.full, ns.dropped], [[holder], holder, false, 0]);

      const summary = rest.at(-1)!;
      const count = (t: string) => rest.filter((r) => r.type === t).length;
      assert.deepEqual(summary, {
        type: "summary",
        processes: count("process"),
        namespaces: count("namespace"),
        skipped: count("skipped"),
        pinned: 0,
        pinnedDropped: 0,
        stalled: 0,
      });
      const types = new Set(["process", "namespace", "skipped", "summary"]);
      assert.deepEqual(
        rest.filter((r) => !types.has(r.type)),
        [],
      );
    });

    it("reports its parent's namespace whole, and in others the filtered lines, the root device's and their ancestors", async () => {
      const dir = tmpDir("anc");
      const leaf = uniqueName("leaf");
      // Q: a/b/c nested, c matches the filter; a sibling and /proc match nothing; a bind of / is
      // on the helper's root device.
      const q = await inPrivateNamespace(
        `mkdir -p ${dir}/a ${dir}/sib ${dir}/rd && mount -t tmpfs dlt-anc-a ${dir}/a && ` +
          `mkdir ${dir}/a/b && mount -t tmpfs dlt-anc-b ${dir}/a/b && mkdir ${dir}/a/b/c && ` +
          `mount -t tmpfs ${leaf} ${dir}/a/b/c && mount -t tmpfs dlt-anc-sib ${dir}/sib && ` +
          `mount --bind / ${dir}/rd && exec sleep 600`,
      );
      // P: the helper's parent (a shell) lives there.
      const p = await inPrivateNamespace(
        `mkdir -p ${dir}/p && mount -t tmpfs dlt-anc-p ${dir}/p && exec sleep 600`,
      );
      // The kernel's lines can change under us on a busy host (another daemon renaming a
      // directory above a mount changes its mount point): compare against lines read just before
      // and just after the helper's, and read again when those two differ.
      let fromP = spawnSync("true", { encoding: "utf8" });
      for (let attempt = 0; attempt < 5; attempt++) {
        const before = [mountinfo(p), mountinfo(q)];
        fromP = spawnSync(
          "nsenter",
          ["-t", String(p), "-m", "sh", "-c", `"${HELPER}" scan --filter ${leaf}; exit $?`],
          { encoding: "utf8", maxBuffer: 256 << 20 },
        );
        if (JSON.stringify(before) === JSON.stringify([mountinfo(p), mountinfo(q)])) break;
      }
      const records: AnyRecord[] = fromP.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const self = records[0]!;
      assert.equal(self.mntns, nsOf(p), "the helper ran in P");
      const nsRec = (pid: number) => records.find((r) => r.type === "namespace" && r.mntns === nsOf(pid))!;

      const pRec = nsRec(p);
      assert.equal(pRec.full, true, "the parent's namespace");
      assert.deepEqual(pRec.mountinfo, mountinfo(p), "every line, in the kernel's order");

      const qRec = nsRec(q);
      assert.equal(qRec.full, false);
      const qLines = mountinfo(q);
      assert.deepEqual(qRec.mountinfo, expectedFiltered(qLines, [leaf], self.rootDev));
      const has = (needle: string) => qRec.mountinfo.some((l: string) => l.includes(needle));
      assert.ok(has(` ${leaf} `) && has(" dlt-anc-b ") && has(" dlt-anc-a "), "the leaf and its ancestors");
      assert.ok(has(` ${dir}/rd `), "the bind of / (the root device)");
      assert.ok(!has(" dlt-anc-sib ") && !has(" /proc "), "nothing else");
      const rootLine = qLines.find((l) => l.split(" ")[4] === "/")!;
      assert.ok(qRec.mountinfo.includes(rootLine), "/ is an ancestor");

      // The same scan from here: P is now just another namespace, filtered.
      const fromHere = helper(["scan", "--filter", leaf]);
      const pHere = fromHere.records.find((r) => r.type === "namespace" && r.mntns === nsOf(p))!;
      assert.equal(pHere.full, false);
      assert.deepEqual(pHere.mountinfo, expectedFiltered(mountinfo(p), [leaf], self.rootDev));
      assert.ok(!pHere.mountinfo.some((l: string) => l.includes(" dlt-anc-p ")));
      // No filter: every namespace whole.
      const unfiltered = helper(["scan"]);
      const qAll = unfiltered.records.find((r) => r.type === "namespace" && r.mntns === nsOf(q))!;
      assert.deepEqual([qAll.full, qAll.mountinfo], [true, mountinfo(q)]);
    });

    it("escapes control bytes, DEL and non-ASCII in mountinfo lines, and DEL in JSON strings", async () => {
      const dir = tmpDir("esc");
      const path = `${dir}/e\x1bsc\nnl\x7fdel-é`;
      mkdirSync(path);
      const source = uniqueName("esc");
      // The path reaches the shell through the environment, byte for byte (UTF-8 for é).
      await inPrivateNamespace(`mount -t tmpfs ${source} "$DLT_DIR" && exec sleep 600`, {
        env: { DLT_DIR: path },
      });
      const del = spawn("sleep", ["600"], { argv0: "dlt\x7fdel", stdio: "ignore", detached: true });
      del.unref();
      scope.process(del.pid!);
      await until("the renamed sleep", () =>
        readFileSync(`/proc/${del.pid}/cmdline`, "latin1").startsWith("dlt"),
      );

      const run = helper(["scan", "--filter", source]);
      const lines = run.records.filter((r) => r.type === "namespace").flatMap((r) => r.mountinfo ?? []);
      const line = lines.find((l: string) => l.includes(source));
      assert.ok(line, "the mount is reported");
      assert.equal(line.split(" ")[4], `${dir}/e\\033sc\\012nl\\177del-\\303\\251`);
      for (const l of lines) assert.match(l, /^[\x20-\x7e]*$/, "printable ASCII only");
      // In JSON, DEL is \u007f (JSON.parse would hide the difference: look at the bytes).
      assert.ok(run.stdout.includes('"cmdline":["dlt\\u007fdel","600"]'), "DEL escaped in the cmdline");
      assert.ok(!run.stdout.includes("\x7f"), "no raw DEL anywhere");
    });

    it("cuts command lines at --cmdline-max (default 4096 bytes)", async () => {
      // GNU sleep sums its arguments: 3000 zeros make a 6010-byte command line.
      const args = ["600", ...Array<string>(3000).fill("0")];
      const child = spawn("sleep", args, { stdio: "ignore", detached: true });
      child.unref();
      const pid = scope.process(child.pid!);
      await until("sleep", () => readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "sleep");
      const full = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      assert.equal(full.length, 6010);
      const split = (s: string) => (s.endsWith("\0") ? s.slice(0, -1) : s).split("\0");
      const recordOf = (extra: string[]) =>
        helper(["scan", "--filter", "/nonexistent-filter", ...extra]).records.find(
          (r) => r.type === "process" && r.pid === pid,
        )!;
      for (const [extra, max, truncated] of [
        [[], 4096, true],
        [["--cmdline-max", "10"], 10, true],
        [["--cmdline-max=6009"], 6009, true],
        [["--cmdline-max", "6010"], 6010, false],
        [["--cmdline-max", "100000"], 6010, false],
      ] as const) {
        const rec = recordOf([...extra]);
        assert.deepEqual(rec.cmdline, split(full.slice(0, max)), `${extra}`);
        assert.equal(rec.cmdlineTruncated, truncated, `${extra}`);
      }
      assert.equal(helper(["scan", "--cmdline-max", "0"]).code, 2, "a usage error");
    });

    it("leaves out a mountinfo line longer than 65536 bytes once escaped, and counts it", async () => {
      const dir = tmpDir("long");
      const source = uniqueName("long");
      // 66 components of 255 bytes 0xff: each byte escapes to 4, so the line passes 67000 bytes.
      // (bash: dash cannot cd deeper than PATH_MAX)
      const holder = await inPrivateNamespace(
        `cd ${dir} && exec bash -c 'c=$(printf "\\377%.0s" $(seq 255)); ` +
          `for i in $(seq 66); do mkdir "$c" && cd "$c" || exit 1; done; ` +
          `mkdir leaf && mount -t tmpfs ${source} leaf && exec sleep 600'`,
      );
      scope.defer(() => spawnSync("rm", ["-rf", dir]));
      const run = helper(["scan", "--filter", source]);
      const ns = run.records.find((r) => r.type === "namespace" && r.mntns === nsOf(holder))!;
      assert.equal(
        ns.mountinfo.some((l: string) => l.includes(source)),
        false,
      );
      assert.equal(ns.dropped, 1);
      assert.deepEqual(
        ns.mountinfo,
        expectedFiltered(mountinfo(holder), [source], run.records[0]!.rootDev).filter(
          (l) => l.length <= 65536,
        ),
      );
      const kernelLine = mountinfo(holder).find((l) => l.includes(source))!;
      assert.ok(kernelLine.length > 65536, `${kernelLine.length}`);
    });

    it("--deep reports at most 1000 pinned files per process and counts the rest", async () => {
      const dir = tmpDir("many");
      // bash: cwd and 1001 descriptors on a tmpfs that is then detached.
      const holder = await inPrivateNamespace(
        `mount -t tmpfs dlt-many ${dir} && cd ${dir} && echo x > f && ` +
          `exec bash -c 'for i in $(seq 10 1010); do eval "exec $i<f"; done; umount -l ${dir} && exec sleep 600'`,
      );
      const run = helper(["scan", "--filter", "/nonexistent-filter", "--deep"]);
      assert.equal(run.code, 0, run.stderr);
      const pinned = run.records.filter((r) => r.type === "pinned" && r.pid === holder);
      assert.equal(pinned.length, 1000);
      assert.deepEqual(pinned[0]!.kind, "cwd");
      assert.deepEqual(
        pinned.slice(1).map((p) => p.fd),
        Array.from({ length: 999 }, (_, i) => i + 10),
        "cwd, then fds ascending",
      );
      const summary = run.records.at(-1)!;
      assert.equal(summary.pinnedDropped, 2, "fds 1009 and 1010");
      assert.equal(summary.pinned, run.records.filter((r) => r.type === "pinned").length);
    });
  });

  describe("umount", () => {
    let dir: string;
    let holder: number;
    const source = uniqueName("um");
    before(async () => {
      dir = tmpDir("um");
      mkdirSync(`${dir}/m`);
      holder = await inPrivateNamespace(`mount -t tmpfs ${source} ${dir}/m && exec sleep 600`);
    });
    /** Mounts the tmpfs again in the holder's namespace if an earlier test took it. */
    function remount(): void {
      if (!isMounted(holder, ` ${source} `)) {
        execFileSync("nsenter", ["-t", String(holder), "-m", "mount", "-t", "tmpfs", source, `${dir}/m`]);
      }
    }

    it("unmounts the ordered mount in a private namespace, verified on the descriptor", () => {
      remount();
      const { order, id } = orderFor(holder, ` ${source} `);
      const run = helper(["umount", order]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.records, [
        {
          type: "result",
          index: 0,
          pid: holder,
          mountId: id,
          mountPoint: `${dir}/m`,
          ok: true,
          verifiedBy: NATIVE_VERIFY,
        },
        { type: "summary", orders: 1, ok: 1, failed: 0 },
      ]);
      assert.equal(isMounted(holder, ` ${source} `), false, "gone from the holder's namespace");
      assert.equal(procState(holder), "S", "the holder still runs");
    });

    it("refuses a member whose start time differs (another process now) and unmounts nothing", () => {
      remount();
      const { order, id } = orderFor(holder, ` ${source} `, { pids: [[holder, startTime(holder) + 1]] });
      const [r] = results(helper(["umount", order]));
      assert.deepEqual(r, {
        type: "result",
        index: 0,
        pid: null,
        mountId: id,
        mountPoint: `${dir}/m`,
        ok: false,
        stage: "open",
        errno: "ESRCH",
        message: `no usable member: PID ${holder} is now another process (start time ${startTime(holder)} != ${startTime(holder) + 1})`,
        locked: false,
      });
      assert.ok(isMounted(holder, ` ${source} `));
    });

    it("refuses a member that is not in the ordered namespace", () => {
      remount();
      const { order } = orderFor(holder, ` ${source} `, { ns: nsOf("self") });
      const [r] = results(helper(["umount", order]));
      assert.deepEqual([r!.ok, r!.stage, r!.errno, r!.pid], [false, "open", "ESTALE", null]);
      assert.equal(
        r!.message,
        `no usable member: PID ${holder} is not in mount namespace ${nsOf("self")} (it is in ${nsOf(holder)})`,
      );
      assert.ok(isMounted(holder, ` ${source} `));
    });

    it("falls back to the next member when the first is gone; none usable: pid null", async () => {
      remount();
      // (not given to the scope: it is gone before the end, and its PID may be reused by then)
      const first = spawn("nsenter", ["-t", String(holder), "-m", "sleep", "600"], { stdio: "ignore" });
      await until(
        "the first member",
        () => procState(first.pid!) !== "gone" && nsOf(first.pid!) === nsOf(holder),
      );
      const firstStart = startTime(first.pid!);
      first.kill("SIGKILL");
      await exited(first);
      const both: [number, number][] = [
        [first.pid!, firstStart],
        [holder, startTime(holder)],
      ];
      const none = orderFor(holder, ` ${source} `, { pids: [both[0]!, [holder, startTime(holder) + 7]] });
      const ok = orderFor(holder, ` ${source} `, { pids: both });
      const run = helper(["umount", none.order, ok.order]);
      const [r0, r1] = results(run);
      assert.deepEqual([r0!.index, r0!.pid, r0!.stage, r0!.errno], [0, null, "open", "ESRCH"]);
      assert.equal(
        r0!.message,
        `no usable member: PID ${first.pid} is gone; PID ${holder} is now another process (start time ${startTime(holder)} != ${startTime(holder) + 7})`,
      );
      assert.deepEqual([r1!.index, r1!.pid, r1!.ok, r1!.verifiedBy], [1, holder, true, NATIVE_VERIFY]);
      assert.equal(isMounted(holder, ` ${source} `), false);
      assert.deepEqual(run.records.at(-1), { type: "summary", orders: 2, ok: 1, failed: 1 });
    });

    it("refuses malformed orders at stage parse, with what could be parsed", () => {
      remount();
      const good = orderFor(holder, ` ${source} `);
      const base = good.order.slice(0, good.order.indexOf(" mp="));
      const cases: [string, number | null, string | null, RegExp][] = [
        ["", null, null, /missing mp=/],
        [`${base} mp=${dir}//m`, good.id, `${dir}//m`, /an empty component/],
        [`${base} mp=${dir}/../m`, good.id, `${dir}/../m`, /a "\.\." component/],
        [`${base} mp=${dir}/m/`, good.id, `${dir}/m/`, /an empty component/],
        [`${base} mp=${dir}/\\101`, good.id, `${dir}/\\101`, /escape \\101 .* that mountinfo never has/],
        [`${base} mp=/`, good.id, "/", /is refused/],
        [`${base.replace(/ fp=\S+/, "")} mp=${dir}/m`, good.id, `${dir}/m`, /no fp= field/],
        [`${base} pids=1@1 mp=${dir}/m`, good.id, `${dir}/m`, /given twice/],
        [`${base.replace(/ id=\S+/, " id=x")} mp=${dir}/m`, null, `${dir}/m`, /bad id= value "x"/],
        [`${base} what=1 mp=${dir}/m`, good.id, `${dir}/m`, /unknown field "what"/],
        [`${base}  mp=${dir}/m`, good.id, `${dir}/m`, /empty field/],
        [base, good.id, null, /missing mp=/],
      ];
      const run = helper(["umount", ...cases.map((c) => c[0])]);
      assert.equal(run.code, 0);
      results(run).forEach((r, i) => {
        const [, id, mp, message] = cases[i]!;
        assert.deepEqual(
          [r.index, r.pid, r.mountId, r.mountPoint, r.ok, r.stage, r.errno, r.locked],
          [i, null, id, mp, false, "parse", "EINVAL", false],
          `case ${i}: ${r.message}`,
        );
        assert.match(r.message, message, `case ${i}`);
      });
      assert.ok(isMounted(holder, ` ${source} `));
    });

    it("reports a locked mount (copied into a less privileged namespace): EINVAL, locked", async () => {
      const ldir = tmpDir("lk");
      const lsource = uniqueName("lk");
      // A private namespace mounts the tmpfs; a new user+mount namespace inside it gets a locked copy.
      const inner = await inPrivateNamespace(
        `mount -t tmpfs ${lsource} ${ldir} && exec unshare -U -r -m --propagation private sleep 600`,
      );
      const { order } = orderFor(inner, ` ${lsource} `);
      const [r] = results(helper(["umount", order]));
      assert.deepEqual(
        [r!.pid, r!.ok, r!.stage, r!.errno, r!.locked],
        [inner, false, "umount", "EINVAL", true],
      );
      assert.match(r!.message, /a locked mount: PID \d+ lives in another user namespace/);
      assert.ok(isMounted(inner, ` ${lsource} `));
    });
  });

  describe("a symlink swapped in during unmounts", () => {
    let swapLoop: string;
    before(() => {
      swapLoop = join(work, "swap-loop");
      execFileSync("gcc", ["-O2", "-o", swapLoop, join(REPO_ROOT, "test/support/swap-loop.c")]);
    });

    /**
     * /X/d/m1…m100 carry real tmpfs mounts, /X/decoy/m1…m100 decoys, /X/s is a symlink to decoy;
     * a swapper exchanges /X/d and /X/s as fast as it can while orders name the real mounts at
     * /X/d/mN, each six times. Whatever the timing, every decoy must stay, and the real mounts
     * detached must be exactly those reported ok.
     */
    async function race(prefix: string[], symlinkRefusal: RegExp): Promise<void> {
      const x = tmpDir("race");
      const n = 100;
      for (let i = 1; i <= n; i++) {
        mkdirSync(`${x}/d/m${i}`, { recursive: true });
        mkdirSync(`${x}/decoy/m${i}`, { recursive: true });
      }
      execFileSync("ln", ["-s", "decoy", `${x}/s`]);
      const real = uniqueName("real");
      const decoy = uniqueName("decoy");
      const holder = await inPrivateNamespace(
        `for i in $(seq ${n}); do mount -t tmpfs ${decoy} ${x}/decoy/m$i && ` +
          `mount -t tmpfs ${real}-$i ${x}/d/m$i || exit 1; done && exec sleep 600`,
      );
      const lines = mountinfo(holder).filter((l) => l.includes(` ${real}-`));
      assert.equal(lines.length, n);
      const start = startTime(holder);
      const orders = lines.flatMap((line) => {
        const [id, , , , mp] = line.split(" ");
        const o = `ns=${nsOf(holder)} id=${id} fp=${fingerprint(line)} pids=${holder}@${start} mp=${mp}`;
        return Array<string>(6).fill(o);
      });
      const swapper = spawn(swapLoop, [`${x}/d`, `${x}/s`], { stdio: ["ignore", "pipe", "inherit"] });
      let swaps = "";
      swapper.stdout!.on("data", (d) => (swaps += d));
      // "close", not "exit": the count it prints must have been read
      const closed = new Promise((r) => swapper.once("close", r));
      await new Promise((r) => setTimeout(r, 50));
      let run: HelperRun;
      try {
        run = helper(["umount", ...orders], prefix);
      } finally {
        swapper.kill("SIGTERM");
        await closed;
      }
      assert.equal(run.code, 0, run.stderr);
      assert.ok(Number(swaps) > 1000, `the swapper ran (${swaps} swaps)`);

      const now = mountinfo(holder);
      assert.equal(now.filter((l) => l.includes(` ${decoy} `)).length, n, "every decoy is still mounted");
      const rs = results(run);
      assert.equal(rs.length, orders.length);
      const outcomes = new Map<string, number>();
      for (const r of rs) {
        const kind = r.ok ? "ok" : `${r.stage}/${r.errno}`;
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
        assert.ok(
          r.ok ||
            (r.stage === "resolve" && r.errno === "ELOOP") ||
            (r.stage === "check" && r.errno === "ESTALE"),
          `unexpected result: ${JSON.stringify(r)}`,
        );
      }
      const okIds = rs.filter((r) => r.ok).map((r) => r.mountId as number);
      assert.equal(new Set(okIds).size, okIds.length, "no mount unmounted twice");
      const gone = lines
        .map((l) => Number(l.split(" ")[0]))
        .filter((id) => !now.some((l) => l.startsWith(`${id} `)));
      assert.deepEqual(
        gone.sort((a, b) => a - b),
        okIds.sort((a, b) => a - b),
        "exactly the mounts reported ok were detached",
      );
      // The race was real: some orders got through, some met the symlink.
      assert.ok(outcomes.get("ok")! > 0 && outcomes.get("resolve/ELOOP")! > 0, JSON.stringify([...outcomes]));
      for (const r of rs.filter((r) => r.errno === "ELOOP")) assert.match(r.message, symlinkRefusal);
    }

    it("never detaches the decoy (openat2)", () =>
      race([], /^a component of \/tmp\/\S+\/d\/m\d+ is a symbolic link; refused$/));
    it("never detaches the decoy (component by component: openat2 answers ENOSYS)", () =>
      race(
        [enosysExec],
        /^\/tmp\/\S+\/d \(a component of \/tmp\/\S+\/d\/m\d+\) is a symbolic link; refused$/,
      ));
  });

  describe("as on an old kernel (statx and openat2 answer ENOSYS)", () => {
    let dir: string;
    let holder: number;
    const source = uniqueName("old");
    before(async () => {
      dir = tmpDir("old");
      holder = await inPrivateNamespace(`exec sleep 600`);
    });
    function mount(): ReturnType<typeof orderFor> {
      execFileSync("nsenter", ["-t", String(holder), "-m", "mount", "-t", "tmpfs", source, dir]);
      return orderFor(holder, ` ${source} `);
    }

    it("unmounts, verified through /proc/self/fdinfo", () => {
      const { order, id } = mount();
      const [r] = results(helper(["umount", order], [enosysExec]));
      assert.deepEqual([r!.ok, r!.mountId, r!.verifiedBy], [true, id, "fdinfo"]);
      assert.equal(isMounted(holder, ` ${source} `), false);
    });

    it("unmounts with --verify mountinfo (device numbers, as before Linux 3.15)", () => {
      const { order } = mount();
      const [r] = results(helper(["umount", "--verify", "mountinfo", order], [enosysExec]));
      assert.deepEqual([r!.ok, r!.verifiedBy], [true, "mountinfo"]);
      assert.equal(isMounted(holder, ` ${source} `), false);
    });

    it("--verify statx is refused (ENOSYS) where statx is missing, and nothing is unmounted", () => {
      const { order } = mount();
      const [r] = results(helper(["umount", "--verify", "statx", order], [enosysExec]));
      assert.deepEqual([r!.ok, r!.stage, r!.errno], [false, "check", "ENOSYS"]);
      assert.ok(isMounted(holder, ` ${source} `));
      const [n] = results(helper(["umount", "--verify", "fdinfo", order]));
      assert.deepEqual([n!.ok, n!.verifiedBy], [true, "fdinfo"], "natively, fdinfo on request");
    });

    it("scan --deep still finds a cwd and a descriptor on a detached tmpfs", async () => {
      const pdir = tmpDir("oldpin");
      const pinned = await inPrivateNamespace(
        `mount -t tmpfs dlt-oldpin ${pdir} && cd ${pdir} && echo x > f && exec 7<f && umount -l ${pdir} && exec sleep 600`,
      );
      const pick = (run: HelperRun) =>
        run.records
          .filter((r) => r.type === "pinned" && r.pid === pinned)
          .map((r) => [r.kind, r.fd, r.mountId, r.dev, r.ino]);
      const old = helper(["scan", "--filter", "/nonexistent-filter", "--deep"], [enosysExec]);
      assert.equal(old.code, 0, old.stderr);
      assert.doesNotMatch(old.stderr, /reports mount IDs/);
      const found = pick(old);
      assert.deepEqual(
        found.map((p) => [p[0], p[1]]),
        [
          ["cwd", null],
          ["fd", 7],
        ],
      );
      assert.deepEqual(
        found,
        pick(helper(["scan", "--filter", "/nonexistent-filter", "--deep"])),
        "as natively",
      );
    });
  });

  describe("a stopped FUSE server", {
    skip: !haveBindfs && "bindfs or /dev/fuse missing (apt-get install bindfs fuse3)",
  }, () => {
    let x: string;
    let ns: number; // a process of the namespace that has the FUSE mount
    let daemon: number; // bindfs
    let pinned: number; // cwd on a detached bind of the FUSE mount
    let later: number; // cwd on a detached tmpfs, scanned after `pinned`
    let mmStall: string;
    const cont = () => {
      try {
        process.kill(daemon, "SIGCONT");
      } catch {
        // gone
      }
    };

    before(async () => {
      x = tmpDir("fuse");
      for (const d of ["src/sub", "src/m", "mnt", "pin", "tmp"]) mkdirSync(`${x}/${d}`, { recursive: true });
      // entry_timeout=0: every lookup asks the server (no cached answer hides a stopped one)
      ns = await inPrivateNamespace(
        `bindfs -f -o entry_timeout=0,attr_timeout=0 ${x}/src ${x}/mnt & echo $! > ${x}/bindfs.pid; ` +
          `for i in $(seq 100); do grep -q ' ${x}/mnt ' /proc/self/mountinfo && break; sleep 0.05; done; ` +
          `mount -t tmpfs dlt-fuse-inner ${x}/mnt/m && mount --bind ${x}/mnt/sub ${x}/pin && exec sleep 600`,
      );
      daemon = scope.process(Number(readFileSync(`${x}/bindfs.pid`, "utf8")));
      const enter = (script: string) => {
        const c = spawn("nsenter", ["-t", String(ns), "-m", "sh", "-c", script], {
          stdio: "ignore",
          detached: true,
        });
        c.unref();
        return scope.process(c.pid!);
      };
      pinned = enter(`cd ${x}/pin && exec sleep 600`);
      await until(
        "the FUSE-pinned sleep",
        () => procState(pinned) === "S" && readFileSync(`/proc/${pinned}/comm`, "utf8").trim() === "sleep",
      );
      execFileSync("nsenter", ["-t", String(ns), "-m", "umount", "-l", `${x}/pin`]);
      later = enter(
        `mount -t tmpfs dlt-fuse-later ${x}/tmp && cd ${x}/tmp && umount -l ${x}/tmp && exec sleep 600`,
      );
      await until(
        "the tmpfs-pinned sleep",
        () => readFileSync(`/proc/${later}/comm`, "utf8").trim() === "sleep",
      );
      assert.ok(later > pinned, "scanned after the stalling process");

      mmStall = join(work, "mm-stall");
      writeFileSync(`${mmStall}.c`, MM_STALL_C);
      execFileSync("gcc", ["-O2", "-o", mmStall, `${mmStall}.c`]);
    });
    // Whatever happens, the server runs again before anything is killed (this runs before the
    // outer suite's cleanup).
    after(cont);

    it("scan --deep: the process whose inspection stalls is skipped (deep, ETIMEDOUT); the scan goes on", () => {
      process.kill(daemon, "SIGSTOP");
      let run: HelperRun;
      try {
        run = helper(["scan", "--filter", "/nonexistent-filter", "--deep", "--stall-ms", "500"], [], 20_000);
      } finally {
        cont();
      }
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.ms < 10_000, `${run.ms} ms`);
      const skipped = run.records.filter((r) => r.type === "skipped" && r.pid === pinned);
      assert.deepEqual(
        skipped.map((r) => [r.what, r.errno]),
        [["deep", "ETIMEDOUT"]],
      );
      assert.equal(
        run.records.filter((r) => r.type === "pinned" && r.pid === pinned).length,
        0,
        "nothing partial",
      );
      assert.ok(
        run.records.some((r) => r.type === "pinned" && r.pid === later && r.kind === "cwd"),
        "the next processes are inspected",
      );
      const summary = run.records.at(-1)!;
      assert.equal(summary.type, "summary");
      assert.ok(summary.stalled >= 1);
    });

    it("umount: an order whose path crosses the stopped mount ends at resolve with ETIMEDOUT", () => {
      const { order } = orderFor(ns, " dlt-fuse-inner ");
      process.kill(daemon, "SIGSTOP");
      let run: HelperRun;
      try {
        run = helper(["umount", "--stall-ms", "500", order], [], 20_000);
      } finally {
        cont();
      }
      assert.ok(run.ms < 10_000, `${run.ms} ms`);
      const [r] = results(run);
      assert.deepEqual([r!.ok, r!.stage, r!.errno, r!.pid], [false, "resolve", "ETIMEDOUT", ns]);
      assert.match(r!.message, /made no progress for 500 ms/);
      assert.ok(isMounted(ns, " dlt-fuse-inner "));
    });

    it("scan: a command line whose read stalls is reported unread (cmdline, ETIMEDOUT)", async () => {
      // mm-stall maps a file of the FUSE mount; a reader of its /proc/PID/mem faults that page in
      // while holding its mm lock (which waits on the stopped server); mm-stall then queues for
      // the lock as a writer, and from then on every reader of its command line waits too.
      writeFileSync(`${x}/src/page`, Buffer.alloc(8192, 1));
      // (nsenter -m execs: the PID is mm-stall's)
      const mm = spawn("nsenter", ["-t", String(ns), "-m", mmStall, `${x}/mnt/page`], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const mmPid = scope.process(mm.pid!);
      const addr = await new Promise<string>((resolve) =>
        mm.stdout!.once("data", (d) => resolve(String(d).trim())),
      );
      let reader: ChildProcess | undefined;
      let run: HelperRun;
      process.kill(daemon, "SIGSTOP");
      try {
        const dd = ["of=/dev/null", "bs=1", "count=1", `skip=${addr}`, "iflag=skip_bytes", "status=none"];
        reader = spawn("dd", [`if=/proc/${mmPid}/mem`, ...dd], { stdio: "ignore" });
        await until("the reader to block in its read", () => blockedIn(reader!.pid!, "read"));
        process.kill(mmPid, "SIGUSR1");
        await until("mm-stall to queue in mmap", () => blockedIn(mmPid, "mmap"));
        run = helper(["scan", "--filter", "/nonexistent-filter", "--stall-ms", "500"], [], 20_000);
      } finally {
        cont();
        if (reader) await exited(reader); // the read completes once the server runs
      }
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.ms < 10_000, `${run.ms} ms`);
      const proc = run.records.find((r) => r.type === "process" && r.pid === mmPid)!;
      assert.deepEqual([proc.comm, proc.cmdline], ["mm-stall", []]);
      const skipped = run.records.filter((r) => r.type === "skipped" && r.pid === mmPid);
      assert.deepEqual(
        skipped.map((r) => [r.what, r.errno]),
        [["cmdline", "ETIMEDOUT"]],
      );
      assert.ok(run.records.at(-1)!.stalled >= 1);
      assert.deepEqual(
        run.records.filter((r) => r.type === "skipped" && r.what === "cmdline").map((r) => r.pid),
        [mmPid],
        "only its command line",
      );
      const self = run.records[0]!;
      assert.ok(self.pid > mmPid);
      assert.ok(
        run.records.find((r) => r.type === "process" && r.pid === self.pid)!.cmdline.length > 0,
        "command lines after it are read again (a new reader)",
      );
    });
  });

  describe("the amd64 build calls nothing outside its seccomp allowlist", {
    skip: !haveStrace && "strace missing",
  }, () => {
    /** Names of the calls `strace -f` saw the helper make (the launcher's own are left out). */
    function callsOf(args: string[], prefix: string[] = []): Set<string> {
      const log = join(work, `strace.${Date.now()}`);
      // strace runs after the launcher: its filter applies to the helper, its calls are not traced
      const argv = [...prefix, "strace", "-f", "-qq", "-o", log, HELPER, ...args];
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", maxBuffer: 256 << 20 });
      assert.equal(r.status, 0, r.stderr);
      const names = new Set<string>();
      for (const m of readFileSync(log, "utf8").matchAll(/^\d+ +([a-z][a-z_0-9]*)\(/gm)) names.add(m[1]!);
      for (const m of readFileSync(log, "utf8").matchAll(/^\d+ +<\.\.\. ([a-z][a-z_0-9]*) resumed>/gm))
        names.add(m[1]!);
      names.delete("execve"); // strace's exec of the helper
      return names;
    }
    function assertAllowed(mode: "scan" | "umount" | "version", calls: Set<string>): void {
      const allowed = new Set(helperSyscalls(mode));
      assert.deepEqual(
        [...calls].filter((c) => !allowed.has(c)),
        [],
        mode,
      );
    }

    it("version, scan --deep (pinned files, fallbacks, a stall), umount (every verification)", async () => {
      assertAllowed("version", callsOf(["version"]));
      const dir = tmpDir("sc");
      const holder = await inPrivateNamespace(
        `mkdir -p ${dir}/p ${dir}/u && mount -t tmpfs dlt-sc-p ${dir}/p && cd ${dir}/p && echo x > f && exec 7<f && ` +
          `umount -l ${dir}/p && mount -t tmpfs dlt-sc-u ${dir}/u && exec sleep 600`,
      );
      for (const prefix of [[], [enosysExec]]) {
        assertAllowed("scan", callsOf(["scan", "--filter", "x", "--deep", "--layers", dir], prefix));
        // 1 ms: under strace, workers are killed for stalling (kill, wait4)
        assertAllowed("scan", callsOf(["scan", "--deep", "--stall-ms", "1"], prefix));
      }
      for (const [prefix, verify] of [
        [[], "auto"],
        [[], "fdinfo"],
        [[], "mountinfo"],
        [[enosysExec], "auto"],
        [[enosysExec], "statx"],
      ] as const) {
        if (!isMounted(holder, " dlt-sc-u ")) {
          execFileSync("nsenter", [
            "-t",
            String(holder),
            "-m",
            "mount",
            "-t",
            "tmpfs",
            "dlt-sc-u",
            `${dir}/u`,
          ]);
        }
        const { order } = orderFor(holder, " dlt-sc-u ");
        assertAllowed(
          "umount",
          callsOf(["umount", "--verify", verify, "--stall-ms", "1", order, "bad"], [...prefix]),
        );
        assertAllowed("umount", callsOf(["umount", "--verify", verify, order], [...prefix]));
      }
    });
  });
});

/** Test support, compiled by the FUSE test: maps FILE, prints the address, and on SIGUSR1 queues
 * for its own mm lock as a writer (mmap). */
const MM_STALL_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }
int main(int argc, char **argv)
{
	if (argc != 2) return 2;
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) { perror(argv[1]); return 1; }
	char *map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) { perror("mmap"); return 1; }
	signal(SIGUSR1, on_usr1);
	printf("%lu\n", (unsigned long)map);
	fflush(stdout);
	while (!go) pause();
	mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (;;) pause();
}
`;
