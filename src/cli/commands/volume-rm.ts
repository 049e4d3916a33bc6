import { Command, Option } from "clipanion";
import { ExitCode } from "../../errors.js";
import { resolveVolume } from "../../model/targets.js";
import type { LeakContext } from "../context.js";
import { Removal, type RemovalTarget } from "../removal.js";
import { reportOutcomes } from "../removal-report.js";
import { getHelper, startHelperLookup, takeInventory } from "../scan-run.js";

export class VolumeRmCommand extends Command<LeakContext> {
  static override paths = [["volume", "rm"]];
  static override usage = Command.Usage({
    description: "Remove volumes, releasing their leaked mounts first",
    details: `
      Like \`docker volume rm\`, for volumes whose removal fails with "device or resource busy" or that stay mounted in other mount namespaces. With --force-unmount, leaked copies of the volume in other mount namespaces and mounts that propagated below its _data are unmounted, then the volume is removed and a re-scan proves nothing of it is left. A volume in use by a container is refused.
    `,
    examples: [
      ["Remove a volume held by a private mount namespace", "docker leak volume rm --force-unmount data"],
    ],
  });

  forceUnmount = Option.Boolean("--force-unmount", false, {
    description: "Unmount the volume's leaked mounts first",
  });
  dryRun = Option.Boolean("--dry-run", false, { description: "Print the plan and change nothing" });
  volumes = Option.Rest({ name: "VOLUME", required: 1 });

  override async execute(): Promise<number> {
    const ctx = this.context;
    const docker = ctx.docker();
    const lookup = startHelperLookup(ctx, docker);
    const inventory = await takeInventory(ctx, docker);
    const resolved = this.volumes.map((arg) => resolveVolume(arg, inventory.volumes));
    let failed = false;
    const targets: RemovalTarget[] = [];
    for (const v of resolved) {
      const users = inventory.containers.filter((c) =>
        c.mounts.some((m) => m.type === "volume" && m.name === v.name),
      );
      if (users.length) {
        ctx.stderr.write(
          `docker leak: cannot remove volume ${v.name}: volume is in use - [${users.map((c) => c.id).join(", ")}]\n`,
        );
        failed = true;
        continue;
      }
      targets.push({
        arg: v.name,
        label: `volume ${v.name}`,
        owns: (f) => f.target.kind === "volume" && f.target.name === v.name,
        remove: () => docker.removeVolume(v.name),
      });
    }
    if (!targets.length) return ExitCode.Error;
    const helper = await getHelper(ctx, docker, inventory, lookup);
    const outcomes = await new Removal(ctx, docker, inventory, helper).run(targets, {
      forceUnmount: this.forceUnmount,
      dryRun: this.dryRun,
      restartHolders: false,
    });
    const code = reportOutcomes(ctx, targets, outcomes, { dryRun: this.dryRun, command: "volume rm" });
    return failed ? ExitCode.Error : code;
  }
}
