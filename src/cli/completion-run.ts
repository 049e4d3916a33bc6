/**
 * Answers a `__complete` request (see completion.ts for the protocol). Subcommands, flags and
 * flag values come from the command tree built into the launcher's bundle (scripts/build.mjs),
 * so they load neither clipanion nor the Docker client; only names ask the daemon, bounded in
 * time: a daemon that does not answer in time gets an answer without names, never a hang.
 * Whatever fails, the shell gets the directive and no stack trace.
 */
import { readFileSync } from "node:fs";
import { configDirOf, listContextNames } from "../docker/endpoint.js";
import {
  type CompletionSpec,
  type ContainerEntry,
  contextsAnswer,
  Directive,
  formatAnswer,
  namesAnswer,
  parentRequest,
  parseRequest,
  plan,
} from "./completion.js";
import { type GlobalOptions, splitArgv } from "./global-flags.js";

/** The command tree, computed at build time; undefined when run from source (tsx). */
declare const DOCKER_LEAK_COMPLETION_SPEC: CompletionSpec | undefined;

/** How long names may take (the daemon, and loading the client) before we answer without them. */
export const NAMES_TIMEOUT_MS = 1500;

export interface DaemonNames {
  containers(): Promise<ContainerEntry[]>;
  volumes(): Promise<string[]>;
}

export interface CompletionIO {
  env: NodeJS.ProcessEnv;
  stdout: { write(text: string): unknown };
  /** The command line of the process that ran us (the docker CLI), or null. */
  parentArgv(): string[] | null;
  spec(): Promise<CompletionSpec>;
  names(globals: GlobalOptions, rawGlobals: string[]): Promise<DaemonNames>;
  timeoutMs: number;
}

/** What completion needs of the rest of the plugin (src/cli/full.ts). */
export interface FullBundle {
  completionSpecOfCli(): CompletionSpec;
  daemonNames(globals: GlobalOptions, rawGlobals: string[], env: NodeJS.ProcessEnv): DaemonNames;
}

/** The real process's IO; the rest of the plugin is loaded only when names are asked for. */
export function processCompletionIO(
  env: NodeJS.ProcessEnv,
  stdout: CompletionIO["stdout"],
  loadFull: () => Promise<FullBundle>,
): CompletionIO {
  return {
    env,
    stdout,
    parentArgv: () => readParentArgv(env),
    spec: async () =>
      typeof DOCKER_LEAK_COMPLETION_SPEC === "undefined"
        ? (await loadFull()).completionSpecOfCli()
        : DOCKER_LEAK_COMPLETION_SPEC,
    names: async (globals, rawGlobals) => (await loadFull()).daemonNames(globals, rawGlobals, env),
    timeoutMs: NAMES_TIMEOUT_MS,
  };
}

/** Only when the docker CLI ran us (it sets DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND). */
function readParentArgv(env: NodeJS.ProcessEnv): string[] | null {
  if (!env.DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND || process.platform !== "linux") return null;
  try {
    const raw = readFileSync(`/proc/${process.ppid}/cmdline`, "utf8");
    return raw.replace(/\0$/, "").split("\0");
  } catch {
    return null;
  }
}

/** Answers when `argv` is a completion request; false when it is not one. */
export async function answerCompletion(argv: readonly string[], io: CompletionIO): Promise<boolean> {
  let split: ReturnType<typeof splitArgv>;
  try {
    split = splitArgv(argv);
  } catch {
    return false;
  }
  const request = parseRequest(split.args);
  if (!request) return false;
  let descriptions =
    request.descriptions && !/^(0|f|false)$/i.test(io.env.DOCKER_COMPLETION_DESCRIPTIONS ?? "");
  try {
    let { globals, rawGlobals } = split;
    // docker 26+ passes neither its global flags nor `__completeNoDesc`; its command line has them.
    const parentArgv = io.parentArgv();
    const parent = parentArgv ? parentRequest(parentArgv, split.args.slice(1)) : null;
    if (parent) {
      descriptions &&= parent.descriptions;
      if (rawGlobals.length === 0 && parent.globals.length > 0) {
        const fromParent = splitArgv([...parent.globals, "leak"]);
        globals = fromParent.globals;
        rawGlobals = fromParent.rawGlobals;
      }
    }
    const planned = plan(await io.spec(), request);
    if ("answer" in planned) {
      io.stdout.write(formatAnswer(planned.answer, descriptions));
      return true;
    }
    if ("contexts" in planned) {
      const names = listContextNames(configDirOf(globals, io.env));
      io.stdout.write(formatAnswer(contextsAnswer(planned.contexts, names), false));
      return true;
    }
    const query = planned.names;
    const lists = await withDeadline(io.timeoutMs, async () => {
      const daemon = await io.names(globals, rawGlobals);
      return Promise.all([
        query.containers ? daemon.containers() : Promise.resolve([]),
        query.volumes ? daemon.volumes() : Promise.resolve([]),
      ]);
    });
    const showIds = io.env.DOCKER_COMPLETION_SHOW_CONTAINER_IDS === "yes";
    const answer = lists
      ? namesAnswer(query, lists[0], lists[1], showIds)
      : { candidates: [], directive: Directive.NoFileComp };
    io.stdout.write(formatAnswer(answer, descriptions));
  } catch {
    // Unknown global flags in the parent, an unreadable context, a refused connection: no names.
    io.stdout.write(`:${Directive.NoFileComp}\n`);
  }
  return true;
}

/** The work's result, or undefined when it failed or took longer than `ms`. */
async function withDeadline<T>(ms: number, work: () => Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work().catch(() => undefined), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
