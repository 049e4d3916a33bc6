/**
 * Entry point. The docker CLI runs `docker-leak [GLOBAL OPTIONS] leak [ARGS]`; we strip the
 * globals, resolve the daemon like the CLI, and hand the rest to clipanion, routing its errors
 * to stderr with our exit codes.
 */
import type { Writable } from "node:stream";
import { Builtins, Cli, Command, type CommandClass } from "clipanion";
import type { DockerClient } from "../docker/client.js";
import { DockerodeClient } from "../docker/dockerode-client.js";
import { type Endpoint, localFiles, resolveEndpoint } from "../docker/endpoint.js";
import { ExitCode, exitCodeFor, UsageError } from "../errors.js";
import { describeError } from "../render/error.js";
import { escapeForTerminal, escapeJsonText } from "../render/escape.js";
import { PLUGIN_VERSION } from "../version.js";
import { decideColorLevel, makeChalk } from "./color.js";
import { HelperBuildCommand, HelperPruneCommand } from "./commands/helper.js";
import { InstallCommand, UninstallCommand } from "./commands/install.js";
import { RmCommand } from "./commands/rm.js";
import { ScanCommand } from "./commands/scan.js";
import { VersionCommand } from "./commands/version.js";
import { VolumeRmCommand } from "./commands/volume-rm.js";
import { WatchCommand } from "./commands/watch.js";
import { type CompletionSpec, completionSpec } from "./completion.js";
import { answerCompletion, type DaemonNames, NAMES_TIMEOUT_MS } from "./completion-run.js";
import type { Interrupts, LeakContext } from "./context.js";
import { refuseFleetFlags } from "./fleet.js";
import { type GlobalOptions, splitArgv } from "./global-flags.js";
import {
  checkArguments,
  commandTree,
  type Definition,
  FLAG_VALUES,
  helpText,
  resolve,
  unknownCommandText,
  usageErrorText,
} from "./help.js";

export interface MainIO {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  interrupts: Interrupts;
  helperDir: string;
}

class RootCommand extends Command<LeakContext> {
  static override paths = [Command.Default];
  override async execute(): Promise<number> {
    this.context.stdout.write(this.cli.usage(null));
    return ExitCode.Ok;
  }
}

/**
 * The width help wraps to: docker/cli takes the terminal's (of its stdin); a plugin's stdin may
 * not be a terminal, so the first of stdout and stderr that is one, else 80 like docker.
 */
function helpWidth(io: MainIO): number {
  for (const s of [io.stdout, io.stderr] as { isTTY?: boolean; columns?: number }[]) {
    if (s.isTTY && typeof s.columns === "number" && s.columns > 0) return s.columns;
  }
  return 80;
}

/** Every command; a run registers only the one it runs (see commandsAt). */
const COMMANDS: readonly CommandClass<LeakContext>[] = [
  RootCommand,
  ScanCommand,
  RmCommand,
  VolumeRmCommand,
  WatchCommand,
  VersionCommand,
  InstallCommand,
  UninstallCommand,
  HelperBuildCommand,
  HelperPruneCommand,
  Builtins.HelpCommand,
];

export function buildCli(
  colors: boolean,
  commands: readonly CommandClass<LeakContext>[] = COMMANDS,
): Cli<LeakContext> {
  const cli = new Cli<LeakContext>({
    binaryLabel: "docker leak",
    binaryName: "docker leak",
    binaryVersion: PLUGIN_VERSION,
    enableColors: colors,
  });
  for (const command of commands) cli.register(command);
  return cli;
}

/**
 * The commands whose path is exactly `words`. clipanion compiles a state machine of every command
 * registered, on each run; help and the argument checks work from the definitions (help.ts), so the
 * command being run is the only one clipanion needs to know.
 */
export function commandsAt(words: readonly string[]): CommandClass<LeakContext>[] {
  return COMMANDS.filter((c) =>
    (c.paths ?? []).some((p) => p.length === words.length && p.every((w, i) => w === words[i])),
  );
}

