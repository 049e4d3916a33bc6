/**
 * `scan --context A --context B | --all-contexts`: the daemons are the named contexts (read from
 * the context store like docker does), each scanned through its own client by core/fleet.ts;
 * rendered by render/fleet.ts. Progress on a terminal: one line per daemon.
 */
import type { Writable } from "node:stream";
import type { CoreDeps } from "../core/deps.js";
import { type FleetMember, runFleetScan } from "../core/fleet.js";
import type { ScanOptions } from "../core/scan.js";
import { DockerodeClient } from "../docker/dockerode-client.js";
import {
  configDirOf,
  type Endpoint,
  listContextNames,
  localFiles,
  resolveEndpoint,
} from "../docker/endpoint.js";
import { LeakError, UsageError } from "../errors.js";
import type { ScanReport } from "../model/findings.js";
import { type NodeFacts, routeNodes } from "../model/swarm.js";
import { describeError } from "../render/error.js";
import { escapeForTerminal } from "../render/escape.js";
import { NODE_HOST_FIELDS } from "../render/fields.js";
import {
  fleetExitCode,
  fleetRows,
  fleetSummary,
  fleetView,
  renderFleetJson,
  renderFleetQuiet,
  renderFleetTable,
} from "../render/fleet.js";
import {
  checkTemplate,
  executeTemplate,
  type OutputFormat,
  parseTemplate,
  renderTemplate,
  TemplateError,
} from "../render/template.js";
import type { LeakContext } from "./context.js";
import { progressText } from "./core-deps.js";
import type { ProgressMode } from "./progress.js";
import { writePieces } from "./write-pieces.js";

export interface FleetScanFlags {
  contexts: readonly string[];
  allContexts: boolean;
  swarm: boolean;
  nodeHost: string | undefined;
  parallel: string;
  format: OutputFormat;
  quiet: boolean;
  noTrunc: boolean;
  timeoutMs: number;
  progress: ProgressMode;
}

/**
 * `--node-host TEMPLATE` as a function of a node: the same Go-template subset as --format, over
 * .Hostname, .Addr and .ID; anything else is a usage error before anything runs. The values are
 * the manager's words, escaped like any text from the system.
 */
export function nodeHostTemplate(source: string): (node: NodeFacts) => string {
  try {
    const template = parseTemplate(source);
    checkTemplate(template, NODE_HOST_FIELDS);
    return (node) => executeTemplate(template, { Hostname: node.hostname, Addr: node.addr, ID: node.id });
  } catch (err) {
    if (err instanceof TemplateError) throw new UsageError(`--node-host: ${err.message}`);
    throw err;
  }
}

/** Whether the flags ask for a scan of many daemons (else the one the globals select). */
export function wantsFleet(
  contexts: readonly string[] | undefined,
  allContexts: boolean,
  swarm = false,
): boolean {
  return allContexts || swarm || (contexts?.length ?? 0) > 0;
}

/** `--context a,b --context c` → a, b, c (each once, in order). */
export function contextNames(values: readonly string[]): string[] {
  const names = values.flatMap((v) => v.split(",")).map((n) => n.trim());
  if (names.some((n) => n === "")) throw new UsageError("--context: empty context name");
  return [...new Set(names)];
}

export function parseParallel(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1)
    throw new UsageError(`invalid --parallel "${value}": use a number of 1 or more`);
  return n;
}

/** `rm` and `volume rm` act on one daemon: they refuse the fleet's flags with a usage error. */
export function refuseFleetFlags(command: readonly string[], args: readonly string[]): void {
  if (command[0] === "scan") return;
  const dashes = args.indexOf("--");
  const flag = (dashes < 0 ? args : args.slice(0, dashes)).find((a) =>
    /^--(context|all-contexts|swarm|node-host)(=|$)/.test(a),
  );
  if (flag === undefined) return;
  const name = flag.replace(/=.*/s, "");
  throw new UsageError(
    `docker leak ${command.join(" ")} works on one daemon and does not take ${name}: choose it with 'docker --context NAME leak ${command.join(" ")} …'`,
  );
}

/**
 * Scans the daemons and renders. One daemon alone is rendered as a plain scan is (`renderOne`),
 * and its failure is the command's.
 */
