/**
 * The three renderings of a scan (table, JSON, quiet IDs) and the stderr summary, all from the
 * same findings. The JSON schema is documented in README.md ("JSON output").
 */
import type { ChalkInstance } from "chalk";
import { ExitCode } from "../errors.js";
import { holderPhrase, shortId } from "../model/explain.js";
import { type Finding, isLeak, type ScanReport, SEVERITIES, type Severity } from "../model/findings.js";
import { isFullId, isValidVolumeName, leakCommand } from "../model/names.js";
import type { Target } from "../model/resources.js";
import { escapeJsonText, escapeToWord } from "./escape.js";
import { type Column, renderTable } from "./table.js";

export const SCAN_SCHEMA_VERSION = 1;

export interface ScanView {
  report: ScanReport;
  /** The findings to show (all, or those of the named targets), most urgent first, grouped by target. */
  findings: Finding[];
}

export function targetKey(t: Target): string {
  return t.kind === "volume" ? `volume:${t.name}` : `container:${t.id}`;
}

const severityRank = (s: Severity) => SEVERITIES.indexOf(s);

export function scanView(report: ScanReport, keep: (f: Finding) => boolean = () => true): ScanView {
  const findings = report.findings.filter(keep);
  // Group by target; groups ordered by their most urgent finding, then by name.
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const key = targetKey(f.target);
    const group = groups.get(key);
    if (group) group.push(f);
    else groups.set(key, [f]);
  }
  const ordered = [...groups.values()]
    .map((g) =>
      g.sort(
        (a, b) =>
          severityRank(a.severity) - severityRank(b.severity) || a.holder.namespace - b.holder.namespace,
      ),
    )
    .sort(
      (a, b) =>
        severityRank(a[0]!.severity) - severityRank(b[0]!.severity) ||
        byName(label(a[0]!.target), label(b[0]!.target)),
    );
  return { report, findings: ordered.flat() };
}

/**
 * Names in a fixed order, case-insensitively first: the same on every machine, whatever its locale,
 * and without ICU's collator (localeCompare built one on every scan, ~10 ms and 4 MiB).
 */
