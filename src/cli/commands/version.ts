import { Command, Option } from "clipanion";
import { UsageError } from "../../errors.js";
import { renderVersion } from "../../render/version.js";
import type { LeakContext } from "../context.js";

export class VersionCommand extends Command<LeakContext> {
  static override paths = [["version"]];
  static override usage = Command.Usage({
    description: "Show the plugin version and the daemon it talks to",
    details:
      "Prints the plugin's version, then the daemon's version, API version, OS/architecture and root directory, and how the daemon was chosen.",
    examples: [
      ["Show versions", "docker leak version"],
      ["As JSON", "docker leak version --format json"],
    ],
  });

  format = Option.String("--format,-f", "table", { description: "Output format: table or json" });

  override async execute(): Promise<number> {
    if (this.format !== "table" && this.format !== "json") {
      throw new UsageError(`unknown --format "${this.format}": use table or json`);
    }
    const endpoint = this.context.endpoint();
    const docker = this.context.docker();
    const [version, info] = await Promise.all([docker.version(), docker.info()]);
    this.context.stdout.write(
      renderVersion(this.format, this.context.pluginVersion, version, info, endpoint),
    );
    return 0;
  }
}
