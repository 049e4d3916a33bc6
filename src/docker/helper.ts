/**
 * Getting the helper ready on a daemon: sweep leftovers of crashed runs, pick the binary for
 * the daemon's architecture (checked against the digest built into the bundle), and make sure our
 * image exists (loading it if needed; see helper-image.ts for what makes an image ours).
 */
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
import type { UnmountOrder } from "../model/findings.js";
import type { DaemonFacts } from "../model/inventory.js";
import type { DockerClient } from "./client.js";
import { ApiError } from "./client.js";
import {
  findHelperImage,
  type HelperImage,
  type HelperLayer,
  helperArch,
  helperTag,
  loadHelperImage,
  locateHelperBinary,
  makeHelperLayer,
} from "./helper-image.js";
import {
  findStaleHelpers,
  helperFailure,
  type RunHelperOptions,
  removeHelpers,
  type StartedHelper,
  startHelper,
} from "./helper-runner.js";

export interface HelperSetup {
  helperDir: string;
  version: string;
  /** Load the image even when our tag already names it (`docker leak helper build`). */
  forceLoad?: boolean;
  /** Progress while the image loads (the caller shows it on a TTY only). */
  onProgress?: (line: string) => void;
}

export interface PreparedHelper {
  image: HelperImage;
  daemon: DaemonFacts;
  /**
   * Loads the image again and makes it `image` (a run whose create finds the image gone, e.g.
   * removed by another version's run or by `helper prune`, calls it and retries once).
   */
  reload?: () => Promise<HelperImage>;
}

/** What prepareHelper needs to know, found without changing anything on the daemon. */
export interface HelperLookup {
  /** The image to have, made from the checked binary of the daemon's architecture. */
  layer: HelperLayer;
  /** Our image, when our tag names it. */
  trusted: HelperImage | undefined;
  /** Helper containers of crashed runs, to remove. */
  stale: string[];
}

/**
 * Read-only, so it can run alongside the inventory before the user's names are checked: the
 * checked binary for the daemon's architecture and the image it makes, our image if the daemon
 * has it, leftovers to sweep.
 */
export async function lookupHelper(docker: DockerClient, setup: HelperSetup): Promise<HelperLookup> {
  // The architecture from `docker info` (the scan asks it anyway); /version only if info lacks it.
  const layer = docker.info().then(async (info) => {
    const arch = info.architecture || (await docker.version()).arch;
    const binary = locateHelperBinary(setup.helperDir, helperArch(arch));
    return makeHelperLayer(binary, { version: setup.version, os: info.osType });
  });
  const trusted = setup.forceLoad
    ? layer.then(() => undefined)
    : findHelperImage(docker, layer, helperTag(setup.version));
  // Only containers of an image we trust are helpers to sweep: the expected one, or the one found.
  const trustedIds = Promise.all([layer, trusted]).then(([l, t]) =>
    t ? [l.expectedId, t.id] : [l.expectedId],
  );
  const [made, found, stale] = await Promise.all([layer, trusted, findStaleHelpers(docker, trustedIds)]);
  return { layer: made, trusted: found, stale };
}

/**
 * Our image (loaded when absent, or when our tag names anything else) and leftovers of crashed
 * runs removed.
 */
export async function prepareHelper(
  docker: DockerClient,
  daemon: DaemonFacts,
  setup: HelperSetup,
  lookup?: Promise<HelperLookup>,
): Promise<PreparedHelper> {
  const found = await (lookup ?? lookupHelper(docker, setup));
  const load = () =>
    loadHelperImage(docker, found.layer, setup.onProgress ? { onProgress: setup.onProgress } : {});
  const [image] = await Promise.all([
    !setup.forceLoad && found.trusted ? found.trusted : load(),
    removeHelpers(docker, found.stale),
  ]);
  const prepared: PreparedHelper = {
    image,
    daemon,
    reload: async () => {
      prepared.image = await load();
      return prepared.image;
    },
  };
  return prepared;
}

const isMissingImage = (err: unknown) =>
  err instanceof ApiError && err.statusCode === 404 && /no such image/i.test(err.message);

/**
 * startHelper on the prepared image. When the create finds the image gone since it was checked
 * ("No such image": no container was made, nothing was output), the image is loaded again and
 * the run retried, once.
 */
