/**
 * The renderings of a scan of many daemons, from the same per-daemon results: one table with a
 * CONTEXT column, one JSON document with an entry per daemon (each entry's report is the
 * single-daemon document), `context/ID` lines, and a line per daemon for stderr.
 */
import type { ChalkInstance } from "chalk";
import { ExitCode } from "../errors.js";
import type { Finding, ScanReport } from "../model/findings.js";
import { escapeForTerminal, escapeJsonText, escapeToWord } from "./escape.js";
import { scanRow } from "./fields.js";
import {
  exitCodeOf,
  renderQuiet,
  renderScanJson,
  renderScanTable,
  SCAN_SCHEMA_VERSION,
  type ScanView,
  scanSummary,
  scanView,
  type TableOptions,
} from "./scan.js";
import type { Row } from "./template.js";

export interface DaemonView {
  context: string;
  endpoint: string;
  /** The scan's view, or the message of why the daemon could not be scanned. */
  result: { view: ScanView } | { error: string };
}

export interface FleetView {
  daemons: DaemonView[];
}

export function fleetView(
  daemons: readonly { context: string; endpoint: string; report?: ScanReport; error?: string }[],
): FleetView {
  return {
    daemons: daemons.map((d) => ({
      context: d.context,
      endpoint: d.endpoint,
      result: d.report ? { view: scanView(d.report) } : { error: d.error ?? "unknown error" },
    })),
  };
}

const views = (fleet: FleetView) =>
  fleet.daemons.flatMap((d) => ("view" in d.result ? [{ daemon: d, view: d.result.view }] : []));

/** 3 when any daemon has leaks, else 1 when any daemon could not be scanned, else 0. */
export function fleetExitCode(fleet: FleetView): ExitCode {
  if (views(fleet).some(({ view }) => exitCodeOf(view) === ExitCode.LeaksFound)) return ExitCode.LeaksFound;
  if (fleet.daemons.some((d) => "error" in d.result)) return ExitCode.Error;
  return ExitCode.Ok;
}

/** Every daemon's findings in one table, CONTEXT first; empty when there are none. */
export function renderFleetTable(fleet: FleetView, opts: TableOptions): string {
  const contextOf = new Map<Finding, string>();
  const findings: Finding[] = [];
  for (const { daemon, view } of views(fleet)) {
    for (const f of view.findings) {
      contextOf.set(f, daemon.context);
      findings.push(f);
    }
  }
  if (!findings.length) return "";
  const first = views(fleet)[0]!.view;
  return renderScanTable({ report: first.report, findings }, opts, {
    header: "CONTEXT",
    value: (f) => contextOf.get(f) ?? "",
  });
}

/** The rows of `--format TEMPLATE` (FLEET_SCAN_FIELDS): every daemon's findings, its context first. */
export function fleetRows(fleet: FleetView, noTrunc: boolean): Row[] {
  return views(fleet).flatMap(({ daemon, view }) =>
    view.findings.map((f) => ({ Context: daemon.context, ...scanRow(f, noTrunc) })),
  );
}

/** `context/ID` (or `context/volume`) per affected target, for `$(…)` and xargs. */
export function renderFleetQuiet(fleet: FleetView, noTrunc: boolean): string {
  let out = "";
  for (const { daemon, view } of views(fleet)) {
    const context = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(daemon.context)
      ? daemon.context
      : escapeToWord(daemon.context);
    for (const id of renderQuiet(view, noTrunc).split("\n")) if (id) out += `${context}/${id}\n`;
  }
  return out;
}

/**
 * `{"schemaVersion", "daemons": [{"context", "endpoint", "status", "error", "report"}]}`, in
 * pieces; each report is the single-daemon document (README "JSON output").
 */
export function* renderFleetJson(fleet: FleetView): Generator<string> {
  yield `{"schemaVersion":${SCAN_SCHEMA_VERSION},"daemons":[`;
  let first = true;
  for (const d of fleet.daemons) {
    const ok = "view" in d.result;
    const head = {
      context: d.context,
      endpoint: d.endpoint,
      status: ok ? "ok" : "error",
      error: "error" in d.result ? d.result.error : null,
    };
    yield `${first ? "" : ","}${escapeJsonText(JSON.stringify(head)).slice(0, -1)},"report":`;
    first = false;
    if ("view" in d.result) {
      yield* renderScanJson(d.result.view, "");
    } else {
      yield "null";
    }
    yield "}";
  }
  yield "]}\n";
}

/** One line per daemon for stderr: its scan's summary, or why it could not be scanned. */
export function fleetSummary(fleet: FleetView, color: ChalkInstance): string {
  return fleet.daemons
    .map((d) => {
      const name = escapeForTerminal(d.context);
      if ("view" in d.result) return `${name}: ${scanSummary(d.result.view, color)}\n`;
      return `${name}: ${color.red("error:")} ${escapeForTerminal(d.result.error)}\n`;
    })
    .join("");
}
