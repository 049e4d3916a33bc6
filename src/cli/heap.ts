/**
 * How a run's young generation grows. V8 starts the new space small (1 MiB semi-spaces) and doubles
 * it each time a scavenge finds much of it alive. A scan allocates tens of MB of short-lived
 * objects (mount lines, findings, JSON pieces) in bursts while little of it is alive at once; with
 * the default growth the young generation reaches 16 MiB within the first bursts, every later
 * scavenge walks and copies more, and the process keeps the larger space to the end. Held at its
 * first size, a scan's collections stay small and short: measured on the benchmark host (see
 * BENCHMARKS.md, "Keep the speed, fourth sitting") 2–3 % less CPU and 9–14 MiB less peak memory,
 * the same wall time.
 *
 * The flag is set only once the main bundle is loaded and set back before its code cache is
 * written: V8 stamps a code cache with a hash of its flags and rejects one made under other flags,
 * so the cache must be read and written under the defaults. It is set only on the Node majors where
 * the flag is known to exist with this meaning (checked on 20, 22 and 24); elsewhere nothing changes.
 */
import { setFlagsFromString } from "node:v8";

/** Node majors whose V8 has `--semi-space-growth-factor` with the default 2. */
const KNOWN_MAJORS = new Set([20, 22, 24]);
const DEFAULT_GROWTH = 2;

export interface YoungGeneration {
  /** Whether the young generation is held at its size (false: this Node is left as it is). */
  readonly held: boolean;
  /** Sets the default back (before a code cache is written); idempotent. */
  release(): void;
}

export function holdYoungGeneration(nodeVersion: string = process.versions.node): YoungGeneration {
  const major = Number.parseInt(nodeVersion.split(".")[0] ?? "", 10);
  if (!KNOWN_MAJORS.has(major)) return { held: false, release: () => undefined };
  setFlagsFromString("--semi-space-growth-factor=1");
  let held = true;
  return {
    get held() {
      return held;
    },
    release() {
      if (!held) return;
      held = false;
      setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH}`);
    },
  };
}
