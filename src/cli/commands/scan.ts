import { Command, Option } from "clipanion";
import { UsageError } from "../../errors.js";
import type { Finding, ScanReport } from "../../model/findings.js";
import { resolveScanTargets, TargetError } from "../../model/targets.js";
import {
  exitCodeOf,
  renderQuiet,
  renderScanJson,
  renderScanTable,
  scanSummary,
  scanView,
} from "../../render/scan.js";
import type { LeakContext } from "../context.js";
import { getHelper, scanAndAnalyze, startHelperLookup, takeSurvey } from "../scan-run.js";

export class ScanCommand extends Command<LeakContext> {
  static override paths = [["scan"]];
  static override usage = Command.Usage({
    description: "Find leaked mounts of containers and volumes, and who holds them",
    details: `
      Lists every mount of a container or volume that is still held in a mount namespace where it should not be, names the holder (container, pod, service or host process) and its PIDs, says why the copy exists and how to cure it for good.

      Severities: \`leaked\` (the owner is stopped or gone and a copy is still held), \`captured\` (the owner runs; the copy will leak when it stops), \`stale\` (the daemon's own namespace still holds it), \`pinned\` (with --deep: a detached filesystem kept alive by open files).

      Exit status: 0 when nothing is leaked (captured-only results exit 0), 3 when leaks were found, 1 on error.
    `,
    examples: [
      ["Scan every container and volume", "docker leak scan"],
      ["Scan one container, as JSON", "docker leak scan --format json web"],
      ["IDs of affected containers and volumes", "docker leak scan -q"],
    ],
  });

  format = Option.String("--format", "table", { description: "Output format: table or json" });
  quiet = Option.Boolean("-q,--quiet", false, {
    description: "Only print the IDs of affected containers and names of volumes",
  });
  noTrunc = Option.Boolean("--no-trunc", false, { description: "Don't truncate output" });
  deep = Option.Boolean("--deep", false, {
    description: "Also find detached filesystems kept alive by open files (slower)",
  });
  targets = Option.Rest({ name: "CONTAINER|VOLUME" });

  override async execute(): Promise<number> {
    if (this.format !== "table" && this.format !== "json") {
      throw new UsageError(`unknown --format "${this.format}": use table or json`);
    }
    if (this.quiet && this.format === "json")
      throw new UsageError("--quiet and --format json cannot be combined");
    const ctx = this.context;
    const docker = ctx.docker();
    const lookup = startHelperLookup(ctx, docker);
    const survey = await takeSurvey(ctx, docker);
    // Names are checked before anything runs on the daemon: on the container list, so that the
    // helper starts while the containers are still being inspected.
    const selection = resolveScanTargets(this.targets, {
      containers: survey.listed,
      volumes: survey.volumes,
    });
    const helper = await getHelper(ctx, docker, survey, lookup);
    const { report, helperGone } = await scanAndAnalyze(ctx, docker, survey, helper, this.deep);
    try {
      return this.report(report, selection);
    } finally {
      // The output is complete and checked; the command ends once the helper container is gone.
      await helperGone;
    }
  }

  private report(report: ScanReport, selection: ReturnType<typeof resolveScanTargets>): number {
    const ctx = this.context;

    let keep: (f: Finding) => boolean = () => true;
    if (selection) {
      const removedHit = new Set<string>();
      keep = (f) => {
        if (f.target.kind === "volume") return selection.volumeNames.has(f.target.name);
        const id = f.target.id;
        const prefix = selection.removedPrefixes.find((p) => id.startsWith(p));
        if (prefix) removedHit.add(prefix);
        return selection.containerIds.has(id) || prefix !== undefined;
      };
      report.findings.forEach(keep);
      const unknown = selection.removedPrefixes.filter((p) => !removedHit.has(p));
      if (unknown.length) throw new TargetError(`No such container or volume: ${unknown[0]}`);
    }
    const view = scanView(report, keep);
    if (this.quiet) ctx.stdout.write(renderQuiet(view, this.noTrunc));
    else if (this.format === "json") for (const chunk of renderScanJson(view)) ctx.stdout.write(chunk);
    else if (view.findings.length)
      ctx.stdout.write(renderScanTable(view, { noTrunc: this.noTrunc, color: ctx.color }));
    for (const w of report.warnings) ctx.stderr.write(`${ctx.errColor.yellow("warning:")} ${w}\n`);
    if (!this.quiet) ctx.stderr.write(`${scanSummary(view, ctx.errColor)}\n`);
    return exitCodeOf(view);
  }
}
