import { Command, Option } from "clipanion";
import { runScan } from "../../core/scan.js";
import { UsageError } from "../../errors.js";
import type { ScanReport } from "../../model/findings.js";
import { escapeForTerminal } from "../../render/escape.js";
import { FLEET_SCAN_FIELDS, SCAN_FIELDS, scanRows } from "../../render/fields.js";
import {
  exitCodeOf,
  renderQuiet,
  renderScanJson,
  renderScanTable,
  scanHints,
  scanSummary,
  scanView,
} from "../../render/scan.js";
import { type OutputFormat, renderTemplate } from "../../render/template.js";
import type { LeakContext } from "../context.js";
import { coreDeps } from "../core-deps.js";
import { DEFAULT_TIMEOUT, parseDuration } from "../duration.js";
import { runFleetScanCommand, wantsFleet } from "../fleet.js";
import { FORMAT_DESCRIPTION, parseFormatFlag } from "../format.js";
import { parseProgressMode } from "../progress.js";
import { writePieces } from "../write-pieces.js";

export class ScanCommand extends Command<LeakContext> {
  static override paths = [["scan"]];
  static override usage = Command.Usage({
    description: "Find leaked mounts of containers and volumes, and who holds them",
    details: `
      Lists every mount of a container or volume that is still held in a mount namespace where it should not be, names the holder (container, pod, service or host process) and its PIDs, says why the copy exists and how to cure it for good.

      Severities: \`leaked\` (the owner is stopped or gone and a copy is still held), \`captured\` (the owner runs; the copy will leak when it stops), \`stale\` (the daemon's own namespace still holds it), \`pinned\` (with --deep: a detached filesystem kept alive by open files).

      With --context (repeatable, or a comma list) or --all-contexts, the daemons of those contexts are scanned at the same time (--parallel), each by a helper on its own daemon; the table gets a CONTEXT column, -q prints context/ID, and a daemon that cannot be scanned, or whose scan takes longer than --timeout, is reported while the others go on.

      Exit status: 0 when nothing is leaked (captured-only results exit 0), 3 when leaks were found (on any daemon), 1 on error (or when a daemon could not be scanned and none had leaks).
    `,
    examples: [
      ["Scan every container and volume", "docker leak scan"],
      ["Scan one container, as JSON", "docker leak scan --format json web"],
      ["IDs of affected containers and volumes", "docker leak scan -q"],
      ["Scan two daemons at once", "docker leak scan --context prod-1,prod-2"],
    ],
  });

  format = Option.String("--format", "table", { description: FORMAT_DESCRIPTION });
  quiet = Option.Boolean("-q,--quiet", false, {
    description: "Only print the IDs of affected containers and names of volumes",
  });
  noTrunc = Option.Boolean("--no-trunc", false, { description: "Don't truncate output" });
  deep = Option.Boolean("--deep", false, {
    description: "Also find detached filesystems kept alive by open files (slower)",
  });
  timeout = Option.String("--timeout", DEFAULT_TIMEOUT, {
    description:
      "Stop a helper run, and with --context/--all-contexts/--swarm a daemon's whole scan, that takes longer than this (e.g. 90s, 5m)",
  });
  progress = Option.String("--progress", "auto", {
    description: "Set type of progress output (auto, plain, tty, quiet)",
  });
  contexts = Option.Array("--context", [], {
    description: "Scan the daemon of this context (repeatable, or a comma list); several at once",
  });
  allContexts = Option.Boolean("--all-contexts", false, { description: "Scan the daemons of every context" });
  parallel = Option.String("--parallel", "8", { description: "Daemons scanned at the same time" });
  swarm = Option.Boolean("--swarm", false, {
    description: "Scan every node of the Swarm this daemon manages, each through its own daemon",
  });
  nodeHost = Option.String("--node-host", {
    description:
      "With --swarm: how to reach a node without a context of its name (e.g. ssh://root@{{.Hostname}})",
  });
  targets = Option.Rest({ name: "CONTAINER|VOLUME" });

  override async execute(): Promise<number> {
    const fleet = wantsFleet(this.contexts, this.allContexts, this.swarm) || this.nodeHost !== undefined;
    // Many daemons' rows carry their context too; one daemon alone is rendered as a plain scan.
    const format = parseFormatFlag(this.format, fleet ? FLEET_SCAN_FIELDS : SCAN_FIELDS);
    if (this.quiet && format.kind !== "table")
      throw new UsageError(
        `--quiet and --format ${format.kind === "json" ? "json" : "TEMPLATE"} cannot be combined`,
      );
    const timeoutMs = parseDuration(this.timeout, "--timeout");
    if (fleet) {
      const scan = { targets: this.targets, deep: this.deep };
      const progress = parseProgressMode(this.progress);
      const flags = { ...this, format, timeoutMs, progress };
      return runFleetScanCommand(this.context, flags, scan, (report, context) =>
        this.render(report, format, context),
      );
    }
    const { deps, progress } = coreDeps(this.context, timeoutMs, parseProgressMode(this.progress));
    let code = 0;
    try {
      // Rendered as soon as the report is known, while the daemon removes the helper container.
      await runScan(
        deps,
        { targets: this.targets, deep: this.deep },
        {
          onReport: (report) => {
            progress.done();
            code = this.render(report, format);
          },
        },
      );
    } finally {
      progress.done();
    }
    return code;
  }

  /** `context`: the daemon's, when the flags asked for many (a template may name .Context). */
  private render(report: ScanReport, format: OutputFormat, context?: string): number {
    const ctx = this.context;
    const view = scanView(report);
    if (this.quiet) ctx.stdout.write(renderQuiet(view, this.noTrunc));
    else if (format.kind === "json") writePieces(ctx.stdout, renderScanJson(view));
    else if (format.kind === "template") {
      const rows = scanRows(view, this.noTrunc);
      const withContext = context === undefined ? rows : rows.map((r) => ({ Context: context, ...r }));
      if (rows.length) ctx.stdout.write(renderTemplate(format, withContext));
    } else if (view.findings.length)
      ctx.stdout.write(
        renderScanTable(view, { noTrunc: this.noTrunc, color: ctx.color, width: ctx.stdoutColumns }),
      );
    // Warnings quote malformed mountinfo and process text: escaped, one line each.
    for (const w of report.warnings) {
      ctx.stderr.write(`${ctx.errColor.yellow("warning:")} ${escapeForTerminal(w)}\n`);
    }
    if (!this.quiet) ctx.stderr.write(`${scanSummary(view, ctx.errColor)}\n`);
    // docker's "What's next" hints: on a terminal, unless DOCKER_CLI_HINTS=false.
    if (!this.quiet && format.kind === "table" && ctx.stderrIsTTY && ctx.env.DOCKER_CLI_HINTS !== "false") {
      ctx.stderr.write(scanHints(view));
    }
    return exitCodeOf(view);
  }
}
