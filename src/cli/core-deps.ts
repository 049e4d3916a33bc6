/**
 * The core's dependencies made from the command's context: the daemon client, the helper
 * binaries (found only when a helper is needed), the interrupt signal, the helper runs' bound,
 * and progress shown as one status line on stderr when it is a terminal.
 */
import type { CoreDeps, ProgressEvent } from "../core/deps.js";
import type { LeakContext } from "./context.js";
import { type Progress, type ProgressMode, progressFor } from "./progress.js";

export function progressText(e: ProgressEvent): string | null {
  switch (e.kind) {
    case "image":
      return `Loading the helper image: ${e.detail}`;
    case "scan":
      return "Scanning mount namespaces…";
    case "unmount":
      return `Releasing ${e.orders} leaked mount${e.orders === 1 ? "" : "s"}…`;
    case "stop":
      return `Stopping ${e.target}…`;
    case "remove":
      return `Removing ${e.target}…`;
    case "restart":
      return `Restarting holder container ${e.container}…`;
    case "verify":
      return "Verifying…";
    case "idle":
      return null;
  }
}

export function coreDeps(
  ctx: LeakContext,
  timeoutMs: number,
  mode: ProgressMode = "auto",
): { deps: CoreDeps; progress: Progress } {
  const progress = progressFor(mode, ctx.stderr, ctx.stderrIsTTY);
  const deps: CoreDeps = {
    docker: ctx.docker(),
    helperDir: () => ctx.helperDir,
    version: ctx.pluginVersion,
    signal: ctx.interrupts.signal,
    timeoutMs,
    now: () => new Date(),
    onProgress: (e) => {
      const text = progressText(e);
      if (text === null) progress.done();
      else progress.update(text);
    },
  };
  return { deps, progress };
}
