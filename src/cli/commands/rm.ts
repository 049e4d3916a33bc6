import { Command, Option } from "clipanion";
import { LeakError } from "../../errors.js";
import type { LeakContext } from "../context.js";

export class RmCommand extends Command<LeakContext> {
  static override paths = [["rm"]];
  static override usage = Command.Usage({
    description: "Remove containers, releasing their leaked mounts first",
    details: `
      Like \`docker rm\`, for containers whose removal fails with "device or resource busy" or whose mounts are held in other mount namespaces. With --force-unmount, exactly the container's leaked mounts are unmounted inside the holders' namespaces, the container is removed, and a re-scan proves nothing of it is left.

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
    throw new LeakError("rm is not available in this build yet");
  }
}
