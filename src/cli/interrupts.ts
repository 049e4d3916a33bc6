/**
 * SIGINT/SIGTERM handling: the first signal aborts the work's AbortSignal (every helper run then
 * removes its container and the workflow throws InterruptedError; the command reports what was
 * done and exits 130, like the docker CLI). If the cleanup takes longer than `cleanupTimeoutMs`,
 * or a second signal arrives, the process exits 130 at once.
 *
 * A closed stdout (`docker leak watch | head -3`) is what a Go CLI dies of, silently, by SIGPIPE.
 * Node ignores SIGPIPE and reports EPIPE as an error event on stdout instead, which would crash
 * the run wherever it is (with a running helper container left behind). It stops the work as a
 * signal does, without a word (the reader is gone), and the run exits 141 (128 + SIGPIPE).
 */
import { ExitCode } from "../errors.js";
import type { Interrupts } from "./context.js";

export function installInterrupts(
  proc: NodeJS.Process,
  report: (message: string) => void,
  cleanupTimeoutMs = 15_000,
): Interrupts {
  const controller = new AbortController();
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) proc.exit(130);
    interrupted = signal;
    report(`docker leak: interrupted by ${signal}, cleaning up`);
    controller.abort();
    setTimeout(() => proc.exit(130), cleanupTimeoutMs).unref();
  };
  proc.on("SIGINT", onSignal);
  proc.on("SIGTERM", onSignal);
  proc.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err; // as without this handler: any other error is a crash
    if (interrupted) return;
    interrupted = "SIGPIPE";
    controller.abort();
    setTimeout(() => proc.exit(ExitCode.OutputClosed), cleanupTimeoutMs).unref();
  });
  return {
    signal: controller.signal,
    get interrupted() {
      return interrupted !== null;
    },
    get by() {
      return interrupted;
    },
  };
}
