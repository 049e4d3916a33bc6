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
import http from "node:http";
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

/** One Docker API request over the daemon's unix socket (a kept-alive agent). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function api(method: string, path: string, body?: unknown): Promise<void> {
  const socketPath = host.replace(/^unix:\/\//, "");
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, agent, method, path, headers: { "Content-Type": "application/json" } },
      (res) => {
        res.resume();
        res.on("end", () =>
          (res.statusCode ?? 500) < 300 ? resolve() : reject(new Error(`${method} ${path}: ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
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
  if (stops > 0) {
    for (const v of victims) {
      const t0 = performance.now();
      docker(["stop", "-t", "0", v.name]);
      await until(() => w!.leaked.has(v.id), 60, `the finding of ${v.name}`);
      latencies.push(w.leaked.get(v.id)! - t0);
    }
    console.log(`stop -> finding over ${stops} stops: median ${quantile(latencies, 0.5).toFixed(0)} ms, p95 ${quantile(latencies, 0.95).toFixed(0)} ms`);
    docker(["rm", "-f", ...victims.map((v) => v.name)]);
  }

  // 2. A burst.
  if (burst > 0) {
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
  }

  // 3. Idle CPU.
  const pid = w.child.pid!;
  const hz = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  const c0 = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const cpu = (cpuTicks(pid) - c0) / hz;
  console.log(`idle ${idleSeconds} s: ${(cpu * 1000).toFixed(0)} ms CPU (${((cpu / idleSeconds) * 100).toFixed(2)} %)`);

  // 4. Memory over many events: volume create/remove pairs through the API (a kept-alive
  // connection, 8 requests at a time; the docker CLI costs ~150 ms a call here), the watch's RSS
  // sampled every 200 ms (its peak) and after each fifth of the events.
  const rss0 = rssKiB(pid);
  let peak = rss0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid));
  }, 200);
  const marks: string[] = [];
  const t4 = performance.now();
  const pairs = Math.ceil(events / 2);
  for (let i = 0; i < pairs; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, pairs - i) }, async (_, j) => {
        const name = `${tag}-v${i + j}`;
        await api("POST", "/volumes/create", { Name: name });
        await api("DELETE", `/volumes/${name}`);
      }),
    );
    const done = Math.min(pairs, i + 8) * 2;
    if (Math.floor(done / (events / 5)) > marks.length) marks.push(`${done}: ${(rssKiB(pid) / 1024).toFixed(1)}`);
  }
  const elapsed = (performance.now() - t4) / 1000;
  await new Promise((r) => setTimeout(r, 5000));
  clearInterval(sampler);
  console.log(
    `RSS over ${events} volume events (${elapsed.toFixed(0)} s): ${(rss0 / 1024).toFixed(1)} MiB before, ` +
      `${(rssKiB(pid) / 1024).toFixed(1)} MiB after, peak ${(peak / 1024).toFixed(1)} MiB; after N events (MiB): ${marks.join(", ")}`,
  );
} finally {
  w?.child.kill("SIGINT");
  agent.destroy();
  for (const h of holders) h.kill("SIGKILL");
  if (made.length) spawnSync("docker", ["rm", "-f", ...made], { env, stdio: "ignore" });
}
