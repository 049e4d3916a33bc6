import { Command, Option } from "clipanion";
import { assertSupportedDaemon } from "../../docker/daemon-support.js";
import { prepareHelper } from "../../docker/helper.js";
import { LABEL_HELPER } from "../../docker/helper-image.js";
import type { LeakContext } from "../context.js";
import { progressLine } from "../progress.js";

export class HelperBuildCommand extends Command<LeakContext> {
  static override paths = [["helper", "build"]];
  static override usage = Command.Usage({
    category: "Maintenance",
    description: "Build the helper image now (even when a trusted one exists)",
    details:
      "The helper image is built on first use from the static helper binary for the daemon's architecture (`FROM scratch`, never pulled) and reused while its label matches the binary's SHA-256. This rebuilds it and prints its ID.",
  });

  quiet = Option.Boolean("-q,--quiet", false, { description: "Only print the image ID" });

  override async execute(): Promise<number> {
    const docker = this.context.docker();
    const daemon = await docker.info();
    assertSupportedDaemon(daemon, this.context.endpoint());
    const progress = progressLine(this.context.stderr, this.context.stderrIsTTY);
    const { image } = await prepareHelper(docker, daemon, {
      helperDir: this.context.helperDir,
      version: this.context.pluginVersion,
      forceBuild: true,
      onProgress: (line) => progress.update(`Building the helper image: ${line}`),
    });
    progress.done();
    this.context.stdout.write(this.quiet ? `${image.id}\n` : `built ${image.tag} (${image.id})\n`);
    return 0;
  }
}

export class HelperPruneCommand extends Command<LeakContext> {
  static override paths = [["helper", "prune"]];
  static override usage = Command.Usage({
    category: "Maintenance",
    description: "Remove helper containers and images",
    details: "Removes every container and image labelled as docker leak's helper. Nothing else is touched.",
  });

  override async execute(): Promise<number> {
    const docker = this.context.docker();
    const filter = { label: [`${LABEL_HELPER}=1`] };
    const containers = await docker.listContainers(filter);
    for (const c of containers) await docker.removeContainer(c.id, { force: true });
    const images = await docker.listImages(filter);
    for (const i of images) await docker.removeImage(i.id);
    this.context.stdout.write(
      `removed ${containers.length} helper container(s) and ${images.length} helper image(s)\n`,
    );
    return 0;
  }
}
