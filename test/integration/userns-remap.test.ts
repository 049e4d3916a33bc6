/**
 * A second private dockerd with `--userns-remap=default`: the daemon reports `name=userns`, the
 * helper runs with `UsernsMode: host` (without it, its capabilities would be those of the
 * remapped user namespace and setns into a holder's namespace would fail), and scan and
 * rm --force-unmount work on a real leak there.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  assertCountWithin,
  docker,
  dockerOk,
  hostMountinfoLines,
  kernelCopyRange,
  plugin,
  privateDaemonPid,
  privateNamespaceHolder,
  REPO_ROOT,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
  waitForOwnNamespace,
} from "../support/daemon.js";

const ENV = {
  DOCKER_LEAK_TEST_ROOT: "/var/lib/dlt-daemon-userns/root",
  DOCKER_LEAK_TEST_RUN: "/run/docker-leak-test-userns",
  DOCKER_LEAK_TEST_DAEMON_FLAGS: "--userns-remap=default",
};
const HOST = `unix://${ENV.DOCKER_LEAK_TEST_RUN}/docker.sock`;
const daemonScript = (verb: string) =>
  spawnSync(join(REPO_ROOT, "scripts", "test-daemon.sh"), [verb], {
    encoding: "utf8",
    env: { ...process.env, ...ENV },
    timeout: 180_000,
  });

describe("a userns-remap daemon", () => {
  const scope = new Scope();
  const names: string[] = [];
  const on = { DOCKER_HOST: HOST };

  before(() => {
    requireDaemon(); // the main private daemon's tools (docker.io) are in place
    const started = daemonScript("start");
    assert.equal(started.status, 0, started.stderr);
  });
  after(() => {
    scope.cleanup();
    if (names.length) docker(["rm", "-f", ...names], on);
    const stopped = daemonScript("stop");
    assert.equal(stopped.status, 0, stopped.stderr);
  });

  it("is detected, and scan and rm --force-unmount work on a real leak", async () => {
    const options = dockerOk(["info", "--format", "{{json .SecurityOptions}}"], on);
    assert.match(options, /name=userns/);
    const name = uniqueName("userns");
    names.push(name);
    const id = dockerOk(["run", "-d", "--name", name, "--ipc", "shareable", TEST_IMAGE, "sleep", "600"], on);
    const holder = privateNamespaceHolder(scope);
    await waitForOwnNamespace(holder);
    dockerOk(["stop", "-t", "0", name], on);
    assert.ok(
      hostMountinfoLines(id).some((l) => l.pid === holder),
      "recipe: held",
    );

    const copies = kernelCopyRange(name, on, privateDaemonPid(ENV.DOCKER_LEAK_TEST_RUN));
    const scan = plugin(["scan", "--format", "json", name], on);
    assert.equal(scan.code, 3, scan.stderr);
    const findings = JSON.parse(scan.stdout).findings;
    assert.ok(
      findings.length >= copies.min && findings.length <= copies.max,
      `one finding per copy the kernel shows (shm, netns): ${findings.length} in [${copies.min}, ${copies.max}]`,
    );
    for (const f of findings) {
      assert.equal(f.severity, "leaked");
      assert.deepEqual(f.holder.pids, [holder]);
    }

    const rm = plugin(["rm", "--force-unmount", name], on);
    assert.equal(rm.code, 0, `${rm.stdout}${rm.stderr}`);
    assertCountWithin(rm.stdout, /released (\d+) leaked mounts?, removed; verified: nothing left/, {
      min: copies.min,
      max: findings.length,
    });
    assert.deepEqual(hostMountinfoLines(id), []);
  });
});