export async function runFleetScanCommand(
  ctx: LeakContext,
  flags: FleetScanFlags,
  scan: ScanOptions,
  renderOne: (report: ScanReport, context: string) => number,
): Promise<number> {
  const parallel = parseParallel(flags.parallel);
  const globals = ctx.globals;
  const configDir = configDirOf(globals, ctx.env);
  const chosen = [flags.allContexts, flags.swarm, flags.contexts.length > 0].filter(Boolean).length;
  if (chosen > 1) throw new UsageError("--context, --all-contexts and --swarm cannot be combined");
  if (flags.nodeHost !== undefined && !flags.swarm) throw new UsageError("--node-host needs --swarm");
  const hostOf = flags.nodeHost === undefined ? undefined : nodeHostTemplate(flags.nodeHost);
  const deps = (endpoint: Endpoint, rawGlobals: string[]) => (): CoreDeps => ({
    docker: new DockerodeClient(endpoint, { rawGlobals, env: ctx.env }),
    helperDir: () => ctx.helperDir,
    version: ctx.pluginVersion,
    signal: ctx.interrupts.signal,
    timeoutMs: flags.timeoutMs,
    now: () => new Date(),
  });
  const config = globals.config ? ["--config", globals.config] : [];
  const ofContext = (name: string): FleetMember => {
    // Checked before anything runs: an unknown context is the user's mistake.
    const endpoint = resolveEndpoint({
      globals: { ...globals, host: undefined, context: name },
      env: ctx.env,
      files: localFiles,
    });
    return {
      context: name,
      endpoint: endpoint.host,
      connect: deps(endpoint, [...config, "--context", name]),
    };
  };
  let members: FleetMember[];
  if (flags.swarm) {
    const manager = ctx.docker();
    if (!manager.swarmNodes) throw new UsageError("--swarm: this daemon client cannot list Swarm nodes");
    const nodes = await manager.swarmNodes();
    const routes = routeNodes(nodes, new Set(listContextNames(configDir)), hostOf);
    members = routes.map((route) => {
      if ("context" in route) return ofContext(route.context);
      if ("host" in route) {
        const endpoint = resolveEndpoint({
          globals: { ...globals, context: undefined, host: [route.host] },
          env: ctx.env,
          files: localFiles,
        });
        return {
          context: route.node.hostname,
          endpoint: endpoint.host,
          connect: deps(endpoint, [...config, "-H", route.host]),
        };
      }
      return {
        context: route.node.hostname,
        endpoint: route.node.addr,
        connect: () => {
          throw new LeakError(route.problem);
        },
      };
    });
  } else {
    const names = flags.allContexts ? listContextNames(configDir) : contextNames(flags.contexts);
    members = names.map(ofContext);
  }
  const names = members.map((m) => m.context);
  const progress = fleetProgress(flags.progress, ctx.stderr, ctx.stderrIsTTY, names);
  let results: Awaited<ReturnType<typeof runFleetScan>>;
  try {
    results = await runFleetScan(members, {
      scan,
      parallel,
      signal: ctx.interrupts.signal,
      // --timeout bounds each daemon's whole scan too (its helper runs are bounded within it).
      deadlineMs: flags.timeoutMs,
      onState: (context, state, event) => {
        const detail = event ? progressText(event) : null;
        progress.update(context, detail ? `${state}: ${detail}` : state);
      },
    });
  } finally {
    progress.done();
  }
  if (results.length === 1) {
    const only = results[0]!;
    if (only.status === "error") throw only.error;
    return renderOne(only.report!, only.context);
  }
  const fleet = fleetView(
    results.map((r) => ({
      context: r.context,
      endpoint: r.endpoint,
      ...(r.report ? { report: r.report } : {}),
      ...(r.status === "error" ? { error: errorText(r.error) } : {}),
    })),
  );
  if (flags.quiet) ctx.stdout.write(renderFleetQuiet(fleet, flags.noTrunc));
  else if (flags.format.kind === "json") writePieces(ctx.stdout, renderFleetJson(fleet));
  else if (flags.format.kind === "template") {
    const rows = fleetRows(fleet, flags.noTrunc);
    if (rows.length) ctx.stdout.write(renderTemplate(flags.format, rows));
  } else
    ctx.stdout.write(
      renderFleetTable(fleet, { noTrunc: flags.noTrunc, color: ctx.color, width: ctx.stdoutColumns }),
    );
  for (const r of results) {
    for (const w of r.report?.warnings ?? [])
      ctx.stderr.write(
        `${ctx.errColor.yellow("warning:")} ${escapeForTerminal(r.context)}: ${escapeForTerminal(w)}\n`,
      );
  }
  // Failures always reach stderr (also with -q and JSON): the others' results are on stdout.
  if (flags.quiet) {
    for (const d of fleet.daemons)
      if ("error" in d.result)
        ctx.stderr.write(
          `${escapeForTerminal(d.context)}: ${ctx.errColor.red("error:")} ${escapeForTerminal(d.result.error)}\n`,
        );
  } else ctx.stderr.write(fleetSummary(fleet, ctx.errColor));
  return fleetExitCode(fleet);
}

/** The error's message as one line of plain text (no "docker leak:" prefix, no hint). */
function errorText(err: unknown): string {
  const text = describeError(err).replace(/^docker leak: /, "");
  return text.split("\n")[0] ?? text;
}

interface FleetProgress {
  update(context: string, text: string): void;
  done(): void;
}

/**
 * On a terminal, one line per daemon, redrawn in place; `plain`, each change on a line of its
 * own; otherwise nothing.
 */
export function fleetProgress(
  mode: ProgressMode,
  stderr: Writable,
  isTTY: boolean,
  contexts: readonly string[],
): FleetProgress {
  const effective = mode === "auto" ? (isTTY ? "tty" : "quiet") : mode;
  if (effective === "quiet" || (effective === "tty" && !isTTY))
    return { update: () => undefined, done: () => undefined };
  if (effective === "plain") {
    const last = new Map<string, string>();
    return {
      update(context, text) {
        if (last.get(context) === text) return;
        last.set(context, text);
        stderr.write(`${escapeForTerminal(context)}: ${escapeForTerminal(text)}\n`);
      },
      done: () => undefined,
    };
  }
  const columns = (stderr as { columns?: number }).columns ?? 80;
  const lines = new Map(contexts.map((c) => [c, "waiting"]));
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    timer = undefined;
    let out = drawn ? `\x1b[${drawn}A` : "";
    for (const [context, text] of lines)
      out += `\r\x1b[2K${`${escapeForTerminal(context)}: ${escapeForTerminal(text)}`.slice(0, columns - 1)}\n`;
    drawn = lines.size;
    stderr.write(out);
  };
  return {
    update(context, text) {
      lines.set(context, text);
      // Redrawn at most every 50 ms: many daemons report at once.
      timer ??= setTimeout(draw, 50);
    },
    done() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (drawn) stderr.write(`\x1b[${drawn}A\r\x1b[J`);
      drawn = 0;
    },
  };
}
