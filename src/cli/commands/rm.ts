import { Command, Option } from "clipanion";
import { ExitCode } from "../../errors.js";
import { resolveContainer } from "../../model/targets.js";
import type { LeakContext } from "../context.js";
import { Removal, type RemovalTarget } from "../removal.js";
import { reportOutcomes } from "../removal-report.js";
import { getHelper, startHelperLookup, takeInventory } from "../scan-run.js";

export class RmCommand extends Command<LeakContext> {
  static override paths = [["rm"]];
  static override usage = Command.Usage({
    description: "Remove containers, releasing their leaked mounts first",
    details: `
      Like \`docker rm\`, for containers whose removal fails with "device or resource busy" or whose mounts are held in other mount namespaces. Without --force-unmount, a container whose mounts are held elsewhere is left alone and the holders are named. With --force-unmount, exactly the container's leaked mounts are unmounted inside the holders' namespaces, the container is removed, and a re-scan proves nothing of it is left.

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
  containers = Option.Rest({ name: "CONTAINER", required: 1 });

  override async execute(): Promise<number> {
    const ctx = this.context;
    const docker = ctx.docker();
    const lookup = startHelperLookup(ctx, docker);
    const inventory = await takeInventory(ctx, docker);
    // Every name resolves before anything changes.
    const resolved = this.containers.map((arg) => ({ arg, c: resolveContainer(arg, inventory.containers) }));
    let failed = false;
    const targets: RemovalTarget[] = [];
    for (const { arg, c } of resolved) {
      const running = c.status === "running" || c.status === "paused" || c.status === "restarting";
      if (running && !this.force) {
        ctx.stderr.write(
          `docker leak: cannot remove ${arg}: container ${c.id.slice(0, 12)} is ${c.status}; stop it first or use -f\n`,
        );
        failed = true;
        continue;
      }
      targets.push({
        ...(running ? { stop: () => docker.stopContainer(c.id, 0) } : {}),
        arg,
        label: `container ${c.name}`,
        containerId: c.id,
        owns: (f) => f.target.kind === "container" && f.target.id === c.id,
        remove: () => docker.removeContainer(c.id, { volumes: this.volumes }),
      });
    }
    if (!targets.length) return ExitCode.Error;
    const helper = await getHelper(ctx, docker, inventory, lookup);
    const outcomes = await new Removal(ctx, docker, inventory, helper).run(targets, {
      forceUnmount: this.forceUnmount,
      dryRun: this.dryRun,
      restartHolders: this.restartHolders,
    });
    const code = reportOutcomes(ctx, targets, outcomes, { dryRun: this.dryRun, command: "rm" });
    return failed ? ExitCode.Error : code;
  }
}
