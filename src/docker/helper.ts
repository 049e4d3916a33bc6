/**
 * Getting the helper ready on a daemon: sweep leftovers of crashed runs, pick the binary for
 * the daemon's architecture, and make sure a trusted image exists (building it if needed).
 */
import type { Interrupts } from "../cli/context.js";
import { LeakError } from "../errors.js";
import {
  collectScan,
  decodeRecord,
  formatUnmountOrder,
  type HelperRecord,
  HelperReportedError,
  type HelperScan,
  ProtocolError,
  type UmountResultRecord,
} from "../helper/protocol.js";
import type { DaemonFacts } from "../model/inventory.js";
import type { DockerClient } from "./client.js";
import { ensureHelperImage, type HelperImage, helperArch, locateHelperBinary } from "./helper-image.js";
import { helperFailure, runHelper, sweepStaleHelpers } from "./helper-runner.js";

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

export interface ScanRequest {
  /** Substrings a mountinfo line must contain to be reported (the daemon's real paths). */
  filters: string[];
  deep: boolean;
  /** With deep: the daemon's overlay2 directory, to tie detached overlays to their layers. */
  layersDir?: string;
  interrupts?: Interrupts;
}

/** One scan-mode helper run, decoded and checked for completeness. */
export async function scanHost(
  docker: DockerClient,
  helper: PreparedHelper,
  req: ScanRequest,
): Promise<HelperScan> {
  const records: HelperRecord[] = [];
  const run = await runHelper(docker, {
    image: helper.image.id,
    mode: "scan",
    args: [
      ...req.filters.flatMap((f) => ["--filter", f]),
      ...(req.deep ? ["--deep"] : []),
      ...(req.deep && req.layersDir ? ["--layers", req.layersDir] : []),
    ],
    daemon: helper.daemon,
    ...(req.interrupts ? { interrupts: req.interrupts } : {}),
    onLine: (line, lineNo) => records.push(decodeRecord(line, lineNo)),
  }).catch(protocolFailure);
  if (run.exitCode !== 0) throw helperFailure("scan", run);
  try {
    return collectScan(records);
  } catch (err) {
    return protocolFailure(err);
  }
}

/** One umount-mode helper run for all orders; one result per order, in order. */
export async function unmountInHolders(
  docker: DockerClient,
  helper: PreparedHelper,
  orders: readonly UnmountOrderArg[],
  interrupts?: Interrupts,
): Promise<UmountResultRecord[]> {
  const results: UmountResultRecord[] = [];
  const run = await runHelper(docker, {
    image: helper.image.id,
    mode: "umount",
    args: orders.map(formatUnmountOrder),
    daemon: helper.daemon,
    ...(interrupts ? { interrupts } : {}),
    onLine: (line, lineNo) => {
      const record = decodeRecord(line, lineNo);
      if (record.type === "result") results.push(record);
      else if (record.type === "error") throw new LeakError(`the helper (umount) failed: ${record.message}`);
    },
  }).catch(protocolFailure);
  if (run.exitCode !== 0) throw helperFailure("umount", run);
  if (results.length !== orders.length) {
    throw new LeakError(`the helper (umount) reported ${results.length} results for ${orders.length} orders`);
  }
  return results;
}

export interface UnmountOrderArg {
  pid: number;
  mountId: number;
  /** Raw (escaped) mount point, as in the holder's mountinfo. */
  mountPoint: string;
  /** Fingerprint of the mountinfo line seen at scan time. */
  fingerprint?: string;
}

function protocolFailure(err: unknown): never {
  if (err instanceof ProtocolError || err instanceof HelperReportedError) {
    throw new LeakError(`the helper's output could not be used: ${err.message}`);
  }
  throw err;
}
