import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import type { ContainerSummary, DockerClient } from "../../src/docker/client.js";
import {
  findStaleHelpers,
  helperFailure,
  removeHelpers,
  runHelper,
  StderrTail,
} from "../../src/docker/helper-runner.js";
import { DaemonError } from "../../src/errors.js";
import type { DaemonFacts } from "../../src/model/inventory.js";

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
  it("removes exited and dead helpers, old never-started ones, hung ones, and never one at work", async () => {
    const docker = fakeDocker([
      helper("exited-new", "exited", 1),
      helper("dead", "dead", 5),
      helper("created-old", "created", 120),
      helper("created-new", "created", 3),
      helper("running-long", "running", 600),
      helper("running-hung", "running", 7200),
    ]);
    const swept = await findStaleHelpers(docker, 1_000_000);
    assert.deepEqual(docker.removed, [], "finding changes nothing");
    await removeHelpers(docker, swept);
    assert.deepEqual(swept, ["exited-new", "dead", "created-old", "running-hung"]);
    assert.deepEqual(docker.removed, ["exited-new", "dead", "created-old", "running-hung"]);
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

describe("the helper's stderr is kept bounded", () => {
  it("keeps the last 64 KiB of endless output, from a line start, marked as cut", () => {
    const tail = new StderrTail();
    for (let i = 0; i < 100_000; i++) tail.push(Buffer.from(`sh: ${i}: Operation not permitted\n`));
    const text = tail.text();
    assert.ok(text.length <= StderrTail.LIMIT + 1, String(text.length));
    assert.ok(text.startsWith("…sh: "), text.slice(0, 40));
    assert.ok(text.endsWith("sh: 99999: Operation not permitted"));
  });
  it("keeps short output whole, and cuts one huge chunk to its end", () => {
    const short = new StderrTail();
    short.push(Buffer.from("helper: open /proc/1/ns/mnt: Permission denied\n"));
    assert.equal(short.text(), "helper: open /proc/1/ns/mnt: Permission denied");
    const huge = new StderrTail();
    huge.push(Buffer.from(`${"x".repeat(200_000)}\nlast line\n`));
    assert.ok(huge.text().endsWith("last line"));
    assert.ok(huge.text().length < 70_000);
  });
});

describe("a daemon that goes away while the helper writes", () => {
  it("fails with the daemon's error, not with the cut-off last line (and nothing goes unhandled)", async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const gone = new DaemonError("cannot reach the Docker daemon at unix:///fake.sock");
    const removed: string[] = [];
    const docker = {
      endpoint: { host: "unix:///fake.sock", context: "default", source: "test", configDir: "/x" },
      createContainer: async () => "helper-1",
      attachContainer: async () => ({
        stdout,
        stderr,
        ended: new Promise<void>((resolve) => stdout.on("end", resolve)),
      }),
      // The daemon dies mid-output: the stream ends inside a record, then the wait fails.
      startContainer: async () => {
        stdout.write('{"type":"process","pid":1}\n{"type":"process","pid":2,"cmd');
        stdout.end();
        stderr.end();
      },
      waitContainer: () => new Promise<number>((_, reject) => setTimeout(() => reject(gone), 20)),
      removeContainer: async (id: string) => {
        removed.push(id);
      },
    } as unknown as DockerClient;
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on("unhandledRejection", onUnhandled);
    try {
      const lines: string[] = [];
      await assert.rejects(
        runHelper(docker, {
          image: "sha256:x",
          mode: "scan",
          args: [],
          daemon: { securityOptions: [] } as unknown as DaemonFacts,
          onLine: (line) => {
            lines.push(line);
            JSON.parse(line); // what the scan's decoder does with a cut-off record
          },
        }),
        (err) => err === gone,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(lines.length, 2);
      assert.deepEqual(unhandled, []);
      assert.deepEqual(removed, ["helper-1"], "the helper container is removed all the same");
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
