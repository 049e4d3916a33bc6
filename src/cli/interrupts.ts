/**
 * SIGINT/SIGTERM handling: run every registered cleanup (e.g. remove the helper container),
 * then exit 130 like the docker CLI. A second signal exits at once.
 */
import type { Interrupts } from "./context.js";

export function installInterrupts(
  proc: NodeJS.Process,
  report: (message: string) => void,
  cleanupTimeoutMs = 15_000,
): Interrupts {
  const cleanups = new Set<() => Promise<void>>();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) proc.exit(130);
    interrupted = true;
    report(`docker leak: interrupted by ${signal}${cleanups.size ? ", cleaning up" : ""}`);
    const all = Promise.allSettled([...cleanups].map((c) => c()));
    const timeout = new Promise((resolve) => setTimeout(resolve, cleanupTimeoutMs).unref());
    void Promise.race([all, timeout]).then(() => proc.exit(130));
  };
  proc.on("SIGINT", onSignal);
  proc.on("SIGTERM", onSignal);
  return {
    onInterrupt(cleanup) {
      cleanups.add(cleanup);
      return () => cleanups.delete(cleanup);
    },
    get interrupted() {
      return interrupted;
    },
  };
}