export function byName(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function label(t: Target): string {
  return t.kind === "volume" ? t.name : (t.name ?? t.id);
}

export function exitCodeOf(view: ScanView): ExitCode {
  return view.findings.some((f) => isLeak(f.severity)) ? ExitCode.LeaksFound : ExitCode.Ok;
}

export interface TableOptions {
  noTrunc: boolean;
  color: ChalkInstance;
  /** A terminal's width: the table is made to fit it (see renderTable); absent, cells are whole */
  width?: number;
}

function severityPaint(color: ChalkInstance, severity: Severity): (s: string) => string {
  switch (severity) {
    case "leaked":
      return color.red.bold;
    case "stale":
      return color.yellow.bold;
    case "pinned":
      return color.magenta.bold;
    case "captured":
      return color.cyan;
  }
}

export function targetCell(t: Target, noTrunc: boolean): string {
  if (t.kind === "volume") return `volume ${t.name}`;
  const id = noTrunc ? t.id : shortId(t.id);
  return t.name ? `${t.name} (${id})` : id;
}

export function mountCell(f: Finding): string {
  return `${f.resource.kind} ${f.mount?.mountPoint ?? f.resource.path}`;
}

function pidsCell(pids: readonly number[], noTrunc: boolean): string {
  if (noTrunc || pids.length <= 4) return pids.join(",");
  return `${pids.slice(0, 3).join(",")},…(+${pids.length - 3})`;
}

/** A first column for findings of many daemons (the fleet's CONTEXT). */
export interface LeadColumn {
  header: string;
  value: (f: Finding) => string;
}

/**
 * The findings as a table. On a terminal (`width`) it fits: the mount point gives way first
 * (shortened in the middle), then the holder, the target and the cause, each to a comfortable
 * width; then NAMESPACE, STATE and PIDS are left out; then all are shortened to their minimum.
 * Elsewhere, and with --no-trunc, nothing is shortened.
 */
export function renderScanTable(view: ScanView, opts: TableOptions, lead?: LeadColumn): string {
  const { noTrunc, color } = opts;
  let previous = "";
  const rows = view.findings.map((f) => {
    const key = `${lead?.value(f) ?? ""} ${targetKey(f.target)}`;
    const first = key !== previous;
    previous = key;
    return { f, first };
  });
  type Row = (typeof rows)[number];
  const columns: Column<Row>[] = [
    ...(lead ? [{ header: lead.header, value: ({ f, first }: Row) => (first ? lead.value(f) : "") }] : []),
    {
      header: "TARGET",
      value: ({ f, first }) => (first ? targetCell(f.target, noTrunc) : ""),
      shrink: { mode: "end", min: 12, comfortable: 24, order: 3 },
    },
    { header: "STATE", value: ({ f, first }) => (first ? f.target.status : ""), drop: 2 },
    {
      header: "MOUNT",
      value: ({ f }) => mountCell(f),
      shrink: { mode: "labelled", min: 16, comfortable: 32, order: 1 },
    },
    {
      header: "SEVERITY",
      value: ({ f }) => f.severity,
      paint: (s, { f }) => severityPaint(color, f.severity)(s),
    },
    {
      header: "HOLDER",
      value: ({ f }) => holderPhrase(f.holder),
      shrink: { mode: "end", min: 12, comfortable: 24, order: 2 },
    },
    { header: "PIDS", value: ({ f }) => pidsCell(f.holder.pids, noTrunc), drop: 3 },
    { header: "NAMESPACE", value: ({ f }) => `mnt:[${f.holder.namespace}]`, drop: 1 },
    {
      header: "CAUSE",
      value: ({ f }) => (noTrunc ? f.cause.full : f.cause.short),
      shrink: { mode: "end", min: 16, comfortable: 40, order: 4 },
    },
  ];
  return renderTable(columns, rows, noTrunc ? undefined : opts.width);
}

/**
 * IDs of affected containers (short unless --no-trunc, like `docker ps -q`) and names of affected
 * volumes, one per line, for `$(…)` and xargs. A volume name (or, from a strange daemon, an ID)
 * that Docker's rules would not accept is written with every character outside `[A-Za-z0-9_.-]`
 * as `\xHH`/`\uHHHH` (UTF-16 code units): one visible word with no blank, quote or control
 * character, which cannot split into, or be read as, the name of another volume.
 */
export function renderQuiet(view: ScanView, noTrunc: boolean): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const f of view.findings) {
    const t = f.target;
    const id =
      t.kind === "volume"
        ? isValidVolumeName(t.name)
          ? t.name
          : escapeToWord(t.name)
        : isFullId(t.id)
          ? noTrunc
            ? t.id
            : shortId(t.id)
          : escapeToWord(t.id);
    if (!seen.has(id)) {
      seen.add(id);
      lines.push(id);
    }
  }
  return lines.map((l) => `${l}\n`).join("");
}

/**
 * The JSON document, in pieces: one per finding (and the commas between them), each escaped on its
 * own, so that a scan with thousands of findings is written out as it is serialised instead of
 * being built as one string; the caller packs the pieces into large writes (cli/write-pieces.ts).
 * Compact, like `docker ps --format json`; pipe it to `jq` for reading. `end` follows the document
 * (a newline; nothing when it is embedded in the fleet's).
 */
export function* renderScanJson(view: ScanView, end = "\n"): Generator<string> {
  const { report } = view;
  const head = {
    schemaVersion: SCAN_SCHEMA_VERSION,
    scannedAt: report.scannedAt,
    daemon: report.daemon,
    leaks: view.findings.some((f) => isLeak(f.severity)),
    summary: countBySeverity(view.findings),
  };
  // escapeJsonText: DEL, C1 controls, U+2028/2029 and bidi controls as \uXXXX (see escape.ts).
  const headText = escapeJsonText(JSON.stringify(head));
  yield `${headText.slice(0, -1)},"findings":[`;
  let first = true;
  for (const f of view.findings) {
    if (!first) yield ",";
    first = false;
    yield escapeJsonText(JSON.stringify(f));
  }
  const tail = {
    detached: report.detached,
    stats: report.stats,
    skipped: report.skipped,
    warnings: report.warnings,
  };
  yield `],${escapeJsonText(JSON.stringify(tail)).slice(1)}${end}`;
}

