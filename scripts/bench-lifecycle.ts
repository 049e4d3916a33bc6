// Benchmark tool (not product code), run by scripts/bench.sh with `node --import tsx`: the floor
// of any scan that runs a helper container, measured with the plugin's own Docker client and
// HostConfig. One container per run, as the scan makes it (create, attach, start, wait for its
// removal), whose helper only prints its version: what remains is the daemon's cost of a
// container. Prints the median wall time in ms over RUNS runs (argv[2], default 9) and, on
// stderr, each run's create / start / exit+removal.
//   node --import tsx scripts/bench-lifecycle.ts [RUNS]
// Needs the helper image (any `docker leak scan` builds it) and DOCKER_HOST (default: the test daemon).
import { DockerodeClient } from "../src/docker/dockerode-client.js";
import { helperTag, LABEL_HELPER } from "../src/docker/helper-image.js";
import { helperHostConfig } from "../src/docker/helper-runner.js";
import { PLUGIN_VERSION } from "../src/version.js";

const runs = Number(process.argv[2] ?? 9);
const host = process.env.DOCKER_HOST ?? "unix:///run/docker-leak-test/docker.sock";
const docker = new DockerodeClient(
  { host, context: "bench", source: "DOCKER_HOST", configDir: "/nonexistent" },
  { rawGlobals: [] },
);
const daemon = await docker.info();
const image = await docker.inspectImage(helperTag(PLUGIN_VERSION));
if (!image) {
  console.error(`bench-lifecycle: no ${helperTag(PLUGIN_VERSION)} image; run a scan first`);
  process.exit(2);
}

const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const id = await docker.createContainer({
    name: `docker-leak-helper-bench-${process.pid}-${i}`,
    Image: image.id,
    Cmd: ["version"],
    Labels: { [LABEL_HELPER]: "version" },
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: helperHostConfig("scan", daemon),
  });
  const t1 = performance.now();
  let t2 = t1;
  try {
    const streams = await docker.attachContainer(id);
    streams.stdout.resume();
    streams.stderr.resume();
    const removed = docker.waitContainer(id, "removed");
    await docker.startContainer(id);
    t2 = performance.now();
    await removed;
    await streams.ended;
  } catch (err) {
    await docker.removeContainer(id, { force: true }).catch(() => undefined);
    throw err;
  }
  const t3 = performance.now();
  times.push(t3 - t0);
  console.error(
    `run ${i + 1}: create ${(t1 - t0).toFixed(0)} ms, attach+start ${(t2 - t1).toFixed(0)} ms, exit+removal ${(t3 - t2).toFixed(0)} ms`,
  );
}
times.sort((a, b) => a - b);
const mid = times.length >> 1;
const median = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
console.log(median.toFixed(1));
