/**
 * `watch --metrics-file`: the watch's counters in Prometheus' text format (version 0.0.4), for
 * node_exporter's textfile collector. The file is rewritten whole after every scan.
 */
import { SEVERITIES } from "../model/findings.js";
import type { WatchStats } from "../model/watch.js";

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

const num = (n: number): string => (Number.isFinite(n) ? String(n) : "NaN");

export function renderWatchMetrics(stats: WatchStats): string {
  const out: string[] = [];
  const metric = (
    name: string,
    type: "gauge" | "counter" | "summary",
    help: string,
    samples: [Record<string, string>, number, string?][],
  ) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v, suffix] of samples) out.push(`${name}${suffix ?? ""}${labels(l)} ${num(v)}`);
  };

  // Every severity has a sample (0 when none), and every resource kind seen now.
  const counts = new Map<string, number>();
  for (const f of stats.findings) {
    const key = `${f.severity}\0${f.resource.kind}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const bySeverity = SEVERITIES.map((s): [Record<string, string>, number] => [
    { severity: s },
    stats.findings.filter((f) => f.severity === s).length,
  ]);
  metric("docker_leak_findings", "gauge", "Findings known now, by severity.", bySeverity);
  metric(
    "docker_leak_findings_by_resource",
    "gauge",
    "Findings known now, by severity and kind of resource held.",
    [...counts].sort().map(([k, n]) => {
      const [severity = "", resource = ""] = k.split("\0");
      return [{ severity, resource }, n];
    }),
  );
  metric("docker_leak_releases_total", "counter", "Leaked copies released (--release), by result.", [
    [{ result: "done" }, stats.releases.done],
    [{ result: "failed" }, stats.releases.failed],
  ]);
  metric("docker_leak_scans_total", "counter", "Scans run, by result.", [
    [{ result: "ok" }, stats.scans.ok],
    [{ result: "failed" }, stats.scans.failed],
  ]);
  metric("docker_leak_scan_duration_seconds", "summary", "Time the scans took.", [
    [{}, stats.scanSecondsTotal, "_sum"],
    [{}, stats.scans.ok + stats.scans.failed, "_count"],
  ]);
  metric("docker_leak_last_scan_duration_seconds", "gauge", "Time the last scan took.", [
    [{}, stats.lastScanSeconds],
  ]);
  metric(
    "docker_leak_last_success_timestamp_seconds",
    "gauge",
    "When the last successful scan ended (Unix time; 0: none yet).",
    [[{}, stats.lastSuccess ? stats.lastSuccess.getTime() / 1000 : 0]],
  );
  metric("docker_leak_daemon_reachable", "gauge", "1 while the daemon's event stream is followed.", [
    [{}, stats.daemonReachable ? 1 : 0],
  ]);
  metric("docker_leak_helper_runs_total", "counter", "Helper containers run (scans and unmounts).", [
    [{}, stats.helperRuns],
  ]);
  metric("docker_leak_events_total", "counter", "Daemon events received.", [[{}, stats.events]]);
  return `${out.join("\n")}\n`;
}
