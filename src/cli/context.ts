/** What every command gets: streams, environment, colour, and a lazily connected daemon. */
import type { Writable } from "node:stream";
import type { ChalkInstance } from "chalk";
import type { BaseContext } from "clipanion";
import type { DockerClient } from "../docker/client.js";
import type { Endpoint } from "../docker/endpoint.js";
import type { GlobalOptions } from "./global-flags.js";

export interface LeakContext extends BaseContext {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  globals: GlobalOptions;
  /** Colour for stdout; stderr gets its own decision. */
  color: ChalkInstance;
  errColor: ChalkInstance;
  /** Whether stderr is a terminal (progress lines are shown only then). */
  stderrIsTTY: boolean;
  /** The terminal's width when stdout is one: tables are made to fit it */
  stdoutColumns: number | undefined;
  endpoint(): Endpoint;
  docker(): DockerClient;
  pluginVersion: string;
  /** Where the static helper binaries are (build/helper next to the bundle). */
  helperDir: string;
  /** SIGINT/SIGTERM, or stdout closed: aborts the work (the entry point then exits 130, or 141). */
  interrupts: Interrupts;
}

export interface Interrupts {
  /** Aborted by the first SIGINT/SIGTERM or a closed stdout (EPIPE, reported as SIGPIPE): the work
   * stops and cleans up (helper containers). */
  readonly signal: AbortSignal;
  /** Whether a signal arrived: the work's own failures after that are its consequence, not news. */
  readonly interrupted: boolean;
  /** The signal that interrupted, once one did (watch exits 143 after SIGTERM). */
  readonly by?: NodeJS.Signals | null;
}
