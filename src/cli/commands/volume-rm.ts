import { Command, Option } from "clipanion";
import type { LeakContext } from "../context.js";
import { DEFAULT_TIMEOUT } from "../duration.js";
import { FORMAT_DESCRIPTION } from "../format.js";
import { removeAndReport } from "./rm.js";

export class VolumeRmCommand extends Command<LeakContext> {
  static override paths = [["volume", "rm"]];
  static override usage = Command.Usage({
    description: "Remove volumes, releasing their leaked mounts first",
    details: `
      Like \`docker volume rm\`, for volumes whose removal fails with "device or resource busy" or that stay mounted in other mount namespaces. With --force-unmount, leaked copies of the volume in other mount namespaces and mounts that propagated below its _data are unmounted, then the volume is removed and a re-scan proves nothing of it is left. A volume that a container uses (a volume mount, or a bind of its _data or of a path below it) is refused.

      --dry-run reports what the real run would do, and exits with the status the real run would have.
    `,
    examples: [
      ["Remove a volume held by a private mount namespace", "docker leak volume rm --force-unmount data"],
    ],
  });

  forceUnmount = Option.Boolean("--force-unmount", false, {
    description: "Unmount the volume's leaked mounts first",
  });
  dryRun = Option.Boolean("--dry-run", false, { description: "Print the plan and change nothing" });
  format = Option.String("--format", "table", { description: FORMAT_DESCRIPTION });
  timeout = Option.String("--timeout", DEFAULT_TIMEOUT, {
    description: "Stop a helper run that takes longer than this (e.g. 90s, 5m)",
  });
  progress = Option.String("--progress", "auto", {
    description: "Set type of progress output (auto, plain, tty, quiet)",
  });
  volumes = Option.Rest({ name: "VOLUME", required: 1 });

  override async execute(): Promise<number> {
    return removeAndReport(
      this.context,
      {
        kind: "volume",
        refs: this.volumes,
        forceUnmount: this.forceUnmount,
        dryRun: this.dryRun,
        restartHolders: false,
        force: false,
        removeVolumes: false,
      },
      this.format,
      this.timeout,
      this.progress,
    );
  }
}