/** What help and the argument checks read of the commands' definitions (JSON, for the build). */
export function helpDefinitions(cli: Cli<LeakContext>): Definition[] {
  return cli.definitions().map(({ path, description, details, examples, options }) => ({
    path,
    ...(description === undefined ? {} : { description }),
    ...(details === undefined ? {} : { details }),
    ...(examples === undefined ? {} : { examples }),
    options: options.map(({ definition, description }) => ({
      definition,
      ...(description === undefined ? {} : { description }),
    })),
  }));
}

/**
 * The commands' definitions, written into the bundle by scripts/build.mjs: clipanion makes them
 * by formatting every command's usage, ~15 ms of each run that only needs one command.
 */
declare const DOCKER_LEAK_HELP_DEFINITIONS: Definition[] | undefined;

function definitions(): Definition[] {
  return typeof DOCKER_LEAK_HELP_DEFINITIONS === "undefined"
    ? helpDefinitions(buildCli(false))
    : DOCKER_LEAK_HELP_DEFINITIONS;
}

/** The command tree for shell completion (built into the launcher's bundle by scripts/build.mjs). */
export function completionSpecOfCli(): CompletionSpec {
  return completionSpec(commandTree(helpDefinitions(buildCli(false))), FLAG_VALUES);
}

/** Container and volume names for shell completion, from the daemon the globals select. */
export function daemonNames(
  globals: GlobalOptions,
  rawGlobals: string[],
  env: NodeJS.ProcessEnv,
): DaemonNames {
  let client: DockerClient | undefined;
  const docker = () => {
    client ??= new DockerodeClient(resolveEndpoint({ globals, env, files: localFiles }), { rawGlobals, env });
    return client;
  };
  return {
    containers: async () =>
      (await docker().listContainers({})).map(({ id, names, state }) => ({ id, names, state })),
    volumes: async () => (await docker().volumes()).map((v) => v.name),
  };
}

