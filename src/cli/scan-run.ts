/**
 * The scan pipeline shared by `scan` and `rm`: inventory from the daemon, one helper run with
 * the daemon's real paths as filters, then the leak model.
 */
import type { DockerClient } from "../docker/client.js";
import { checkDaemonSupport } from "../docker/daemon-support.js";
import { type PreparedHelper, prepareHelper, scanHost } from "../docker/helper.js";
import { analyze } from "../model/analyze.js";
import { scanFilters } from "../model/daemon.js";
import type { ScanReport } from "../model/findings.js";
import type { Inventory } from "../model/inventory.js";
import type { LeakContext } from "./context.js";
import { progressLine } from "./progress.js";

export async function takeInventory(ctx: LeakContext, docker: DockerClient): Promise<Inventory> {
  const daemon = await docker.info();
  for (const warning of checkDaemonSupport(daemon, ctx.endpoint())) {
    ctx.stderr.write(`${ctx.errColor.yellow("warning:")} ${warning}\n`);
  }
  const [containers, volumes] = await Promise.all([docker.containers(), docker.volumes()]);
  return { daemon, containers, volumes };
}

export async function getHelper(
  ctx: LeakContext,
  docker: DockerClient,
  inventory: Inventory,
): Promise<PreparedHelper> {
  const progress = progressLine(ctx.stderr, ctx.stderrIsTTY);
  try {
    return await prepareHelper(docker, inventory.daemon, {
      helperDir: ctx.helperDir,
      version: ctx.pluginVersion,
      onProgress: (line) => progress.update(`Building the helper image: ${line}`),
    });
  } finally {
    progress.done();
  }
}

export async function scanAndAnalyze(
  ctx: LeakContext,
  docker: DockerClient,
  inventory: Inventory,
  helper: PreparedHelper,
  deep: boolean,
): Promise<ScanReport> {
  const progress = progressLine(ctx.stderr, ctx.stderrIsTTY);
  progress.update("Scanning mount namespaces…");
  try {
    const { rootDir, driver } = inventory.daemon;
    const scan = await scanHost(docker, helper, {
      filters: scanFilters(inventory),
      deep,
      // Ties detached overlays (pinned by open files) to their containers' layers.
      ...(driver === "overlay2" && rootDir ? { layersDir: `${rootDir.replace(/\/+$/, "")}/overlay2` } : {}),
      interrupts: ctx.interrupts,
    });
    return analyze({ inventory, scan, deep, now: new Date() });
  } finally {
    progress.done();
  }
}
