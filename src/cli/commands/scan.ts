import { Command, Option } from "clipanion";
import { LeakError, UsageError } from "../../errors.js";
import type { LeakContext } from "../context.js";

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
    throw new LeakError("scan is not available in this build yet");
  }
}
