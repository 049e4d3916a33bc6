/**
 * What a workflow needs from the outside, passed in by the command (never read from `process`):
 * the daemon's boundary, where the helper binaries are, the signal that stops everything, the
 * helper runs' bound, a clock, and a sink for progress events (the command decides whether and
 * how to show them).
 */
import type { DockerClient } from "../docker/client.js";

export interface CoreDeps {
  docker: DockerClient;
  /** Where the static helper binaries are (read only when a helper is needed). */
  helperDir: () => string;
  /** The plugin's version (labels and tags the helper image). */
  version: string;
  /** Aborted on SIGINT/SIGTERM: helper containers are removed, InterruptedError is thrown. */
  signal?: AbortSignal;
  /** Bound of each helper run; past it the run is stopped and named (HelperTimeoutError). */
  timeoutMs?: number;
  now?: () => Date;
  onProgress?: (event: ProgressEvent) => void;
}

export type ProgressEvent =
  | { kind: "image"; detail: string }
  | { kind: "scan" }
  | { kind: "unmount"; orders: number }
  | { kind: "stop"; target: string }
  | { kind: "remove"; target: string }
  | { kind: "restart"; container: string }
  | { kind: "verify" }
  | { kind: "idle" };

export function progress(deps: CoreDeps, event: ProgressEvent): void {
  deps.onProgress?.(event);
}
