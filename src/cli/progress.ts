/**
 * Progress on stderr, like buildx's `--progress`: `tty`, one self-overwriting status line;
 * `plain`, each new status on a line of its own; `quiet`, nothing; `auto` (the default), `tty`
 * when stderr is a terminal and nothing otherwise (a scan's progress carries no result, and
 * scripts read stderr for errors).
 */
import type { Writable } from "node:stream";
import { UsageError } from "../errors.js";
import { escapeForTerminal } from "../render/escape.js";

export const PROGRESS_MODES = ["auto", "plain", "tty", "quiet"] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export function parseProgressMode(value: string): ProgressMode {
  if ((PROGRESS_MODES as readonly string[]).includes(value)) return value as ProgressMode;
  throw new UsageError(`invalid --progress "${value}": use ${PROGRESS_MODES.join(", ")}`);
}

export function progressFor(mode: ProgressMode, stderr: Writable, isTTY: boolean): Progress {
  const effective = mode === "auto" ? (isTTY ? "tty" : "quiet") : mode;
  if (effective === "tty") return progressLine(stderr, true);
  if (effective === "quiet") return progressLine(stderr, false);
  let last = "";
  return {
    update(text) {
      if (text === last) return;
      last = text;
      stderr.write(`${escapeForTerminal(text)}\n`);
    },
    done() {
      last = "";
    },
  };
}

export interface Progress {
  update(text: string): void;
  done(): void;
}

export function progressLine(stderr: Writable, isTTY: boolean): Progress {
  if (!isTTY) return { update: () => undefined, done: () => undefined };
  let shown = false;
  const columns = (stderr as { columns?: number }).columns ?? 80;
  return {
    update(text) {
      // The text may quote the daemon's build output: escaped, so that it stays on this line.
      stderr.write(`\r\x1b[2K${escapeForTerminal(text).slice(0, columns - 1)}`);
      shown = true;
    },
    done() {
      if (shown) stderr.write("\r\x1b[2K");
      shown = false;
    },
  };
}
