import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import type { ContainerSpec, ContainerSummary, DockerClient } from "../../src/docker/client.js";
import { LABEL_HELPER } from "../../src/docker/helper-image.js";
import {
  findStaleHelpers,
  helperFailure,
  LABEL_DEADLINE,
  type RunHelperOptions,
  removeHelpers,
  runHelper,
  StderrTail,
} from "../../src/docker/helper-runner.js";
import { DaemonError } from "../../src/errors.js";
import type { DaemonFacts } from "../../src/model/inventory.js";

/** The part of the Docker boundary the sweep uses, hand-written. */
function fakeDocker(
  containers: ContainerSummary[],
): DockerClient & { removed: string[]; filters: Record<string, string[]>[] } {
  const removed: string[] = [];
  const filters: Record<string, string[]>[] = [];
  const fake = {
    removed,
    filters,
    endpoint: { host: "unix:///fake.sock", context: "default", source: "test", configDir: "/x" },
    listContainers: async (f: Record<string, string[]>) => {
      filters.push(f);
      return containers;
    },
    removeContainer: async (id: string) => {
      removed.push(id);
    },
  };
  return fake as unknown as DockerClient & { removed: string[]; filters: Record<string, string[]>[] };
}

const OURS = "sha256:ours";
const NOW = 1_000_000;

const helper = (
  id: string,
  state: string,
  ageSeconds: number,
  opts: { image?: string; deadline?: number | string; labels?: Record<string, string> } = {},
): ContainerSummary => ({
  id,
  names: [id],
  state,
  created: NOW - ageSeconds,
  labels: opts.labels ?? {
    [LABEL_HELPER]: "scan",
    ...(opts.deadline === undefined ? {} : { [LABEL_DEADLINE]: String(opts.deadline) }),
  },
  imageId: opts.image ?? OURS,
});

