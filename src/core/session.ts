/**
 * The helper's whole lifetime for one workflow: the image made ready (and leftovers of crashed
 * runs swept) once, every run started through it bounded by the caller's signal and deadline,
 * and one `close()` that waits until every helper container is gone. A workflow opens one
 * session and closes it in a `finally`.
 */
import {
  type HelperLookup,
  lookupHelper,
  type PreparedHelper,
  prepareHelper,
  type ScanInProgress,
  type ScanRequest,
  startScan,
  unmountInHolders,
} from "../docker/helper.js";
import { LABEL_HELPER } from "../docker/helper-image.js";
import { InterruptedError } from "../errors.js";
import type { UmountResultRecord } from "../helper/protocol.js";
import type { UnmountOrder } from "../model/findings.js";
import type { ContainerInfo, DaemonFacts } from "../model/inventory.js";
import { type CoreDeps, progress } from "./deps.js";

/** Starts the read-only part of getting the helper ready (it can run beside the inventory). */
export function startLookup(deps: CoreDeps): Promise<HelperLookup> {
  const lookup = lookupHelper(deps.docker, { helperDir: deps.helperDir(), version: deps.version });
  lookup.catch(() => undefined); // awaited by open(), unless the inventory fails first
  return lookup;
}

export class HelperSession {
  private readonly runs: Promise<void>[] = [];
  private closed = false;

  private constructor(
    private readonly deps: CoreDeps,
    private readonly helper: PreparedHelper,
  ) {}

  /** Makes the image ready (loading it when the daemon lacks it) and sweeps leftovers. */
  static async open(
    deps: CoreDeps,
    daemon: DaemonFacts,
    lookup?: Promise<HelperLookup>,
  ): Promise<HelperSession> {
    throwIfAborted(deps.signal);
    const helper = await prepareHelper(
      deps.docker,
      daemon,
      {
        helperDir: deps.helperDir(),
        version: deps.version,
        onProgress: (detail) => progress(deps, { kind: "image", detail }),
      },
      lookup,
    );
    progress(deps, { kind: "idle" });
    return new HelperSession(deps, helper);
  }

  /** The image every run of this session uses. */
  get imageId(): string {
    return this.helper.image.id;
  }

  /**
   * docker leak's own helper containers among `containers` (of this and of concurrent runs):
   * our label, set on the container by the plugin, and our image. They are never targets.
   */
  helperContainers(containers: readonly ContainerInfo[]): Set<string> {
    return new Set(
      containers
        .filter((c) => c.labels[LABEL_HELPER] !== undefined && c.imageId === this.helper.image.id)
        .map((c) => c.id),
    );
  }

  /** One scan run; its output is usable before its container is gone (close() waits for that). */
  scan(req: Omit<ScanRequest, "signal" | "timeoutMs">): ScanInProgress {
    this.checkOpen();
    progress(this.deps, { kind: "scan" });
    const run = startScan(this.deps.docker, this.helper, { ...req, ...this.limits() });
    this.runs.push(run.finished);
    return run;
  }

  /** Unmount runs for `orders`; `onResult` sees each result as it arrives. */
  async unmount(
    orders: readonly UnmountOrder[],
    onResult?: (result: UmountResultRecord) => void,
  ): Promise<UmountResultRecord[]> {
    this.checkOpen();
    if (!orders.length) return [];
    progress(this.deps, { kind: "unmount", orders: orders.length });
    const done = unmountInHolders(this.deps.docker, this.helper, orders, this.limits(), onResult);
    // Its failure is the caller's to report; close() only waits for it.
    this.runs.push(
      done.then(
        () => undefined,
        () => undefined,
      ),
    );
    return done;
  }

  /**
   * Waits until every run's container is gone; the first failed run (a helper that exited
   * non-zero) fails it. Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    const settled = await Promise.allSettled(this.runs.splice(0));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
  }

  private limits(): { signal?: AbortSignal; timeoutMs?: number } {
    return {
      ...(this.deps.signal ? { signal: this.deps.signal } : {}),
      ...(this.deps.timeoutMs !== undefined ? { timeoutMs: this.deps.timeoutMs } : {}),
    };
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("helper session used after close()");
    throwIfAborted(this.deps.signal);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError("SIGINT");
}
