/**
 * The scan pipeline shared by `scan` and `rm`: inventory from the daemon, one helper run with
 * the daemon's real paths as filters, then the leak model. The daemon calls that do not depend
 * on each other run together; nothing changes on the daemon before the caller has checked the
 * user's names. `scan` starts the helper as soon as the names are checked, while the containers
 * are still being inspected (the helper's start is the largest fixed cost of a scan).
 */
import type { ContainerSummary, DockerClient } from "../docker/client.js";
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
import type { ContainerInfo, DaemonFacts, Inventory, VolumeInfo } from "../model/inventory.js";
import type { ContainerRef } from "../model/targets.js";
import type { LeakContext } from "./context.js";
import { progressLine } from "./progress.js";

/** What the scan needs from the daemon; the containers may still be being inspected. */
export interface ScanInputs {
  daemon: DaemonFacts;
  volumes: VolumeInfo[];
  containers: ContainerInfo[] | Promise<ContainerInfo[]>;
}

/**
 * The daemon's facts, its volumes and its container list: enough to check the user's names and
 * to start the helper. The inspects of the listed containers are under way when it resolves.
 */
export interface Survey extends ScanInputs {
  /** Every container as listed (ID and primary name), for checking the user's names. */
  listed: ContainerRef[];
  containers: Promise<ContainerInfo[]>;
}

export async function takeSurvey(ctx: LeakContext, docker: DockerClient): Promise<Survey> {
  const [daemon, listed, volumes] = await Promise.all([
    docker.info(),
    docker.listContainers({}),
    docker.volumes(),
  ]);
  const containers = docker.inspectContainers(listed.map((c) => c.id));
  containers.catch(() => undefined); // awaited by whoever uses the survey, unless it failed first
  for (const warning of checkDaemonSupport(daemon, ctx.endpoint())) {
    ctx.stderr.write(`${ctx.errColor.yellow("warning:")} ${warning}\n`);
  }
  return { daemon, volumes, containers, listed: listed.map((c) => ({ id: c.id, name: primaryName(c) })) };
}

/** A listed container's own name: links add `/other/alias` names to the list, never to inspect. */
export function primaryName(c: ContainerSummary): string {
  return c.names.find((n) => !n.includes("/")) ?? c.names[0] ?? "";
}

export async function takeInventory(ctx: LeakContext, docker: DockerClient): Promise<Inventory> {
  const { daemon, volumes, containers } = await takeSurvey(ctx, docker);
  return { daemon, volumes, containers: await containers };
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
  inventory: { daemon: DaemonFacts },
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
  inputs: ScanInputs,
  helper: PreparedHelper,
  deep: boolean,
): Promise<ScanOutcome> {
  const progress = progressLine(ctx.stderr, ctx.stderrIsTTY);
  progress.update("Scanning mount namespaces…");
  try {
    const { daemon, volumes } = inputs;
    const { rootDir, driver } = daemon;
    const started = startScan(docker, helper, {
      filters: scanFilters(inputs),
      deep,
      // Ties detached overlays (pinned by open files) to their containers' layers.
      ...(driver === "overlay2" && rootDir ? { layersDir: `${rootDir.replace(/\/+$/, "")}/overlay2` } : {}),
      interrupts: ctx.interrupts,
    });
    try {
      const [scan, containers] = await Promise.all([started.scan, inputs.containers]);
      const inventory: Inventory = { daemon, volumes, containers };
      return { report: analyze({ inventory, scan, deep, now: new Date() }), helperGone: started.finished };
    } catch (err) {
      // The helper may still run (the inspects failed): its container goes before the error does.
      await started.finished.catch(() => undefined);
      throw err;
    }
  } finally {
    progress.done();
  }
}
