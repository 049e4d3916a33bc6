/**
 * Error kinds and exit codes, in one place. A command returns an ExitCode; anything thrown
 * is classified by `exitCodeFor` and printed by the entry point: usage errors and expected
 * failures as one line on stderr, bugs with their stack. Messages may quote the daemon, the
 * helper or names from the scanned system: render/error.ts escapes them for the terminal.
 */

export const ExitCode = {
  Ok: 0,
  Error: 1,
  Usage: 2,
  /** `scan` found leaks, or `rm` could not clear every target. */
  LeaksFound: 3,
  Interrupted: 130,
  /** stdout was closed before the end (128 + SIGPIPE, as a shell reports a process SIGPIPE ended). */
  OutputClosed: 141,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The user's fault: wrong flags, conflicting options. Printed with a hint to --help. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An expected failure: unreachable daemon, unknown container, refused permission. No stack. */
export class LeakError extends Error {
  override name = "LeakError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A failure of the daemon connection, with how the endpoint was chosen. */
export class DaemonError extends LeakError {
  override name = "DaemonError";
}

/** Raised by the helper runner when the user interrupts (SIGINT/SIGTERM). */
export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof UsageError) return ExitCode.Usage;
  if (err instanceof InterruptedError) return ExitCode.Interrupted;
  return ExitCode.Error;
}