describe("sweeping helpers left by crashed runs", () => {
  it("removes exited and dead helpers, old never-started ones, overdue ones, and never one at work", async () => {
    const docker = fakeDocker([
      helper("exited-new", "exited", 1),
      helper("dead", "dead", 5),
      helper("created-old", "created", 120),
      helper("created-new", "created", 3),
      helper("running-before-deadline", "running", 600, { deadline: NOW + 10 }),
      // Its deadline has passed, but not the minute's grace after it.
      helper("running-in-grace", "running", 4000, { deadline: NOW - 30 }),
      helper("running-overdue", "running", 4000, { deadline: NOW - 61 }),
      // A long deadline is honoured, even past the default hour.
      helper("running-long-deadline", "running", 7200, { deadline: NOW + 3600 }),
      helper("paused-overdue", "paused", 7200, { deadline: NOW - 3600 }),
      helper("removing", "removing", 7200),
    ]);
    const swept = await findStaleHelpers(docker, [OURS], NOW);
    assert.deepEqual(docker.removed, [], "finding changes nothing");
    await removeHelpers(docker, swept);
    const expected = ["exited-new", "dead", "created-old", "running-overdue", "paused-overdue"];
    assert.deepEqual(swept, expected);
    assert.deepEqual(docker.removed, expected);
  });

  it("without a readable deadline label, a running helper is overdue an hour (and a minute) after its creation", async () => {
    const docker = fakeDocker([
      helper("no-label-young", "running", 3600),
      helper("no-label-old", "running", 3661),
      helper("garbage-label-old", "running", 3661, { deadline: "soon" }),
      helper("garbage-label-young", "running", 100, { deadline: "soon" }),
    ]);
    assert.deepEqual(await findStaleHelpers(docker, [OURS], NOW), ["no-label-old", "garbage-label-old"]);
  });

  it("only containers of a trusted image are helpers: not those of a derived or look-alike image", async () => {
    const docker = fakeDocker([
      // Exited containers with our label, from an image the plugin does not trust (an image
      // built FROM an old helper image inherits its labels; anyone may label a container).
      helper("derived", "exited", 500, { image: "sha256:derived" }),
      helper("look-alike-running", "running", 99_999, { image: "sha256:lookalike", deadline: 1 }),
      // Our image, but without our label: not made by the plugin.
      helper("unlabelled", "exited", 500, { labels: { other: "1" } }),
      helper("ours", "exited", 500),
    ]);
    assert.deepEqual(await findStaleHelpers(docker, [OURS], NOW), ["ours"]);
    assert.deepEqual(await findStaleHelpers(docker, [], NOW), [], "no trusted image, no helper");
    assert.deepEqual(await findStaleHelpers(docker, Promise.resolve(["sha256:derived", OURS]), NOW), [
      "derived",
      "ours",
    ]);
  });

  it("asks the daemon for containers with the helper label, whatever its value", async () => {
    const docker = fakeDocker([]);
    await findStaleHelpers(docker, [OURS], NOW);
    assert.deepEqual(docker.filters, [{ label: [LABEL_HELPER] }]);
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
      assert.equal(lines.length, 1, "the cut-off record is not passed on");
      assert.deepEqual(unhandled, []);
      assert.deepEqual(removed, ["helper-1"], "the helper container is removed all the same");
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("the helper container's spec", () => {
  /** Runs the helper against a fake daemon that records the create request and exits 0 at once. */
  async function specOf(opts: Partial<RunHelperOptions> = {}): Promise<ContainerSpec> {
    const specs: ContainerSpec[] = [];
    const stream = () => {
      const s = new PassThrough();
      s.end();
      return s;
    };
    const docker = {
      endpoint: { host: "unix:///fake.sock", context: "default", source: "test", configDir: "/x" },
      createContainer: async (spec: ContainerSpec) => {
        specs.push(spec);
        return "helper-1";
      },
      attachContainer: async () => ({ stdout: stream(), stderr: stream(), ended: Promise.resolve() }),
      startContainer: async () => undefined,
      waitContainer: async () => 0,
      removeContainer: async () => undefined,
    } as unknown as DockerClient;
    await runHelper(docker, {
      image: "sha256:ours",
      mode: "scan",
      args: ["--filter", "x"],
      daemon: { securityOptions: ["name=seccomp"] } as unknown as DaemonFacts,
      onLine: () => undefined,
      ...opts,
    });
    assert.equal(specs.length, 1);
    return specs[0]!;
  }

  it("pins what a container would inherit from its image, and labels the mode and the deadline", async () => {
    const before = Math.floor(Date.now() / 1000);
    const spec = await specOf();
    const after = Math.ceil(Date.now() / 1000);
    assert.equal(spec.Image, "sha256:ours");
    assert.deepEqual(spec.Entrypoint, ["/docker-leak-helper"]);
    assert.deepEqual(spec.Cmd, ["scan", "--filter", "x"]);
    assert.equal(spec.User, "0:0");
    assert.deepEqual(spec.Env, []);
    assert.equal(spec.WorkingDir, "/");
    assert.deepEqual(spec.Healthcheck, { Test: ["NONE"] });
    assert.deepEqual(Object.keys(spec.Labels).sort(), [LABEL_HELPER, LABEL_DEADLINE].sort());
    assert.equal(spec.Labels[LABEL_HELPER], "scan");
    const deadline = Number(spec.Labels[LABEL_DEADLINE]);
    assert.ok(deadline >= before + 3600 && deadline <= after + 3600, String(deadline));
    assert.deepEqual(spec.HostConfig.CapAdd, ["SYS_PTRACE"], "not deep: no DAC_READ_SEARCH");
    assert.equal(spec.HostConfig.PidsLimit, 32);
    assert.equal(spec.HostConfig.Memory, 512 * 1024 * 1024);
  });

  it("takes a deadline, and a deep scan's capabilities", async () => {
    const spec = await specOf({ deadline: 1234567890, deep: true, mode: "scan" });
    assert.equal(spec.Labels[LABEL_DEADLINE], "1234567890");
    assert.deepEqual(spec.HostConfig.CapAdd, ["SYS_PTRACE", "DAC_READ_SEARCH"]);
    const version = await specOf({ mode: "version", args: [] });
    assert.equal(version.Labels[LABEL_HELPER], "version");
    assert.deepEqual(version.HostConfig.CapAdd, []);
  });
});
