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
import {
  buildHelperImage,
  type HelperBinary,
  type HelperImage,
  helperArch,
  locateHelperBinary,
  trustedHelperImage,
} from "./helper-image.js";
import { findStaleHelpers, helperFailure, removeHelpers, runHelper, startHelper } from "./helper-runner.js";

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

/** What prepareHelper needs to know, found without changing anything on the daemon. */
export interface HelperLookup {
  binary: HelperBinary;
  /** The image under our tag, when it carries this binary's SHA-256. */
  trusted: HelperImage | undefined;
  /** Helper containers of crashed runs, to remove. */
  stale: string[];
}

/**
 * Read-only, so it can run alongside the inventory before the user's names are checked: the
 * binary for the daemon's architecture, the trusted image if there is one, leftovers to sweep.
 */
export async function lookupHelper(docker: DockerClient, setup: HelperSetup): Promise<HelperLookup> {
  // The architecture from `docker info` (the scan asks it anyway); /version only if info lacks it.
  const located = docker.info().then(async (info) => {
    const arch = info.architecture || (await docker.version()).arch;
    return locateHelperBinary(setup.helperDir, helperArch(arch));
  });
  const [binary, trusted, stale] = await Promise.all([
    located,
    setup.forceBuild ? undefined : trustedHelperImage(docker, located, setup.version),
    findStaleHelpers(docker),
  ]);
  return { binary, trusted, stale };
}

/**
 * A trusted image (built when absent, stale, or not ours) and leftovers of crashed runs removed.
 */
export async function prepareHelper(
  docker: DockerClient,
  daemon: DaemonFacts,
  setup: HelperSetup,
  lookup?: Promise<HelperLookup>,
): Promise<PreparedHelper> {
  const found = await (lookup ?? lookupHelper(docker, setup));
  const [image] = await Promise.all([
    found.trusted ??
      buildHelperImage(docker, found.binary, {
        version: setup.version,
        ...(setup.onProgress ? { onProgress: setup.onProgress } : {}),
      }),
    removeHelpers(docker, found.stale),
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

export interface ScanInProgress {
  /** The decoded scan, as soon as the helper has written its summary. */
  scan: Promise<HelperScan>;
  /** Resolves once the helper exited with status 0 and its container is gone. */
  finished: Promise<void>;
}

/**
 * One scan-mode helper run, decoded and checked for completeness, whose output is usable before
 * the container has exited: the caller can analyse while the daemon tears the container down,
 * and must await `finished` before the command ends.
 */
export function startScan(docker: DockerClient, helper: PreparedHelper, req: ScanRequest): ScanInProgress {
  const records: HelperRecord[] = [];
  const run = startHelper(docker, {
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
    outputComplete: () => records[records.length - 1]?.type === "summary",
  });
  const finished = run.finished.catch(protocolFailure).then((done) => {
    if (done.exitCode !== 0) throw helperFailure("scan", done);
  });
  const scan = run.output.catch(protocolFailure).then(
    () => {
      try {
        return collectScan(records);
      } catch (err) {
        // A cut-off or inconsistent output: the exit status, once known, usually says why.
        return finished.then(() => protocolFailure(err));
      }
    },
    (err: unknown) => finished.then(() => Promise.reject(err)),
  );
  finished.catch(() => undefined);
  scan.catch(() => undefined);
  return { scan, finished };
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
