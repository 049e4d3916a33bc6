/** Colour is decided once, here: FORCE_COLOR wins, then NO_COLOR, then whether the stream is a TTY. */
import { Chalk, type ChalkInstance } from "chalk";

export type ColorLevel = 0 | 1 | 2 | 3;

export function decideColorLevel(env: NodeJS.ProcessEnv, isTTY: boolean): ColorLevel {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") {
    if (force === "0" || force === "false") return 0;
    const n = Number(force);
    return n === 1 || n === 2 || n === 3 ? n : 1;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return 0;
  if (!isTTY || env.TERM === "dumb") return 0;
  return env.COLORTERM === "truecolor" ? 3 : 2;
}

export function makeChalk(level: ColorLevel): ChalkInstance {
  return new Chalk({ level });
}