function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const out = { leaked: 0, stale: 0, pinned: 0, captured: 0 } as Record<Severity, number>;
  for (const f of findings) out[f.severity]++;
  return out;
}

const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;

/** One line for stderr: what was found and what was looked at. */
export function scanSummary(view: ScanView, color: ChalkInstance): string {
  const { stats } = view.report;
  const counts = countBySeverity(view.findings);
  const targets = new Set(view.findings.map((f) => targetKey(f.target))).size;
  const scanned = `${plural(stats.processes, "process", "processes")} in ${plural(stats.namespaces, "mount namespace")} scanned`;
  const skipped = stats.skippedProcesses
    ? `; ${plural(stats.skippedProcesses, "process", "processes")} could not be inspected`
    : "";
  if (view.findings.length === 0) return `${color.green("No leaked mounts")} (${scanned}${skipped})`;
  const parts = SEVERITIES.filter((s) => counts[s] > 0).map((s) =>
    severityPaint(color, s)(`${counts[s]} ${s}`),
  );
  return `${parts.join(", ")} across ${plural(targets, "target")} (${scanned}${skipped})${blockingClause(view.findings)}`;
}

/**
 * Whether the findings block `docker rm`/`docker volume rm` on the daemon's kernel (see the
 * README, "When leaks bite"): held copies do not since Linux 3.18, a mount below a volume's
 * data in the daemon's own namespace always does.
 */
function blockingClause(findings: readonly Finding[]): string {
  const removals = findings.map((f) => f.cause.facts.removal).filter((r) => r !== null);
  if (removals.length === 0) return "";
  const blocking = removals.filter((r) => r.blocks === "yes");
  if (blocking.length) {
    const commands = [...new Set(blocking.map((r) => r.command))].join(" and ");
    return `; ${plural(blocking.length, "finding")} block${blocking.length === 1 ? "s" : ""} ${commands}`;
  }
  if (removals.some((r) => r.blocks === "unknown")) return "; removal may fail (fs.may_detach_mounts)";
  return "; nothing blocks removal on this kernel";
}

/**
 * What to run next, like docker's "What's next" hints: one command per kind of target that
 * releases and removes every target whose finding has a command now (leaked and stale ones;
 * captured owners still run, pinned files need their holder restarted).
 */
export function nextCommands(view: ScanView): string[] {
  const containers = new Map<string, Target>();
  const volumes = new Map<string, Target>();
  for (const f of view.findings) {
    if (f.cure.immediate === null) continue;
    (f.target.kind === "volume" ? volumes : containers).set(targetKey(f.target), f.target);
  }
  const out: string[] = [];
  if (containers.size) {
    out.push(
      leakCommand(
        "rm",
        ...[...containers.values()].map((t) => ({
          name: t.kind === "container" ? t.name : null,
          id: t.kind === "container" ? t.id : null,
        })),
      ),
    );
  }
  if (volumes.size)
    out.push(
      leakCommand(
        "volume rm",
        ...[...volumes.values()].map((t) => ({ name: t.kind === "volume" ? t.name : null })),
      ),
    );
  return out;
}

/** docker's hint block: a blank line, `What's next:`, each hint indented. */
export function renderHints(hints: readonly { what: string; command: string }[]): string {
  if (hints.length === 0) return "";
  return `\nWhat's next:\n${hints.map((h) => `    ${h.what} → ${h.command}\n`).join("")}`;
}

/** The scan's hints: release and remove what was found. */
export function scanHints(view: ScanView): string {
  return renderHints(
    nextCommands(view).map((command) => ({
      what: command.startsWith("docker leak volume rm")
        ? "Release and remove the volumes"
        : "Release and remove the containers",
      command,
    })),
  );
}
