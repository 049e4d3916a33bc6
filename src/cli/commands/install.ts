import { Command, Option } from "clipanion";
import { configDirOf } from "../../docker/endpoint.js";
import { LeakError } from "../../errors.js";
import { escapeForTerminal } from "../../render/escape.js";
import type { LeakContext } from "../context.js";
import { applyHooks, environmentOverride, type HooksResult, planHooks } from "../docker-config.js";
import { installPlugin, payloadFor, pluginDir, uninstallPlugin } from "../install-plugin.js";
import { singleExecutable } from "../sea.js";

const HINTS = "hints after a failed docker rm, docker container rm or docker volume rm";

function hooksLines(r: HooksResult, done: string, already: string): string {
  const path = escapeForTerminal(r.path);
  const line = r.changes.length
    ? `${HINTS}: ${done} ${path} (${r.changes.join("; ")})\n`
    : `${HINTS}: ${already} ${path}\n`;
  return line + r.notes.map((n) => `note: ${n}\n`).join("");
}

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

      With --hooks, a failed \`docker rm\`, \`docker container rm\` or \`docker volume rm\` whose error is "device or resource busy" ends with the \`docker leak\` commands that find and release what holds it (docker CLI 26.1 or later, on a terminal): \`features.hooks\` and \`plugins.leak.hooks\` are set in \`\${DOCKER_CONFIG:-~/.docker}/config.json\`, keeping everything else in it. \`docker leak uninstall\` removes them again.
    `,
    examples: [
      ["Install for yourself (after npm install -g docker-leak)", "docker-leak install"],
      ["Install for all users", "sudo docker-leak install --system"],
      ["Install with hints when docker rm fails", "docker-leak install --hooks"],
    ],
  });

  system = systemOption();
  force = Option.Boolean("--force", false, { description: "Overwrite a different plugin of the same name" });
  hooks = Option.Boolean("--hooks", false, {
    description: "Also hint at docker leak when docker rm or docker volume rm fails (edits config.json)",
  });

  override async execute(): Promise<number> {
    const { globals, env, stdout, stderr } = this.context;
    const configDir = configDirOf(globals, env);
    // Checked first: a config.json we cannot edit stops the install before anything changes.
    const hooksPlan = this.hooks ? planHooks(configDir, true) : undefined;
    const dir = pluginDir({ system: this.system, configDir });
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
    if (hooksPlan) {
      stdout.write(hooksLines(applyHooks(hooksPlan), "enabled in", "already enabled in"));
      if (payload.kind === "executable") {
        stdout.write(
          "note: the CLI starts this executable twice after each hooked command (its metadata, then the hook), even when it succeeds; the npm package's launcher answers both without Node\n",
        );
      }
      const off = environmentOverride(env);
      if (off) stderr.write(`docker leak: warning: ${off}\n`);
    }
    return 0;
  }
}

export class UninstallCommand extends Command<LeakContext> {
  static override paths = [["uninstall"]];
  static override usage = Command.Usage({
    category: "Installation",
    description: "Remove docker leak from the docker CLI plugins",
    details: `
      Removes \`docker-leak\` from \`$DOCKER_CONFIG/cli-plugins\` (default \`~/.docker/cli-plugins\`; or with --system from \`/usr/local/lib/docker/cli-plugins\`) when it is docker leak, and what \`install --hooks\` added to \`config.json\`. Removing what is not there succeeds.

      With --hooks, only the hooks are removed and the plugin stays.
    `,
    examples: [
      ["Uninstall", "docker-leak uninstall"],
      ["Keep the plugin, stop the hints", "docker leak uninstall --hooks"],
    ],
  });

  system = systemOption();
  force = Option.Boolean("--force", false, {
    description: "Remove the file even when it is not docker leak",
  });
  hooks = Option.Boolean("--hooks", false, {
    description: "Remove only the hooks that install --hooks added to config.json",
  });

  override async execute(): Promise<number> {
    const { globals, env, stdout, stderr } = this.context;
    const configDir = configDirOf(globals, env);
    if (this.hooks) {
      stdout.write(hooksLines(applyHooks(planHooks(configDir, false)), "removed from", "not enabled in"));
      return 0;
    }
    let hooksPlan: ReturnType<typeof planHooks> | undefined;
    try {
      hooksPlan = planHooks(configDir, false);
    } catch (err) {
      // Removing the plugin does not depend on config.json; a hook left naming it does nothing.
      if (!(err instanceof LeakError)) throw err;
      stderr.write(`docker leak: warning: hooks not checked: ${err.message}\n`);
    }
    const dir = pluginDir({ system: this.system, configDir });
    const { path, action } = uninstallPlugin({ dir, force: this.force });
    stdout.write(action === "removed" ? `removed ${path}\n` : `docker leak is not installed at ${path}\n`);
    if (hooksPlan?.edit.changes.length) stdout.write(hooksLines(applyHooks(hooksPlan), "removed from", ""));
    return 0;
  }
}