export async function main(argv: readonly string[], io: MainIO): Promise<number> {
  const { stdout, stderr, env } = io;
  let split: ReturnType<typeof splitArgv>;
  try {
    split = splitArgv(argv);
  } catch (err) {
    stderr.write(`${describeError(err)}\n`);
    return exitCodeFor(err);
  }
  let args = split.args;
  // Shell completion (the launcher answers it before loading this; see completion-run.ts).
  if (args[0] === "__complete" || args[0] === "__completeNoDesc") {
    await answerCompletion(argv, {
      env,
      stdout,
      parentArgv: () => null,
      spec: async () => completionSpecOfCli(),
      names: async (globals, rawGlobals) => daemonNames(globals, rawGlobals, env),
      timeoutMs: NAMES_TIMEOUT_MS,
    });
    return ExitCode.Ok;
  }
  const tree = commandTree(definitions());
  // Help, in docker's layout: `docker help leak [CMD]` runs `docker-leak help leak [CMD]`;
  // `docker leak help CMD`, `-h`/`--help` anywhere before `--`, and a bare group or root.
  let wantsHelp = false;
  if (args[0] === "help") {
    args = args.slice(args[1] === "leak" ? 2 : 1);
    wantsHelp = true;
  }
  const dashes = args.indexOf("--");
  const head = dashes < 0 ? args : args.slice(0, dashes);
  if (head.some((a) => a === "-h" || a === "--help")) {
    wantsHelp = true;
    args = [...head.filter((a) => a !== "-h" && a !== "--help"), ...(dashes < 0 ? [] : args.slice(dashes))];
  }
  const { node, used, unknown } = resolve(tree, args);
  const printLines = (text: string) => text.split("\n").map(escapeForTerminal).join("\n");
  if (unknown !== null) {
    stderr.write(printLines(unknownCommandText(node, unknown)));
    return ExitCode.Usage;
  }
  if (node === null && args.length > 0 && !wantsHelp) {
    // `docker leak --bogus`: the root takes no flags.
    stderr.write(printLines(`unknown flag: ${args[0]}\nSee 'docker leak --help'.\n`));
    return ExitCode.Usage;
  }
  if (wantsHelp || node === null || node.kind === "group") {
    stdout.write(helpText(tree, node, helpWidth(io)));
    return ExitCode.Ok;
  }
  try {
    refuseFleetFlags(node.words, args.slice(used));
  } catch (err) {
    stderr.write(`${describeError(err, false, `docker leak ${node.words.join(" ")}`)}\n`);
    return ExitCode.Usage;
  }
  const problem = checkArguments(node, args.slice(used));
  if (problem !== null) {
    stderr.write(printLines(usageErrorText(node, problem)));
    return ExitCode.Usage;
  }
  const commandPath = `docker leak ${node.words.join(" ")}`;

  const stdoutLevel = decideColorLevel(env, Boolean(stdout.isTTY));
  const stderrLevel = decideColorLevel(env, Boolean(stderr.isTTY));
  const debug = split.globals.debug === true || env.DOCKER_LEAK_DEBUG === "1";

  let endpoint: Endpoint | undefined;
  let docker: DockerClient | undefined;
  const getEndpoint = () => {
    endpoint ??= resolveEndpoint({ globals: split.globals, env, files: localFiles });
    return endpoint;
  };
  const context: LeakContext = {
    stdin: io.stdin as LeakContext["stdin"],
    stdout,
    stderr,
    env,
    colorDepth: stdoutLevel === 0 ? 1 : 8,
    globals: split.globals,
    color: makeChalk(stdoutLevel),
    errColor: makeChalk(stderrLevel),
    stderrIsTTY: Boolean(stderr.isTTY),
    stdoutColumns: stdout.isTTY ? ((stdout as { columns?: number }).columns ?? 80) : undefined,
    pluginVersion: PLUGIN_VERSION,
    // Read only when a command needs the helper (finding it can cost a few ms in the SEA).
    get helperDir() {
      return io.helperDir;
    },
    interrupts: io.interrupts,
    endpoint: getEndpoint,
    docker: () => {
      docker ??= new DockerodeClient(getEndpoint(), { rawGlobals: split.rawGlobals, env });
      return docker;
    },
  };

  const cli = buildCli(false, commandsAt(node.words));
  let command: Command<LeakContext>;
  try {
    command = cli.process([...args], context);
  } catch (err) {
    // What checkArguments let through and clipanion still refuses.
    const message = err instanceof Error ? err.message.replace(/\n+$/, "") : String(err);
    // It quotes the arguments: escaped, like every message (render/escape.ts).
    stderr.write(
      `docker leak: ${escapeForTerminal(message.split("\n")[0]!)}\nSee '${commandPath} --help'.\n`,
    );
    return ExitCode.Usage;
  }
  const colored = stdoutLevel > 0;
  if (command.help) {
    stdout.write(helpText(tree, node, helpWidth(io)));
    return ExitCode.Ok;
  }
  command.context = context;
  command.cli = {
    binaryLabel: cli.binaryLabel,
    binaryName: cli.binaryName,
    binaryVersion: cli.binaryVersion,
    enableCapture: false,
    enableColors: colored,
    definitions: () => cli.definitions(),
    error: (error, opts) => cli.error(error, opts),
    format: (c) => cli.format(c),
    process: (input, sub) => cli.process(input, { ...context, ...sub }),
    run: (input, sub) => cli.run(input, { ...context, ...sub }),
    usage: (cmd, opts) => cli.usage(cmd, opts),
  };
  try {
    const code = await command.validateAndExecute();
    return typeof code === "number" ? code : ExitCode.Ok;
  } catch (err) {
    // Interrupted: the cleanup broke the work on purpose; the signal handler reports and exits 130.
    if (io.interrupts.interrupted) return ExitCode.Interrupted;
    if (err instanceof Error && err.name === "UsageError" && !(err instanceof UsageError)) {
      // clipanion's own UsageError (validation)
      stderr.write(`docker leak: ${escapeForTerminal(err.message)}\nSee '${commandPath} --help'.\n`);
      return ExitCode.Usage;
    }
    const asJson = args.includes("json") && args.some((a) => a === "--format" || a.startsWith("--format="));
    if (asJson) {
      const error = err instanceof Error ? err.message : String(err);
      stderr.write(`${escapeJsonText(JSON.stringify({ error, exitCode: exitCodeFor(err) }))}\n`);
    } else {
      stderr.write(`${describeError(err, debug, commandPath)}\n`);
    }
    return exitCodeFor(err);
  }
}
