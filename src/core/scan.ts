/**
 * `scan`: the daemon's inventory, one helper run with the daemon's real paths as filters, the
 * leak model, and the findings of the targets the user named. The helper starts as soon as the
 * names are checked on the container list, while the containers are still being inspected (its
 * start is the largest fixed cost of a scan); nothing runs on the daemon before the names check.
 */
import { analyze } from "../model/analyze.js";
import { scanFilters } from "../model/daemon.js";
import { type Finding, type ScanReport, SEVERITIES, type Severity } from "../model/findings.js";
import type { Inventory } from "../model/inventory.js";
import { resolveScanTargets, TargetError, type TargetSelection } from "../model/targets.js";
import type { CoreDeps } from "./deps.js";
import { HelperSession, startLookup } from "./session.js";
import { takeSurvey } from "./survey.js";

export interface ScanOptions {
  /** Containers (ID, name, prefix) or volumes (name); all when empty. */
  targets: readonly string[];
  /** Also look for detached filesystems kept alive by open files. */
  deep: boolean;
}

export interface ScanHooks {
  /**
   * Called with the report as soon as it is known, before the helper container is gone (its
   * removal takes the daemon a moment): the caller can render meanwhile. runScan still resolves
   * only once the container is gone.
   */
  onReport?: (report: ScanReport) => void;
}

export async function runScan(deps: CoreDeps, opts: ScanOptions, hooks: ScanHooks = {}): Promise<ScanReport> {
  const { docker } = deps;
  const lookup = startLookup(deps);
  const survey = await takeSurvey(docker);
  const selection = resolveScanTargets(opts.targets, { containers: survey.listed, volumes: survey.volumes });
  const session = await HelperSession.open(deps, survey.daemon, lookup);
  try {
    const { rootDir, driver } = survey.daemon;
    const run = session.scan({
      filters: scanFilters(survey),
      deep: opts.deep,
      // Ties detached overlays (pinned by open files) to their containers' layers.
      ...(driver === "overlay2" && rootDir ? { layersDir: `${rootDir.replace(/\/+$/, "")}/overlay2` } : {}),
    });
    const [scan, containers] = await Promise.all([run.scan, survey.containers]);
    const inventory: Inventory = { daemon: survey.daemon, volumes: survey.volumes, containers };
    const report = analyze({
      inventory,
      scan,
      deep: opts.deep,
      now: deps.now?.() ?? new Date(),
      helperContainers: session.helperContainers(containers),
    });
    report.warnings.unshift(...survey.warnings);
    const selected = selectTargets(report, selection);
    hooks.onReport?.(selected);
    return selected;
  } finally {
    await session.close();
  }
}

/**
 * The findings of the named targets. A name that matched no current container may be the ID
 * prefix of a removed one still held somewhere; one that matches nothing at all is an error.
 */
export function selectTargets(report: ScanReport, selection: TargetSelection | null): ScanReport {
  if (!selection) return report;
  const removedHit = new Set<string>();
  const keep = (f: Finding): boolean => {
    if (f.target.kind === "volume") return selection.volumeNames.has(f.target.name);
    const id = f.target.id;
    const prefix = selection.removedPrefixes.find((p) => id.startsWith(p));
    if (prefix) removedHit.add(prefix);
    return selection.containerIds.has(id) || prefix !== undefined;
  };
  const findings = report.findings.filter(keep);
  const unknown = selection.removedPrefixes.filter((p) => !removedHit.has(p));
  if (unknown.length) throw new TargetError(`No such container or volume: ${unknown[0]}`);
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;
  return { ...report, findings, stats: { ...report.stats, bySeverity } };
}
