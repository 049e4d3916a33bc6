/**
 * Durations as docker users write them (Go's time.ParseDuration, as in `docker run
 * --health-interval 30s` or `docker stop --time`): a sequence of decimal numbers each with a
 * unit, `ms`, `s`, `m`, `h` ("1m30s", "1.5h", "90s"); a bare number is refused, except "0".
 */
import { UsageError } from "../errors.js";

/** The helper runs' default bound: a scan of a large host takes seconds; a minute is "stuck". */
export const DEFAULT_TIMEOUT = "2m";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;

export function parseDuration(text: string, flag: string): number {
  const fail = (): never => {
    throw new UsageError(`invalid argument "${text}" for "${flag}" flag: time: invalid duration "${text}"`);
  };
  if (text === "0") return 0;
  if (text === "") fail();
  let ms = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== start) fail();
    ms += Number(m?.[1]) * (UNIT_MS[m?.[2] ?? ""] ?? Number.NaN);
  }
  if (!Number.isFinite(ms)) fail();
  return Math.round(ms);
}
