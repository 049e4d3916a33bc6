/**
 * `scan --context … | --all-contexts` over real daemons: two extra private dockerds (their own
 * roots and sockets, started and stopped here) as contexts in a temporary DOCKER_CONFIG, one more
 * context reached over ssh:// (a private sshd on 127.0.0.1, scripts/test-sshd.sh) when sshd is
 * installed, and one that points at nothing. A host process in a private mount namespace holds
 * the shm of a stopped container on each daemon: real leaks on two daemons.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  BUNDLE,
  docker,
  dockerOk,
  privateNamespaceHolder,
  REPO_ROOT,
  Scope,
  uniqueName,
  waitForOwnNamespace,
} from "../support/daemon.js";

interface Daemon {
  context: string;
  root: string;
  run: string;
  host: string;
}

const DAEMONS: Daemon[] = ["a", "b"].map((n) => ({
  context: `dlt-fleet-${n}`,
  root: `/var/lib/dlt-fleet-test-${n}/root`,
  run: `/run/dlt-fleet-test-${n}`,
  host: `unix:///run/dlt-fleet-test-${n}/docker.sock`,
}));

const daemonScript = (d: Daemon, verb: string) =>
  spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), [verb], {
    encoding: "utf8",
    env: { ...process.env, DOCKER_LEAK_TEST_ROOT: d.root, DOCKER_LEAK_TEST_RUN: d.run },
    timeout: 180_000,
  });

const sshd = existsSync("/usr/sbin/sshd");
// Said, not silently passed: without sshd the ssh:// context is not part of the fleet.
if (!sshd)
  console.error(
    "# fleet: /usr/sbin/sshd missing (apt-get install openssh-server): the ssh:// context is not tested",
  );

describe("scan of many daemons (contexts)", { concurrency: false }, () => {
  const scope = new Scope();
  let config = "";
  let sshDir = "";
  let env: NodeJS.ProcessEnv = {};
  const ids = new Map<string, string>();

  const helpersOn = (d: Daemon) =>
    dockerOk(["ps", "-aq", "--filter", "label=io.docker-leak.helper"], { DOCKER_HOST: d.host });

  const fleet = (args: string[]) => {
    const r = spawnSync(process.execPath, [BUNDLE, "leak", "scan", ...args], {
      encoding: "utf8",
      env,
      timeout: 300_000,
    });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  };

  before(async () => {
    for (const d of DAEMONS) {
      const started = daemonScript(d, "start");
      assert.equal(started.status, 0, started.stderr);
    }
    config = mkdtempSync(join(tmpdir(), "dlt-fleet-config-"));
    env = {
      ...process.env,
      DOCKER_CONFIG: config,
      // The default context points nowhere too: no scan may reach the host's own daemon.
      DOCKER_HOST: "unix:///nonexistent/dlt-default.sock",
      DOCKER_CONTEXT: undefined,
      NO_COLOR: "1",
    };
    const contexts: [string, string][] = DAEMONS.map((d) => [d.context, d.host]);
    contexts.push(["dlt-fleet-nowhere", "unix:///nonexistent/dlt-nowhere.sock"]);
    if (sshd) {
      sshDir = mkdtempSync(join(tmpdir(), "dlt-fleet-sshd-"));
      const started = spawnSync(
        join(REPO_ROOT, "scripts", "test-sshd.sh"),
        ["start", sshDir, DAEMONS[0]!.host],
        {
          encoding: "utf8",
        },
      );
      assert.equal(started.status, 0, started.stderr);
      contexts.push(["dlt-fleet-ssh", started.stdout.trim()]);
      env.PATH = `${sshDir}/bin:${process.env.PATH}`;
    }
    for (const [name, host] of contexts)
      dockerOk(["context", "create", name, "--docker", `host=${host}`], { DOCKER_CONFIG: config });
    // A stopped --ipc shareable container on each daemon whose shm a host process holds.
    for (const d of DAEMONS) {
      const name = uniqueName("fleet");
      const id = dockerOk(
        [
          "run",
          "-d",
          "--name",
          name,
          "--ipc",
          "shareable",
          "docker-leak-test/busybox:latest",
          "sleep",
          "600",
        ],
        { DOCKER_HOST: d.host },
      );
      ids.set(d.context, id);
      scope.defer(() => docker(["rm", "-f", id], { DOCKER_HOST: d.host }));
    }
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    for (const d of DAEMONS) dockerOk(["stop", "-t", "0", ids.get(d.context)!], { DOCKER_HOST: d.host });
  });

  after(() => {
    scope.cleanup();
    if (sshDir) spawnSync(join(REPO_ROOT, "scripts", "test-sshd.sh"), ["stop", sshDir]);
    if (config) rmSync(config, { recursive: true, force: true });
    for (const d of DAEMONS) {
      const stopped = daemonScript(d, "stop");
      assert.equal(stopped.status, 0, stopped.stderr);
      const dirs = [d.root.replace(/\/root$/, ""), d.run];
      const mounts = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .filter((l) => dirs.some((dir) => l.includes(` ${dir}/`) || l.includes(` ${dir} `)));
      assert.deepEqual(mounts, [], `no mount of ${d.context} is left`);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--all-contexts: leaks of both daemons with their context, the unreachable ones reported, exit 3", () => {
    const r = fleet(["--all-contexts"]);
    assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
    const rows = r.stdout.trimEnd().split("\n");
    assert.match(rows[0]!, /^CONTEXT\s+TARGET\s+STATE/);
    for (const d of DAEMONS) {
      const short = ids.get(d.context)!.slice(0, 12);
      assert.ok(
        rows.some((l) => l.startsWith(`${d.context} `) && l.includes(short)),
        `${d.context}'s leak in:\n${r.stdout}`,
      );
    }
    assert.match(r.stderr, /^dlt-fleet-nowhere: error: Cannot connect to the Docker daemon/m);
    assert.match(r.stderr, /^default: error: Cannot connect/m);
    if (sshd) {
      // The ssh:// context reaches daemon a: its leak, once more, under that context.
      assert.ok(
        rows.some((l) => l.startsWith("dlt-fleet-ssh ") && l.includes(ids.get("dlt-fleet-a")!.slice(0, 12))),
      );
      const ssh = readFileSync(join(sshDir, "sshd.log"), "utf8").match(/Connection from/g) ?? [];
      assert.equal(ssh.length, 1, `ssh connections of one scan: ${ssh.length}`);
    }
    for (const d of DAEMONS) assert.equal(helpersOn(d), "", `no helper left on ${d.context}`);
  });

  it("--format json: an entry per daemon; -q: context/ID", () => {
    const names = [...DAEMONS.map((d) => d.context), "dlt-fleet-nowhere"];
    const r = fleet(["--context", names.slice(0, 2).join(","), "--context", names[2]!, "--format", "json"]);
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.schemaVersion, 1);
    assert.deepEqual(
      doc.daemons.map((d: { context: string; status: string }) => [d.context, d.status]),
      [
        [names[0], "ok"],
        [names[1], "ok"],
        [names[2], "error"],
      ],
    );
    for (const [i, d] of DAEMONS.entries()) {
      const entry = doc.daemons[i];
      assert.equal(entry.endpoint, d.host);
      assert.equal(entry.error, null);
      assert.equal(entry.report.schemaVersion, 1);
      assert.equal(entry.report.daemon.rootDir, d.root);
      assert.ok(
        entry.report.findings.some(
          (f: { severity: string; target: { id?: string } }) =>
            f.severity === "leaked" && f.target.id === ids.get(d.context),
        ),
      );
    }
    assert.equal(doc.daemons[2].report, null);
    assert.match(doc.daemons[2].error, /Cannot connect/);
    const q = fleet(["--context", names.join(","), "-q"]);
    assert.equal(q.code, 3);
    for (const d of DAEMONS)
      assert.ok(q.stdout.split("\n").includes(`${d.context}/${ids.get(d.context)!.slice(0, 12)}`));
    assert.match(q.stderr, /dlt-fleet-nowhere: error:/);
  });

  it("one context alone: the single-daemon output, and its failure is the command's", () => {
    const d = DAEMONS[0]!;
    const r = fleet(["--context", d.context, "--format", "json"]);
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.daemons, undefined);
    assert.equal(doc.daemon.rootDir, d.root);
    const down = fleet(["--context", "dlt-fleet-nowhere"]);
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /^docker leak: Cannot connect to the Docker daemon at unix:\/\/\/nonexistent\/dlt-nowhere.sock/,
    );
  });

  it("--swarm on a single-node Swarm: each ready node through its context or --node-host", () => {
    const b = DAEMONS[1]!;
    dockerOk(["swarm", "init", "--advertise-addr", "127.0.0.1"], { DOCKER_HOST: b.host });
    try {
      const hostname = dockerOk(["node", "ls", "--format", "{{.Hostname}}"], { DOCKER_HOST: b.host });
      const swarm = (args: string[]) =>
        spawnSync(process.execPath, [BUNDLE, "-H", b.host, "leak", "scan", "--swarm", ...args], {
          encoding: "utf8",
          env,
        });
      const unreachable = swarm([]);
      assert.equal(unreachable.status, 1, unreachable.stderr);
      assert.ok(
        unreachable.stderr.includes(`no context named "${hostname}" and no --node-host`),
        unreachable.stderr,
      );
      const r = swarm(["--node-host", `unix:///run/dlt-fleet-test-b/docker.sock`, "--format", "json"]);
      assert.equal(r.status, 3, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.daemon.rootDir, b.root);
      assert.ok(doc.findings.some((f: { target: { id?: string } }) => f.target.id === ids.get(b.context)));
      assert.equal(helpersOn(b), "");
    } finally {
      docker(["swarm", "leave", "--force"], { DOCKER_HOST: b.host });
    }
  });

  it("rm refuses --all-contexts with a usage error and changes nothing", () => {
    const r = spawnSync(process.execPath, [BUNDLE, "leak", "rm", "--all-contexts", "x"], {
      encoding: "utf8",
      env,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /works on one daemon/);
  });

  /** GET on a daemon's socket, parsed (fast enough to catch a helper while it runs). */
  const api = (d: Daemon, path: string) =>
    new Promise<unknown>((resolve, reject) => {
      const req = request({ socketPath: d.host.slice("unix://".length), path }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve(JSON.parse(body)));
      });
      req.on("error", reject);
      req.end();
    });
  /** The host PIDs of the helpers running on `d`. */
  const runningHelpers = async (d: Daemon): Promise<number[]> => {
    const filters = encodeURIComponent(
      JSON.stringify({ label: ["io.docker-leak.helper"], status: ["running"] }),
    );
    const list = (await api(d, `/containers/json?filters=${filters}`)) as { Id: string }[];
    const pids = await Promise.all(
      list.map(
        async (c) => ((await api(d, `/containers/${c.Id}/json`)) as { State: { Pid: number } }).State.Pid,
      ),
    );
    return pids.filter((p) => p > 0);
  };

  /**
   * Host processes that run the helper binary (its name, as the kernel keeps the first 15 bytes),
   * found by reading /proc: a sweep takes a few milliseconds, where a scan's helper runs for tens,
   * so it can be caught before it ends (the API's list and inspect are too slow for that).
   */
  const helperProcesses = (): number[] => {
    const pids: number[] = [];
    const isHelper = (pid: string) => readFileSync(`/proc/${pid}/comm`, "utf8") === "docker-leak-hel\n";
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        if (!isHelper(name)) continue;
        // Not its watched workers: stopping one would make the helper give up on it and go on.
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        const ppid = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? "";
        if (!isHelper(ppid)) pids.push(Number(name));
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  };

  it("Ctrl-C mid-fleet, while a helper runs on every daemon: exit 130, no helper left on any daemon", async () => {
    // Each helper is caught running and stopped (SIGSTOP) so that it is still there when ^C comes:
    // the plugin must remove it. A helper that ends before it is caught ends that try.
    for (let attempt = 1; ; attempt++) {
      const child = spawn(
        process.execPath,
        [BUNDLE, "leak", "scan", "--context", DAEMONS.map((d) => d.context).join(","), "--progress", "plain"],
        { env, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      let exited = false;
      const closed = new Promise<number | null>((resolve) =>
        child.on("close", (code) => {
          exited = true;
          resolve(code);
        }),
      );
      const stopped = new Map<string, number>();
      const stoppedPids = new Set<number>();
      const deadline = Date.now() + 60_000;
      // A daemon whose scan ended before its helper was caught ends the try at once.
      const missed = () =>
        DAEMONS.some((d) => !stopped.has(d.context) && stderr.includes(`${d.context}: done`));
      while (!exited && stopped.size < DAEMONS.length && Date.now() < deadline && !missed()) {
        for (const pid of helperProcesses()) {
          if (stoppedPids.has(pid)) continue;
          try {
            process.kill(pid, "SIGSTOP");
            stoppedPids.add(pid);
          } catch {
            // ended between the look and the signal
          }
        }
        if (stoppedPids.size >= DAEMONS.length) {
          // Which daemon's helper each stopped process is (a stopped one stays "running" there).
          for (const d of DAEMONS) {
            for (const pid of await runningHelpers(d)) {
              if (stoppedPids.has(pid) && !stopped.has(d.context)) stopped.set(d.context, pid);
            }
          }
        }
        await new Promise((r) => setImmediate(r));
      }
      /** SIGCONT to each stopped process still there (a helper gone with its container is not). */
      const resume = () => {
        for (const pid of stoppedPids) {
          try {
            process.kill(pid, "SIGCONT");
          } catch {
            // gone already
          }
        }
      };
      if (stopped.size === DAEMONS.length) {
        child.kill("SIGINT");
        const code = await closed;
        // Our helpers went with their containers; anything else the sweep stopped goes on.
        resume();
        assert.equal(code, 130, stderr);
        for (const d of DAEMONS) assert.equal(helpersOn(d), "", `no helper left on ${d.context}`);
        return;
      }
      // Not all caught: let this try end (a stopped helper is removed with its scan's ^C).
      resume();
      child.kill("SIGINT");
      await closed;
      for (const d of DAEMONS) assert.equal(helpersOn(d), "", `no helper left on ${d.context}`);
      assert.ok(attempt < 5, `no try caught a helper running on every daemon: ${stderr}`);
    }
  });
});
