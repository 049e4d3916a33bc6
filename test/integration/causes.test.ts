/**
 * Causes and cures against the kernel, on real daemons: a container that binds the host's `/`
 * (Docker makes that bind rslave by default, and falls back to private where `/` is private)
 * holds copies of a stopped container's network namespace file and /dev/shm. What the finding
 * says must match what the kernel shows: the daemon's mount each original was attached on, the
 * holder's bind, and where the chain from Docker's unmount to the copy is cut; and its cure must
 * not recommend what is in place.
 *
 * Twice: on the main private daemon (whose `/` is the host's: shared with systemd, private
 * without; every expectation comes from the kernel), and on a second daemon in a mount namespace
 * whose `/` is private, so that the daemon's side is private on every machine.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  docker,
  dockerOk,
  mntnsOf,
  PRIVATE_SOCKET,
  plugin,
  privateDaemonPid,
  REPO_ROOT,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
} from "../support/daemon.js";

interface Line {
  id: number;
  parent: number;
  mountPoint: string;
  shared: number | null;
  master: number | null;
}

function mountinfo(pid: number): Line[] {
  return readFileSync(`/proc/${pid}/mountinfo`, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const f = l.split(" ");
      const tags = f.slice(6, f.indexOf("-"));
      const tag = (name: string) => {
        const t = tags.find((x) => x.startsWith(`${name}:`));
        return t ? Number(t.slice(name.length + 1)) : null;
      };
      return {
        id: Number(f[0]),
        parent: Number(f[1]),
        mountPoint: f[4] ?? "",
        shared: tag("shared"),
        master: tag("master"),
      };
    });
}

/** The mount a path's directory lies on (the longest mount point above it), as the kernel shows it. */
function holding(lines: Line[], path: string): Line {
  const dir = dirname(path);
  const candidates = lines.filter(
    (l) => l.mountPoint === "/" || dir === l.mountPoint || dir.startsWith(`${l.mountPoint}/`),
  );
  const best = candidates.sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  assert.ok(best, `a mount holds ${path}`);
  return best;
}

interface Finding {
  severity: string;
  resource: { kind: string; path: string };
  holder: { pids: number[] };
  cause: {
    short: string;
    full: string;
    facts: {
      cut: string | null;
      copy: { mountId: number } | null;
      originalParent: { mountId: number; peerGroup: number | null } | null;
      bind: {
        mode: string;
        destination: string;
        mount: { mountId: number } | null;
        sourceMount: { mountId: number; propagation: string } | null;
      } | null;
      daemonInHostNamespace: boolean | null;
      removal: { command: string; blocks: string; kernel: string } | null;
    };
  };
  cure: { short: string; full: string };
}

