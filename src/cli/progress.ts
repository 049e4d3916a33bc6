/** One self-overwriting status line on stderr, shown only when stderr is a terminal. */
import type { Writable } from "node:stream";
import { escapeForTerminal } from "../render/escape.js";

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
