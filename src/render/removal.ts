/**
 * The renderings of an `rm` / `volume rm` report: text (one line per target on stdout, the plan
 * as a table, hints on stderr) and JSON (schema in README.md), and the exit status the report
 * means. Names, holder phrases and daemon or helper messages are escaped for the terminal
 * (escape.ts); suggested commands are quoted for the shell (model/names.ts).
 */
import { ExitCode } from "../errors.js";
import { holderPhrase, shortId } from "../model/explain.js";
import type { Finding } from "../model/findings.js";
import { leakCommand } from "../model/names.js";
import {
  describeFinding,
  type OrderReport,
  type RemovalReport,
  type TargetReport,
} from "../model/removal.js";
import { escapeForTerminal as esc, escapeJsonText } from "./escape.js";
import { renderTable } from "./table.js";

export const REMOVAL_SCHEMA_VERSION = 1;

export interface Rendered {
  stdout: string;
  stderr: string;
}

/** Refused wins (as docker rm: an error), then held (3: not every target could be cleared). */
export function removalExitCode(report: RemovalReport): ExitCode {
  if (report.targets.some((t) => t.status === "refused")) return ExitCode.Error;
  if (report.targets.some((t) => t.status === "held")) return ExitCode.LeaksFound;
  return ExitCode.Ok;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const command = (r: RemovalReport): "rm" | "volume rm" => (r.kind === "volume" ? "volume rm" : "rm");

/** The dry run's plan; on a terminal (`width`) the owner and the mount point give way first. */
function planTable(report: RemovalReport, width?: number): string {
  const rows = report.targets.flatMap((t) => t.orders.map((o) => ({ t, o })));
  if (!rows.length) return "";
  return renderTable(
    [
      { header: "TARGET", value: ({ t }) => t.ref },
      { header: "ACTION", value: () => "umount" },
      { header: "NAMESPACE", value: ({ o }) => `mnt:[${o.finding.holder.namespace}]` },
      { header: "PIDS", value: ({ o }) => o.finding.holder.pids.join(",") },
      {
        header: "OWNER",
        value: ({ o }) => holderPhrase(o.finding.holder),
        shrink: { mode: "end", min: 12, comfortable: 24, order: 2 },
      },
      { header: "MOUNT ID", value: ({ o }) => String(o.finding.mount?.mountId ?? "") },
      {
        header: "MOUNT POINT",
        value: ({ o }) => o.finding.mount?.mountPoint ?? "",
        shrink: { mode: "middle", min: 16, comfortable: 40, order: 1 },
      },
    ],
    rows,
    width,
  );
}

function heldLines(t: TargetReport): string {
  const lines = t.remaining.map((f) => `  ${esc(describeFinding(f))}\n`).join("");
  return lines + t.failures.map((m) => `  ${esc(m)}\n`).join("");
}

function targetText(report: RemovalReport, t: TargetReport, out: Rendered): void {
  const ref = esc(t.ref);
  switch (t.status) {
    case "would-remove": {
      const steps: string[] = [];
      if (t.stopped) steps.push("stopped");
      if (t.orders.length) steps.push(`released from ${plural(t.orders.length, "leaked mount")}`);
      out.stdout += `${ref}: would be ${[...steps, "removed"].join(", ")}\n`;
      break;
    }
    case "removed": {
      const parts: string[] = [];
      if (t.released) parts.push(`released ${plural(t.released, "leaked mount")}`);
      if (t.detached) {
        parts.push(
          `${plural(t.detached, "locked mount")} (user-namespace holder) detached by removing the mount point`,
        );
      }
      out.stdout += parts.length
        ? `${ref}: ${parts.join(", ")}, removed; verified: nothing left\n`
        : `${ref}: removed\n`;
      break;
    }
    case "held": {
      const n = plural(t.remaining.length, "mount");
      if (t.removed) {
        out.stdout += `${ref}: removed, but ${n} of it still held\n${heldLines(t)}`;
        out.stderr +=
          "hint: restart the holders listed above (for holder containers, --restart-holders does it)\n";
      } else {
        const stopped = t.stopped ? " (stopped by docker leak)" : "";
        const verb = report.dryRun ? "would not be removed" : "not removed";
        out.stdout += `${ref}: ${verb}${stopped}: ${n} held in other mount namespaces\n${heldLines(t)}`;
        const cmd = leakCommand(command(report), { name: t.name, id: t.id });
        if (!report.forceUnmount) {
          out.stderr += `hint: \`${esc(cmd)}\` releases them${report.kind === "container" ? "; --restart-holders restarts holder containers as a last resort" : ""}\n`;
        }
      }
      break;
    }
    case "refused":
      out.stderr += `docker leak: cannot remove ${t.kind === "volume" ? "volume " : ""}${ref}: ${esc(t.reason ?? "refused")}${t.stopped ? " (it was stopped by docker leak)" : ""}\n`;
      break;
  }
}

export function renderRemovalText(report: RemovalReport, width?: number): Rendered {
  const out: Rendered = { stdout: "", stderr: "" };
  if (report.dryRun) out.stdout += planTable(report, width);
  for (const id of report.restarted) out.stderr += `restarted holder container ${shortId(id)}\n`;
  for (const t of report.targets) targetText(report, t, out);
  for (const w of report.warnings) out.stderr += `warning: ${esc(w)}\n`;
  if (report.dryRun) out.stderr += "dry run: nothing was changed\n";
  return out;
}

function findingJson(f: Finding) {
  return {
    severity: f.severity,
    resource: f.resource,
    holder: f.holder,
    mount: f.mount,
    unmount: f.unmount,
  };
}

function orderJson(o: OrderReport) {
  const r = o.result;
  return {
    namespace: o.finding.holder.namespace,
    pids: o.finding.holder.pids,
    owner: holderPhrase(o.finding.holder),
    mountId: o.finding.mount?.mountId ?? null,
    mountPoint: o.finding.mount?.mountPoint ?? null,
    resource: o.finding.resource,
    order: o.finding.unmount,
    result:
      r === null
        ? null
        : r.ok
          ? { ok: true, pid: r.pid, verifiedBy: r.verifiedBy }
          : { ok: false, pid: r.pid, stage: r.stage, errno: r.errno, message: r.message, locked: r.locked },
  };
}

export function renderRemovalJson(report: RemovalReport): string {
  const doc = {
    schemaVersion: REMOVAL_SCHEMA_VERSION,
    kind: report.kind,
    dryRun: report.dryRun,
    forceUnmount: report.forceUnmount,
    targets: report.targets.map((t) => ({
      ref: t.ref,
      kind: t.kind,
      id: t.id,
      name: t.name,
      status: t.status,
      stopped: t.stopped,
      removed: t.status === "removed" || t.removed,
      released: t.released,
      detached: t.detached,
      orders: t.orders.map(orderJson),
      remaining: t.remaining.map(findingJson),
      failures: t.failures,
      reason: t.reason,
    })),
    restarted: report.restarted,
    warnings: report.warnings,
  };
  return `${escapeJsonText(JSON.stringify(doc))}\n`;
}
