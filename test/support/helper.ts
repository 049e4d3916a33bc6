/** The helper as the tests drive it: the plugin's own image and runner, against the private daemon. */
import { join } from "node:path";
import { DockerodeClient } from "../../src/docker/dockerode-client.js";
import { prepareHelper } from "../../src/docker/helper.js";
import { LABEL_HELPER } from "../../src/docker/helper-image.js";
import { type RunHelperOptions, runHelper } from "../../src/docker/helper-runner.js";
import type { DaemonFacts } from "../../src/model/inventory.js";
import { PLUGIN_VERSION } from "../../src/version.js";
import { dockerOk, PRIVATE_HOST, REPO_ROOT } from "./daemon.js";

export const HELPER_DIR = join(REPO_ROOT, "build", "helper");

export function testClient(): DockerodeClient {
  return new DockerodeClient(
    { host: PRIVATE_HOST, context: "default", source: "the tests", configDir: "/nonexistent" },
    { rawGlobals: [] },
  );
}

export interface HelperHarness {
  docker: DockerodeClient;
  daemon: DaemonFacts;
  image: string;
}

export async function helperHarness(): Promise<HelperHarness> {
  const docker = testClient();
  const daemon = await docker.info();
  const { image } = await prepareHelper(docker, daemon, { helperDir: HELPER_DIR, version: PLUGIN_VERSION });
  return { docker, daemon, image: image.id };
}

/** IDs (short) of every helper container on the private daemon, in any state (label of any value). */
export function helperContainers(): string[] {
  return dockerOk(["ps", "-aq", "--filter", `label=${LABEL_HELPER}`])
    .split("\n")
    .filter(Boolean);
}

// biome-ignore lint/suspicious/noExplicitAny: records are checked field by field in the tests
export type AnyRecord = Record<string, any>;

/** Runs a helper verb and returns its exit code, stderr and parsed records. */
export async function runVerb(
  h: HelperHarness,
  mode: RunHelperOptions["mode"],
  args: string[],
  extra: Partial<RunHelperOptions> = {},
): Promise<{ exitCode: number; stderr: string; records: AnyRecord[] }> {
  const records: AnyRecord[] = [];
  const run = await runHelper(h.docker, {
    image: h.image,
    mode,
    args,
    daemon: h.daemon,
    deep: args.includes("--deep"),
    onLine: (line) => records.push(JSON.parse(line)),
    ...extra,
  });
  return { exitCode: run.exitCode, stderr: run.stderr, records };
}
