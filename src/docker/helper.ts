/**
 * Getting the helper ready on a daemon: sweep leftovers of crashed runs, pick the binary for
 * the daemon's architecture, and make sure a trusted image exists (building it if needed).
 */
import type { DaemonFacts } from "../model/inventory.js";
import type { DockerClient } from "./client.js";
import { ensureHelperImage, type HelperImage, helperArch, locateHelperBinary } from "./helper-image.js";
import { sweepStaleHelpers } from "./helper-runner.js";

export interface HelperSetup {
  helperDir: string;
  version: string;
  /** Rebuild even when a trusted image exists. */
  forceBuild?: boolean;
  /** Progress while the image builds (the caller shows it on a TTY only). */
  onProgress?: (line: string) => void;
}

export interface PreparedHelper {
  image: HelperImage;
  daemon: DaemonFacts;
}

export async function prepareHelper(
  docker: DockerClient,
  daemon: DaemonFacts,
  setup: HelperSetup,
): Promise<PreparedHelper> {
  const version = await docker.version();
  const binary = locateHelperBinary(setup.helperDir, helperArch(version.arch || daemon.architecture));
  const [image] = await Promise.all([
    ensureHelperImage(docker, binary, {
      version: setup.version,
      force: setup.forceBuild ?? false,
      ...(setup.onProgress ? { onProgress: setup.onProgress } : {}),
    }),
    sweepStaleHelpers(docker),
  ]);
  return { image, daemon };
}
