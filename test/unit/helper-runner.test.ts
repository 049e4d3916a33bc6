import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContainerSummary, DockerClient } from "../../src/docker/client.js";
import { helperFailure, sweepStaleHelpers } from "../../src/docker/helper-runner.js";

/** The part of the Docker boundary the sweep uses, hand-written. */
function fakeDocker(containers: ContainerSummary[]): DockerClient & { removed: string[] } {
  const removed: string[] = [];
  const fake = {
    removed,
    endpoint: { host: "unix:///fake.sock", context: "default", source: "test", configDir: "/x" },
    listContainers: async () => containers,
    removeContainer: async (id: string) => {
      removed.push(id);
    },
  };
  return fake as unknown as DockerClient & { removed: string[] };
}

const helper = (id: string, state: string, ageSeconds: number): ContainerSummary => ({
  id,
  names: [id],
  state,
  created: 1_000_000 - ageSeconds,
  labels: { "io.docker-leak.helper": "1" },
});

describe("sweeping helpers left by crashed runs", () => {
  it("removes exited and dead helpers, old never-started ones, and never a running one", async () => {
    const docker = fakeDocker([
      helper("exited-new", "exited", 1),
      helper("dead", "dead", 5),
      helper("created-old", "created", 120),
      helper("created-new", "created", 3),
      helper("running-old", "running", 600),
    ]);
    const swept = await sweepStaleHelpers(docker, 1_000_000);
    assert.deepEqual(swept, ["exited-new", "dead", "created-old"]);
    assert.deepEqual(docker.removed, ["exited-new", "dead", "created-old"]);
  });
});

describe("helper failures name the helper and what happened", () => {
  it("killed, crashed, or a plain exit status with its last words", () => {
    assert.equal(
      helperFailure("scan", { exitCode: 137, stderr: "", containerId: "c" }).message,
      "the helper (scan) exited with status 137 (killed)",
    );
    assert.match(
      helperFailure("umount", { exitCode: 139, stderr: "", containerId: "c" }).message,
      /crashed: segmentation fault/,
    );
    assert.equal(
      helperFailure("scan", {
        exitCode: 1,
        stderr: "helper: cannot open /proc: Permission denied",
        containerId: "c",
      }).message,
      "the helper (scan) exited with status 1: helper: cannot open /proc: Permission denied",
    );
  });
});
