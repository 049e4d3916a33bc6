import { Command, Option } from "clipanion";
import { UsageError } from "../../errors.js";
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
    const { stdout } = this.context;
    const endpoint = this.context.endpoint();
    const docker = this.context.docker();
    const [version, info] = await Promise.all([docker.version(), docker.info()]);
    if (this.format === "json") {
      stdout.write(
        `${JSON.stringify({
          plugin: { version: this.context.pluginVersion },
          server: {
            version: version.version,
            apiVersion: version.apiVersion,
            minApiVersion: version.minApiVersion,
            os: version.os,
            arch: version.arch,
            kernelVersion: version.kernelVersion,
            rootDir: info.rootDir,
            driver: info.driver,
          },
          endpoint: { host: endpoint.host, context: endpoint.context, source: endpoint.source },
        })}\n`,
      );
      return 0;
    }
    const rows: [string, string][] = [
      ["Version", version.version],
      ["API version", `${version.apiVersion} (minimum version ${version.minApiVersion})`],
      ["OS/Arch", `${version.os}/${version.arch}`],
      ["Kernel", version.kernelVersion],
      ["Root dir", info.rootDir],
      ["Storage driver", info.driver],
      ["Endpoint", `${endpoint.host} (${endpoint.source})`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length)) + 2;
    stdout.write(`docker leak version ${this.context.pluginVersion}\n\nServer:\n`);
    for (const [k, v] of rows) stdout.write(` ${`${k}:`.padEnd(width)}${v}\n`);
    return 0;
  }
}
