import { Command, Option } from "clipanion";
import { VERSION_FIELDS, versionRow } from "../../render/fields.js";
import { renderTemplate } from "../../render/template.js";
import { renderVersion } from "../../render/version.js";
import type { LeakContext } from "../context.js";
import { parseFormatFlag, VERSION_FORMAT_DESCRIPTION } from "../format.js";

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

  format = Option.String("--format,-f", "table", { description: VERSION_FORMAT_DESCRIPTION });

  override async execute(): Promise<number> {
    const format = parseFormatFlag(this.format, VERSION_FIELDS);
    const endpoint = this.context.endpoint();
    const docker = this.context.docker();
    const [version, info] = await Promise.all([docker.version(), docker.info()]);
    this.context.stdout.write(
      format.kind === "template"
        ? renderTemplate(format, [versionRow(this.context.pluginVersion, version, info, endpoint)])
        : renderVersion(format.kind, this.context.pluginVersion, version, info, endpoint),
    );
    return 0;
  }
}
