import { Command, Option } from "clipanion";
import { LeakError } from "../../errors.js";
import type { LeakContext } from "../context.js";

export class VolumeRmCommand extends Command<LeakContext> {
  static override paths = [["volume", "rm"]];
  static override usage = Command.Usage({
    description: "Remove volumes, releasing their leaked mounts first",
    details: `
      Like \`docker volume rm\`, for volumes whose removal fails with "device or resource busy". With --force-unmount, leaked copies of the volume in other mount namespaces and mounts that propagated below its _data are unmounted, then the volume is removed. A volume in use by a container is refused.
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
    throw new LeakError("volume rm is not available in this build yet");
  }
}
