/**
 * An error as the user sees it on stderr: one line (two with a hint) for expected failures, the
 * stack for bugs. Every message and hint is escaped (escape.ts): one line each, no control
 * characters; a stack keeps its frame lines.
 */
import { InterruptedError, LeakError, UsageError } from "../errors.js";
import { escapeForTerminal as esc, escapeStack } from "./escape.js";

/** `command`: the command that failed, for the usage hint (`See 'docker leak rm --help'.`). */
export function describeError(err: unknown, debug = false, command = "docker leak"): string {
  if (err instanceof UsageError) return `docker leak: ${esc(err.message)}\nSee '${command} --help'.`;
  if (err instanceof LeakError) {
    const message = `docker leak: ${esc(err.message)}`;
    return err.hint ? `${message}\n${esc(err.hint)}` : message;
  }
  if (err instanceof InterruptedError) return `docker leak: ${esc(err.message)}`;
  if (err instanceof Error) return debug || !isExpectedSystemError(err) ? escapeStack(err) : esc(err.message);
  return esc(String(err));
}

function isExpectedSystemError(err: Error): boolean {
  return typeof (err as NodeJS.ErrnoException).code === "string";
}
