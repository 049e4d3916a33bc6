// Benchmark tool (not product code), run by scripts/bench-watch.sh: `docker leak watch` on real
// leaks on the private test daemon (or DOCKER_HOST). Prints, for BENCHMARKS.md:
//   - time from `docker stop` (the command's start) to the finding's JSON line: median and p95
//     over STOPS stops, one at a time, each a `--ipc shareable` container whose shm a
//     private-namespace holder copied while it ran;
//   - helper runs for BURST containers stopped at once (helper creations from the daemon's events);
//   - CPU used while idle (IDLE seconds with nothing happening), and the watch's RSS before and
//     after EVENTS volume create/remove pairs (each removal is an event watch acts on).
//   node --import tsx scripts/bench-watch.ts [STOPS] [BURST] [IDLE] [EVENTS]
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [stops = 50, burst = 200, idleSeconds = 30, events = 10_000] = process.argv.slice(2).map(Number);
const host = process.env.DOCKER_HOST ?? "unix:///run/docker-leak-test/docker.sock";
const env = { ...process.env, DOCKER_HOST: host, NO_COLOR: "1" };
const bundle = join(import.meta.dirname, "..", "dist", "docker-leak.cjs");
const image = "docker-leak-test/busybox:latest";
const tag = `dlt-bench-watch-${randomBytes(3).toString("hex")}`;
const made: string[] = [];
const holders: ChildProcess[] = [];

function docker(args: string[]): string {
  const r = spawnSync("docker", args, { env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`docker ${args.slice(0, 3).join(" ")}…: ${r.stderr}`);
  return r.stdout.trim();
}

function containers(n: number, what: string): { name: string; id: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `${tag}-${what}${i}`;
    made.push(name);
    return { name, id: docker(["run", "-d", "--name", name, "--ipc", "shareable", image, "sleep", "3600"]) };
  });
}

async function holder(): Promise<void> {
  const h = spawn("unshare", ["-m", "--propagation", "private", "sleep", "3600"], { stdio: "ignore" });
  holders.push(h);
  await new Promise((r) => setTimeout(r, 300));
}

interface Watch {
  child: ChildProcess;
  /** Arrival time (performance.now) of the first leaked finding of each container ID */
  leaked: Map<string, number>;
  lines: number;
}

function watch(): Watch {
  const child = spawn(process.execPath, [bundle, "watch", "--format", "json"], { env, stdio: ["ignore", "pipe", "ignore"] });
  const w: Watch = { child, leaked: new Map(), lines: 0 };
  let buffer = "";
  child.stdout?.on("data", (d: Buffer) => {
    const now = performance.now();
    buffer += d.toString();
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      const line = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      w.lines++;
      const f = line.finding;
      if (f?.severity === "leaked" && f.target.kind === "container" && !w.leaked.has(f.target.id))
        w.leaked.set(f.target.id, now);
    }
  });
  return w;
}

async function until(ok: () => boolean, seconds: number, what: string): Promise<void> {
  const end = performance.now() + seconds * 1000;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
};

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime
}

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

function helperCreations(since: number): number {
  const out = docker([
    "events", "--since", String(since), "--until", String(Math.ceil(Date.now() / 1000) + 1),
    "--filter", "type=container", "--filter", "event=create", "--filter", "label=io.docker-leak.helper",
    "--format", "{{.ID}}",
  ]);
  return out.split("\n").filter(Boolean).length;
}

let w: Watch | undefined;
try {
  // 1. Latency, one stop at a time.
  const victims = containers(stops, "s");
  await holder();
  w = watch();
  await new Promise((r) => setTimeout(r, 3000)); // the start scan
  const latencies: number[] = [];
  for (const v of victims) {
    const t0 = performance.now();
    docker(["stop", "-t", "0", v.name]);
    await until(() => w!.leaked.has(v.id), 60, `the finding of ${v.name}`);
    latencies.push(w.leaked.get(v.id)! - t0);
  }
  console.log(`stop -> finding over ${stops} stops: median ${quantile(latencies, 0.5).toFixed(0)} ms, p95 ${quantile(latencies, 0.95).toFixed(0)} ms`);
  docker(["rm", "-f", ...victims.map((v) => v.name)]);

  // 2. A burst.
  const many = containers(burst, "b");
  await holder();
  await new Promise((r) => setTimeout(r, 3000));
  const since = Math.floor(Date.now() / 1000);
  await new Promise((r) => setTimeout(r, 1100));
  const t0 = performance.now();
  docker(["stop", "-t", "0", ...many.map((v) => v.name)]);
  const stopped = performance.now();
  await until(() => many.every((v) => w!.leaked.has(v.id)), 300, "the burst's findings");
  const last = Math.max(...many.map((v) => w!.leaked.get(v.id)!));
  console.log(`burst of ${burst} stops: ${helperCreations(since)} helper runs; docker stop took ${((stopped - t0) / 1000).toFixed(1)} s, last finding ${((last - t0) / 1000).toFixed(1)} s after it began`);
  docker(["rm", "-f", ...many.map((v) => v.name)]);
  await new Promise((r) => setTimeout(r, 5000)); // the removals' scans

  // 3. Idle CPU.
  const pid = w.child.pid!;
  const hz = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  const c0 = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const cpu = (cpuTicks(pid) - c0) / hz;
  console.log(`idle ${idleSeconds} s: ${(cpu * 1000).toFixed(0)} ms CPU (${((cpu / idleSeconds) * 100).toFixed(2)} %)`);

  // 4. Memory over many events.
  const rss0 = rssKiB(pid);
  for (let i = 0; i < events; i += 100) {
    const names = Array.from({ length: Math.min(100, events - i) }, (_, j) => `${tag}-v${i + j}`);
    for (const n of names) docker(["volume", "create", n]);
    docker(["volume", "rm", ...names]);
  }
  await new Promise((r) => setTimeout(r, 5000));
  console.log(`RSS: ${(rss0 / 1024).toFixed(1)} MiB before ${events} volume events, ${(rssKiB(pid) / 1024).toFixed(1)} MiB after`);
} finally {
  w?.child.kill("SIGINT");
  for (const h of holders) h.kill("SIGKILL");
  if (made.length) spawnSync("docker", ["rm", "-f", ...made], { env, stdio: "ignore" });
}