function bindRootCase(label: string, env: NodeJS.ProcessEnv, runDir: string, expectPrivate: boolean): void {
  describe(label, () => {
    const scope = new Scope();
    const victim = uniqueName("cause-victim");
    // Docker's defaults: a bind of / (it holds the data root) is rslave, made recursively; a bind
    // of /run is rprivate.
    const holders = [
      {
        name: uniqueName("cause-holder"),
        volume: "/:/rootfs:ro",
        source: "/",
        dest: "/rootfs",
        pid: 0,
        mode: "",
      },
      {
        name: uniqueName("cause-holder-run"),
        volume: "/run:/hostrun:ro",
        source: "/run",
        dest: "/hostrun",
        pid: 0,
        mode: "",
      },
    ];
    const inHolder = (h: { source: string; dest: string }, path: string): string | null =>
      h.source === "/"
        ? `${h.dest}${path}`
        : path.startsWith(`${h.source}/`)
          ? `${h.dest}${path.slice(h.source.length)}`
          : null;
    let dockerdPid = 0;
    let netns = "";
    let shm = "";

    before(() => {
      dockerdPid = privateDaemonPid(runDir);
      dockerOk(["run", "-d", "--name", victim, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"], env);
      scope.defer(() => docker(["rm", "-f", victim], env));
      for (const h of holders) {
        dockerOk(["run", "-d", "--name", h.name, "-v", h.volume, TEST_IMAGE, "sleep", "600"], env);
        scope.defer(() => docker(["rm", "-f", h.name], env));
        const inspect = JSON.parse(dockerOk(["inspect", h.name], env))[0];
        h.pid = inspect.State.Pid;
        h.mode = inspect.Mounts.find((m: { Destination: string }) => m.Destination === h.dest).Propagation;
      }
      const inspect = JSON.parse(dockerOk(["inspect", victim], env))[0];
      netns = String(inspect.NetworkSettings.SandboxKey).replace(/^\/var\/run\//, "/run/");
      shm = `${dockerOk(["info", "--format", "{{.DockerRootDir}}"], env)}/containers/${inspect.Id}/mounts/shm`;
      dockerOk(["stop", "-t", "0", victim], env);
    });
    after(() => scope.cleanup());

    it("says where each copy's chain is cut, as the kernel shows it, and cures it on that side", () => {
      const daemonLines = mountinfo(dockerdPid);
      const scan = plugin(["scan", "--format", "json", victim], env);
      assert.ok(scan.code === 0 || scan.code === 3, scan.stderr);
      const findings: Finding[] = JSON.parse(scan.stdout).findings;
      // PID 1's namespace may be unreadable (a sandbox's init): then the model cannot tell either.
      let hostNamespace: boolean | null;
      try {
        hostNamespace = mntnsOf(1) === mntnsOf(dockerdPid);
      } catch {
        hostNamespace = null;
      }
      if (expectPrivate) {
        assert.equal(
          mountinfo(dockerdPid).find((l) => l.mountPoint === "/")?.shared,
          null,
          "recipe: the daemon's / is private",
        );
      }
      const held: string[] = [];
      for (const holder of holders) {
        const { pid: holderPid, mode, volume, dest } = holder;
        const holderLines = mountinfo(holderPid);
        const bindMount = holderLines.find((l) => l.mountPoint === dest);
        assert.ok(bindMount, `recipe: the holder's bind at ${dest}`);
        for (const [kind, path] of [
          ["netns", netns],
          ["shm", shm],
        ] as const) {
          const at = inHolder(holder, path);
          const copy = at === null ? undefined : holderLines.find((l) => l.mountPoint === at);
          const mine = findings.filter((f) => f.resource.kind === kind && f.holder.pids.includes(holderPid));
          const daemonSide = holding(daemonLines, path);
          if (!copy) {
            // The copy followed Docker's unmount: the bind receives from the daemon's side.
            assert.notEqual(daemonSide.shared, null, `${kind}: a copy went, so the daemon's side is shared`);
            assert.deepEqual(mine, [], `${kind}: no copy in the kernel, no finding`);
            continue;
          }
          assert.equal(mine.length, 1, `${kind}: one finding for the copy the kernel shows: ${scan.stdout}`);
          const f = mine[0]!;
          const facts = f.cause.facts;
          held.push(`${volume} ${kind} ${facts.cut}`);
          assert.equal(f.severity, "leaked");
          assert.equal(facts.copy?.mountId, copy.id, `${kind}: the copy`);
          assert.equal(facts.originalParent?.mountId, daemonSide.id, `${kind}: the daemon's mount it was on`);
          assert.equal(facts.originalParent?.peerGroup, daemonSide.shared, `${kind}: its peer group`);
          assert.equal(facts.bind?.mode, mode, "the bind's mode as Docker reports it");
          assert.equal(facts.bind?.mount?.mountId, bindMount.id, "the bind's mount in the holder");
          assert.equal(facts.daemonInHostNamespace, hostNamespace);
          assert.deepEqual(facts.removal, {
            command: "docker rm",
            blocks: "no",
            kernel: facts.removal?.kernel,
          });
          const hostFix =
            hostNamespace === true
              ? /`mount --make-rshared \/` on the host/
              : new RegExp(`nsenter -t ${dockerdPid} -m mount --make-rshared /`);
          if (daemonSide.shared === null) {
            assert.equal(facts.cut, "original", `${kind}: the daemon's side is private`);
            assert.ok(
              f.cause.full.includes(`${daemonSide.mountPoint} (mount ${daemonSide.id}), is private`),
              f.cause.full,
            );
            assert.match(f.cure.full, hostFix);
          } else {
            assert.equal(facts.cut, "bind", `${kind}: the daemon's side is shared, the bind is not`);
            assert.equal(
              bindMount.shared === null && bindMount.master === null,
              true,
              "the kernel: the bind is private",
            );
            const sourceLine = holding(daemonLines, `${holder.source === "/" ? "" : holder.source}/x`);
            assert.equal(
              facts.bind?.sourceMount?.mountId,
              sourceLine.id,
              "the bind's source in the daemon's namespace",
            );
            if (sourceLine.shared === null && sourceLine.master === null) assert.match(f.cure.full, hostFix);
            else assert.doesNotMatch(f.cure.full, /make-rshared/);
          }
          if (/slave|shared/.test(mode)) {
            assert.doesNotMatch(f.cure.full, /:rslave|bound rslave/, `${kind}: the bind is ${mode} already`);
          }
        }
      }
      // Every copy the kernel keeps is explained. The rprivate bind of /run keeps the netns copy on
      // any host: cut on the daemon's side where /run is private, else at the bind.
      const runSide = holding(daemonLines, netns).shared === null ? "original" : "bind";
      assert.ok(held.includes(`/run:/hostrun:ro netns ${runSide}`), held.join("; "));
      if (expectPrivate) {
        assert.ok(
          held.includes("/:/rootfs:ro netns original"),
          `the default bind holds the netns: ${held.join("; ")}`,
        );
      }
    });

    it("rm --force-unmount releases every copy the findings named; the kernel shows none", () => {
      const r = plugin(["rm", "--force-unmount", victim], env);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      for (const h of holders) {
        const lines = mountinfo(h.pid);
        for (const path of [netns, shm]) {
          assert.equal(
            lines.filter((l) => l.mountPoint === inHolder(h, path)).length,
            0,
            `${h.volume}: ${path}`,
          );
        }
      }
    });
  });
}

describe("causes and cures against the kernel", () => {
  before(() => requireDaemon());
  bindRootCase("the main private daemon (the host's /)", {}, dirname(PRIVATE_SOCKET), false);
});

describe("causes and cures on a daemon whose / is private", () => {
  const ENV = {
    DOCKER_LEAK_TEST_ROOT: "/var/lib/dlt-daemon-private/root",
    DOCKER_LEAK_TEST_RUN: "/run/docker-leak-test-private",
    DOCKER_LEAK_TEST_MOUNTNS: "private",
  };
  const daemonScript = (verb: string) =>
    spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), [verb], {
      encoding: "utf8",
      env: { ...process.env, ...ENV },
      timeout: 180_000,
    });
  before(() => {
    requireDaemon();
    const started = daemonScript("start");
    assert.equal(started.status, 0, started.stderr);
  });
  after(() => {
    const stopped = daemonScript("stop");
    assert.equal(stopped.status, 0, stopped.stderr);
  });
  bindRootCase(
    "a container binding / holds a stopped container's netns and shm",
    { DOCKER_HOST: `unix://${ENV.DOCKER_LEAK_TEST_RUN}/docker.sock` },
    ENV.DOCKER_LEAK_TEST_RUN,
    true,
  );
});