export function startPrepared(
  docker: DockerClient,
  helper: PreparedHelper,
  opts: Omit<RunHelperOptions, "image" | "daemon">,
): StartedHelper {
  const first = startHelper(docker, { ...opts, image: helper.image.id, daemon: helper.daemon });
  const reload = helper.reload;
  if (!reload) return first;
  const retry = first.finished.then(
    () => undefined,
    async (err: unknown) => {
      if (!isMissingImage(err)) return undefined;
      const image = await reload();
      return startHelper(docker, { ...opts, image: image.id, daemon: helper.daemon });
    },
  );
  retry.catch(() => undefined); // observed through output and finished
  const orRetry =
    <T>(pick: (run: StartedHelper) => Promise<T>) =>
    (err: unknown): Promise<T> =>
      isMissingImage(err)
        ? retry.then((run) => (run ? pick(run) : Promise.reject(err)))
        : Promise.reject(err);
  const output = first.output.catch(orRetry((run) => run.output));
  const finished = first.finished.catch(orRetry((run) => run.finished));
  output.catch(() => undefined);
  finished.catch(() => undefined);
  return { output, finished };
}

export interface ScanRequest {
  /** Substrings a mountinfo line must contain to be reported (the daemon's real paths). */
  filters: string[];
  deep: boolean;
  /** With deep: the daemon's overlay2 directory, to tie detached overlays to their layers. */
  layersDir?: string;
  /** Stops the run (SIGINT/SIGTERM): see RunHelperOptions. */
  signal?: AbortSignal;
  /** The run's bound: see RunHelperOptions. */
  timeoutMs?: number;
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
  const run = startPrepared(docker, helper, {
    mode: "scan",
    args: [
      ...req.filters.flatMap((f) => ["--filter", f]),
      ...(req.deep ? ["--deep"] : []),
      ...(req.deep && req.layersDir ? ["--layers", req.layersDir] : []),
    ],
    deep: req.deep,
    ...runLimits(req),
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

/**
 * Orders per helper run are bounded well below the kernel's argument limits (ARG_MAX, and 128
 * KiB per argument): a longer plan runs the helper several times, so any number of orders
 * reaches it.
 */
const ORDER_BYTES_PER_RUN = 96 * 1024;
const ORDERS_PER_RUN = 512;

/** Splits formatted orders into runs that each stay within the argument limits. */
export function batchOrders(args: readonly string[]): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const arg of args) {
    const size = Buffer.byteLength(arg) + 1;
    if (current.length && (bytes + size > ORDER_BYTES_PER_RUN || current.length >= ORDERS_PER_RUN)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(arg);
    bytes += size;
  }
  if (current.length) batches.push(current);
  return batches;
}

/**
 * Umount-mode helper runs for all orders; one result per order, in order. `onResult` sees each
 * result as it arrives, so that what was done is known even when a later run fails.
 */
export async function unmountInHolders(
  docker: DockerClient,
  helper: PreparedHelper,
  orders: readonly UnmountOrder[],
  limits: RunLimits = {},
  onResult?: (result: UmountResultRecord) => void,
): Promise<UmountResultRecord[]> {
  const results: UmountResultRecord[] = [];
  for (const batch of batchOrders(orders.map(formatUnmountOrder))) {
    const offset = results.length;
    const got: UmountResultRecord[] = [];
    const run = await startPrepared(docker, helper, {
      mode: "umount",
      args: batch,
      ...runLimits(limits),
      onLine: (line, lineNo) => {
        const record = decodeRecord(line, lineNo);
        if (record.type === "result") {
          if (record.index !== got.length)
            throw new LeakError(`the helper (umount) answered order ${record.index} out of turn`);
          const placed = { ...record, index: offset + record.index };
          got.push(placed);
          onResult?.(placed);
        } else if (record.type === "error")
          throw new LeakError(`the helper (umount) failed: ${record.message}`);
      },
    }).finished.catch(protocolFailure);
    if (run.exitCode !== 0) throw helperFailure("umount", run);
    if (got.length !== batch.length) {
      throw new LeakError(`the helper (umount) reported ${got.length} results for ${batch.length} orders`);
    }
    results.push(...got);
  }
  return results;
}

/** What bounds a helper run: the caller's signal and a deadline. */
export interface RunLimits {
  signal?: AbortSignal;
  timeoutMs?: number;
}

function runLimits(l: RunLimits): RunLimits {
  return {
    ...(l.signal ? { signal: l.signal } : {}),
    ...(l.timeoutMs !== undefined ? { timeoutMs: l.timeoutMs } : {}),
  };
}

function protocolFailure(err: unknown): never {
  if (err instanceof ProtocolError || err instanceof HelperReportedError) {
    throw new LeakError(`the helper's output could not be used: ${err.message}`);
  }
  throw err;
}
