import { Command, Option } from "clipanion";
import type { ContainerSummary } from "../../docker/client.js";
import { assertSupportedDaemon } from "../../docker/daemon-support.js";
import { prepareHelper } from "../../docker/helper.js";
import { LABEL_HELPER, listHelperImages, removeHelperImage } from "../../docker/helper-image.js";
import { isStaleHelper, removeHelpers } from "../../docker/helper-runner.js";
import type { LeakContext } from "../context.js";
import { parseProgressMode, progressFor } from "../progress.js";

export class HelperBuildCommand extends Command<LeakContext> {
  static override paths = [["helper", "build"]];
  static override usage = Command.Usage({
    category: "Maintenance",
    description: "Load the helper image now (even when the daemon has it)",
    details:
      "The helper image is made by docker leak itself, never pulled or built: from the static helper binary for the daemon's architecture (checked against the digest built into docker leak) it writes one layer holding only that binary and a fixed config, and loads them as `docker load` would. The same binary always gives the same image ID. It is loaded on first use and reused while the daemon has exactly that image under `docker-leak-helper:VERSION`; this loads it again (which puts the tag back on it) and prints its ID.",
  });

  quiet = Option.Boolean("-q,--quiet", false, { description: "Only print the image ID" });
  progress = Option.String("--progress", "auto", {
    description: "Set type of progress output (auto, plain, tty, quiet)",
  });

  override async execute(): Promise<number> {
    const mode = parseProgressMode(this.progress);
    const docker = this.context.docker();
    const daemon = await docker.info();
    assertSupportedDaemon(daemon, this.context.endpoint());
    const progress = progressFor(mode, this.context.stderr, this.context.stderrIsTTY);
    const { image } = await prepareHelper(docker, daemon, {
      helperDir: this.context.helperDir,
      version: this.context.pluginVersion,
      forceLoad: true,
      onProgress: (line) => progress.update(`Helper image: ${line}`),
    });
    progress.done();
    this.context.stdout.write(this.quiet ? `${image.id}\n` : `loaded ${image.tag} (${image.id})\n`);
    return 0;
  }
}

/**
 * Which helper containers `helper prune` removes: those of an image of ours that a sweep would
 * remove (never a running helper before its deadline, nor one just created); the others of ours
 * are kept and counted.
 */
export function pruneSelection(
  containers: readonly ContainerSummary[],
  helperImages: readonly string[],
  nowSeconds: number,
): { remove: string[]; keep: string[] } {
  const images = new Set(helperImages);
  const ours = containers.filter((c) => c.labels[LABEL_HELPER] !== undefined && images.has(c.imageId));
  const remove = ours.filter((c) => isStaleHelper(c, images, nowSeconds)).map((c) => c.id);
  return { remove, keep: ours.map((c) => c.id).filter((id) => !remove.includes(id)) };
}

export class HelperPruneCommand extends Command<LeakContext> {
  static override paths = [["helper", "prune"]];
  static override usage = Command.Usage({
    category: "Maintenance",
    description: "Remove helper containers and images",
    details:
      "Removes docker leak's helper images (every version: images with exactly the helper's layer layout and config, tagged only as `docker-leak-helper` or not at all) and the helper containers of those images left by earlier runs. A helper still at work is kept until its deadline has passed; images are removed without force, so an image still in use is kept. Nothing else is touched.",
  });

  override async execute(): Promise<number> {
    const docker = this.context.docker();
    const images = await listHelperImages(docker);
    const containers = await docker.listContainers({ label: [LABEL_HELPER] });
    const { remove, keep } = pruneSelection(
      containers,
      images.map((i) => i.id),
      Date.now() / 1000,
    );
    await removeHelpers(docker, remove);
    let removedImages = 0;
    let inUse = 0;
    for (const image of images) {
      if ((await removeHelperImage(docker, image.id)) === "removed") removedImages++;
      else inUse++;
    }
    const out = this.context.stdout;
    out.write(`removed ${remove.length} helper container(s) and ${removedImages} helper image(s)\n`);
    if (keep.length) {
      out.write(
        `kept ${keep.length} helper container(s) still at work (running before their deadline, or just created)\n`,
      );
    }
    if (inUse) out.write(`kept ${inUse} helper image(s) in use by a container\n`);
    return 0;
  }
}
