import { Command, Option } from "clipanion";
import { configDirOf } from "../../docker/endpoint.js";
import type { LeakContext } from "../context.js";
import { installPlugin, payloadFor, pluginDir, uninstallPlugin } from "../install-plugin.js";
import { singleExecutable } from "../sea.js";

const systemOption = () =>
  Option.Boolean("--system", false, {
    description: "Use /usr/local/lib/docker/cli-plugins (all users) instead of $DOCKER_CONFIG/cli-plugins",
  });

export class InstallCommand extends Command<LeakContext> {
  static override paths = [["install"]];
  static override usage = Command.Usage({
    category: "Installation",
    description: "Install this docker leak as a docker CLI plugin",
    details: `
      Writes \`docker-leak\` into \`\${DOCKER_CONFIG:-~/.docker}/cli-plugins\` (or \`--config DIR\`), or with --system into \`/usr/local/lib/docker/cli-plugins\`, so that \`docker leak\` runs it. From the npm package the launcher is written with this package's path and this node binary in it; the single executable copies itself.

      Running it again changes nothing; an older docker leak is updated. Any other file of that name is left alone unless --force is given.
    `,
    examples: [
      ["Install for yourself (after npm install -g docker-leak)", "docker-leak install"],
      ["Install for all users", "sudo docker-leak install --system"],
    ],
  });

  system = systemOption();
  force = Option.Boolean("--force", false, { description: "Overwrite a different plugin of the same name" });

  override async execute(): Promise<number> {
    const { globals, env, stdout } = this.context;
    const dir = pluginDir({ system: this.system, configDir: configDirOf(globals, env) });
    const payload = payloadFor({
      isSea: singleExecutable() !== undefined,
      execPath: process.execPath,
      entry: process.argv[1] ?? process.execPath,
    });
    const { path, action } = installPlugin({ dir, payload, force: this.force });
    const what = payload.kind === "launcher" ? "launcher" : "executable";
    stdout.write(
      action === "unchanged"
        ? `docker leak ${this.context.pluginVersion} is already installed at ${path}\n`
        : `${action} docker leak ${this.context.pluginVersion} (${what}) at ${path}\n`,
    );
    return 0;
  }
}

export class UninstallCommand extends Command<LeakContext> {
  static override paths = [["uninstall"]];
  static override usage = Command.Usage({
    category: "Installation",
    description: "Remove docker leak from the docker CLI plugins",
    details:
      "Removes `docker-leak` from `$DOCKER_CONFIG/cli-plugins` (default `~/.docker/cli-plugins`; or with --system from `/usr/local/lib/docker/cli-plugins`) when it is docker leak. Removing what is not there succeeds.",
    examples: [["Uninstall", "docker-leak uninstall"]],
  });

  system = systemOption();
  force = Option.Boolean("--force", false, {
    description: "Remove the file even when it is not docker leak",
  });

  override async execute(): Promise<number> {
    const { globals, env, stdout } = this.context;
    const dir = pluginDir({ system: this.system, configDir: configDirOf(globals, env) });
    const { path, action } = uninstallPlugin({ dir, force: this.force });
    stdout.write(action === "removed" ? `removed ${path}\n` : `docker leak is not installed at ${path}\n`);
    return 0;
  }
}
