/**
 * A V8 flag held for one run. A command is a short process (a scan takes a quarter of a second),
 * and V8's young generation is sized for long ones: it starts small (1 MiB semi-spaces) and
 * doubles each time a scavenge finds much of it alive. A scan allocates tens of MB of short-lived
 * objects (mount lines, findings, JSON pieces) in bursts while little of it is alive at once;
 * with the default growth the young generation reaches 16 MiB within the first bursts, every
 * later scavenge walks and copies more, and the process keeps the larger space to the end. Held
 * at its first size (`--semi-space-growth-factor=1`), collections stay small and short, and the
 * peak memory of a large scan is a fifth lower for the same time (BENCHMARKS.md, "Keep the speed").
 *
 * TurboFan's budget is left as it is: twice Node 20's `--interrupt-budget` saves a few percent of
 * CPU on small scans, but no wall time on small or large ones (A/B, BENCHMARKS.md), which is not
 * worth a second flag that only one Node major has.
 *
 * The flag is set only once the main bundle is loaded and set back before its code cache is
 * written: V8 stamps a code cache with a hash of its flags and rejects one made under other flags,
 * so the cache must be read and written under the defaults. It is set only on the Node majors
 * where it was checked to exist with that default (`node --v8-options` of 20.20, 22.23 and
 * 24.22); elsewhere nothing changes.
 */
import { setFlagsFromString } from "node:v8";

export interface HeldFlag {
  /** The flag's name, without dashes. */
  name: string;
  /** The value for the run. */
  held: number;
  /** V8's default for that Node major, set back on release. */
  defaultValue: number;
}

const GROWTH: HeldFlag = { name: "semi-space-growth-factor", held: 1, defaultValue: 2 };

/** What is held, per Node major. */
export const HELD_FLAGS: Readonly<Record<number, readonly HeldFlag[]>> = {
  20: [GROWTH],
  22: [GROWTH],
  24: [GROWTH],
};

export interface RunFlags {
  /** The flags held now (none: this Node is left as it is, or they were released). */
  readonly held: readonly HeldFlag[];
  /** Sets the defaults back (before a code cache is written); idempotent. */
  release(): void;
}

/**
 * `nodeOptions`: the flags Node was started with (its arguments and NODE_OPTIONS). A flag set
 * there is the user's: it is left alone (setting "back" V8's default would also make the code
 * cache's flags differ from the ones it is read under, and remake it on every run).
 */
export function holdRunFlags(
  nodeVersion: string = process.versions.node,
  nodeOptions: string = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`,
): RunFlags {
  const major = Number.parseInt(nodeVersion.split(".")[0] ?? "", 10);
  // V8 takes a flag's dashes and underscores alike.
  const given = nodeOptions.replaceAll("_", "-");
  let held = (HELD_FLAGS[major] ?? []).filter((f) => !given.includes(`-${f.name}`));
  for (const f of held) setFlagsFromString(`--${f.name}=${f.held}`);
  return {
    get held() {
      return held;
    },
    release() {
      for (const f of held) setFlagsFromString(`--${f.name}=${f.defaultValue}`);
      held = [];
    },
  };
}
