/**
 * The scan pipeline shared by `scan` and `rm`: inventory from the daemon, one helper run with
 * the daemon's real paths as filters, then the leak model. The daemon calls that do not depend
 * on each other run together; nothing changes on the daemon before the caller has checked the
 * user's names.
 */
import type { DockerClient } from "../docker/client.js";
import { checkDaemonSupport } from "../docker/daemon-support.js";
import {
  type HelperLookup,
  lookupHelper,
  type PreparedHelper,
  prepareHelper,
  startScan,
} from "../docker/helper.js";
import { analyze } from "../model/analyze.js";
import { scanFilters } from "../model/daemon.js";
import type { ScanReport } from "../model/findings.js";
import type { Inventory } from "../model/inventory.js";
import type { LeakContext } from "./context.js";
import { progressLine } from "./progress.js";

export async function takeInventory(ctx: LeakContext, docker: DockerClient): Promise<Inventory> {
  const [daemon, containers, volumes] = await Promise.all([
    docker.info(),
    docker.containers(),
    docker.volumes(),
  ]);
  for (const warning of checkDaemonSupport(daemon, ctx.endpoint())) {
    ctx.stderr.write(`${ctx.errColor.yellow("warning:")} ${warning}\n`);
  }
  return { daemon, containers, volumes };
}

/** Starts the read-only part of getting the helper ready; pass it to getHelper. */
export function startHelperLookup(ctx: LeakContext, docker: DockerClient): Promise<HelperLookup> {
  const lookup = lookupHelper(docker, { helperDir: ctx.helperDir, version: ctx.pluginVersion });
  lookup.catch(() => undefined); // awaited by getHelper, unless the inventory fails first
  return lookup;
}

export async function getHelper(
  ctx: LeakContext,
  docker: DockerClient,
  inventory: Inventory,
  lookup?: Promise<HelperLookup>,
): Promise<PreparedHelper> {
  const progress = progressLine(ctx.stderr, ctx.stderrIsTTY);
  try {
    return await prepareHelper(
      docker,
      inventory.daemon,
      {
        helperDir: ctx.helperDir,
        version: ctx.pluginVersion,
        onProgress: (line) => progress.update(`Building the helper image: ${line}`),
      },
      lookup,
    );
  } finally {
    progress.done();
  }
}

export interface ScanOutcome {
  report: ScanReport;
  /**
   * Resolves once the helper exited cleanly and its container is gone (it fails otherwise). The
   * report is usable before: the daemon's teardown of the container overlaps the analysis and
   * the output. Await it before the command ends.
   */
  helperGone: Promise<void>;
}

export async function scanAndAnalyze(
  ctx: LeakContext,
  docker: DockerClient,
  inventory: Inventory,
  helper: PreparedHelper,
  deep: boolean,
): Promise<ScanOutcome> {
  const progress = progressLine(ctx.stderr, ctx.stderrIsTTY);
  progress.update("Scanning mount namespaces…");
  try {
    const { rootDir, driver } = inventory.daemon;
    const started = startScan(docker, helper, {
      filters: scanFilters(inventory),
      deep,
      // Ties detached overlays (pinned by open files) to their containers' layers.
      ...(driver === "overlay2" && rootDir ? { layersDir: `${rootDir.replace(/\/+$/, "")}/overlay2` } : {}),
      interrupts: ctx.interrupts,
    });
    const scan = await started.scan;
    try {
      return { report: analyze({ inventory, scan, deep, now: new Date() }), helperGone: started.finished };
    } catch (err) {
      await started.finished.catch(() => undefined);
      throw err;
    }
  } finally {
    progress.done();
  }
}
