import { Command, Option } from "clipanion";
import { InterruptedRemoval, runRemoval } from "../../core/removal.js";
import type { RemovalReport } from "../../model/removal.js";
import { REMOVAL_FIELDS, removalRows } from "../../render/fields.js";
import { removalExitCode, renderRemovalJson, renderRemovalText } from "../../render/removal.js";
import { renderTemplate } from "../../render/template.js";
import type { LeakContext } from "../context.js";
import { coreDeps } from "../core-deps.js";
import { DEFAULT_TIMEOUT, parseDuration } from "../duration.js";
import { FORMAT_DESCRIPTION, parseFormatFlag } from "../format.js";
import { parseProgressMode } from "../progress.js";

/** Runs a removal and renders its report, also the partial one of an interrupted run. */
export async function removeAndReport(
  ctx: LeakContext,
  opts: Parameters<typeof runRemoval>[1],
  format: string,
  timeout: string,
  progressMode: string,
): Promise<number> {
  // Checked before anything is unmounted or removed.
  const output = parseFormatFlag(format, REMOVAL_FIELDS);
  const { deps, progress } = coreDeps(
    ctx,
    parseDuration(timeout, "--timeout"),
    parseProgressMode(progressMode),
  );
  const show = (report: RemovalReport) => {
    progress.done();
    if (output.kind === "json") ctx.stdout.write(renderRemovalJson(report));
    else {
      const out = renderRemovalText(report, ctx.stdoutColumns);
      // A template replaces the lines on stdout; stderr (refusals, hints, warnings) stays.
      ctx.stdout.write(output.kind === "template" ? renderTemplate(output, removalRows(report)) : out.stdout);
      ctx.stderr.write(out.stderr);
    }
  };
  try {
    const report = await runRemoval(deps, opts);
    show(report);
    return removalExitCode(report);
  } catch (err) {
    // What was done before the signal is reported; the entry point exits 130.
    if (err instanceof InterruptedRemoval) show(err.report);
    throw err;
  } finally {
    progress.done();
  }
}

export class RmCommand extends Command<LeakContext> {
  static override paths = [["rm"]];
  static override usage = Command.Usage({
    description: "Remove containers, releasing their leaked mounts first",
    details: `
      Like \`docker rm\`, for containers whose removal fails with "device or resource busy" or whose mounts are held in other mount namespaces. Without --force-unmount, a container whose mounts are held elsewhere is left alone and the holders are named. With --force-unmount, exactly the container's leaked mounts are unmounted inside the holders' namespaces, the container is removed, and a re-scan proves nothing of it is left.

      --dry-run reports what the real run would do, and exits with the status the real run would have.

      Exit status: 0 when every container was removed clean, 3 when some could not be cleared, 1 on error.
    `,
    examples: [
      ["Remove a container whose shm is held elsewhere", "docker leak rm --force-unmount web"],
      ["Show what would be unmounted", "docker leak rm --force-unmount --dry-run web"],
    ],
  });

  forceUnmount = Option.Boolean("--force-unmount", false, {
    description: "Unmount the container's leaked mounts in the holders' namespaces",
  });
  force = Option.Boolean("-f,--force", false, {
    description: "Force the removal of a running container (stops it first)",
  });
  volumes = Option.Boolean("-v,--volumes", false, {
    description: "Remove anonymous volumes associated with the container",
  });
  dryRun = Option.Boolean("--dry-run", false, { description: "Print the plan and change nothing" });
  restartHolders = Option.Boolean("--restart-holders", false, {
    description: "Restart holder containers (never host processes) when unmounting failed",
  });
  format = Option.String("--format", "table", { description: FORMAT_DESCRIPTION });
  timeout = Option.String("--timeout", DEFAULT_TIMEOUT, {
    description: "Stop a helper run that takes longer than this (e.g. 90s, 5m)",
  });
  progress = Option.String("--progress", "auto", {
    description: "Set type of progress output (auto, plain, tty, quiet)",
  });
  containers = Option.Rest({ name: "CONTAINER", required: 1 });

  override async execute(): Promise<number> {
    return removeAndReport(
      this.context,
      {
        kind: "container",
        refs: this.containers,
        forceUnmount: this.forceUnmount,
        dryRun: this.dryRun,
        restartHolders: this.restartHolders,
        force: this.force,
        removeVolumes: this.volumes,
      },
      this.format,
      this.timeout,
      this.progress,
    );
  }
}
