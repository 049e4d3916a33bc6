/**
 * `watch`'s records, one line each: a log line for people (table) or one JSON object per line
 * for log shippers (`{"time","event","finding"|"released"|"release"|"error"}`), from the same
 * records. Every byte from the system is escaped.
 */
import type { ChalkInstance } from "chalk";
import { holderPhrase, shortId } from "../model/explain.js";
import type { Finding } from "../model/findings.js";
import type { Target } from "../model/resources.js";
import type { WatchCause, WatchRecord, WatchStatus } from "../model/watch.js";
import { escapeForTerminal, escapeJsonText } from "./escape.js";

function targetLabel(t: Target): string {
  if (t.kind === "volume") return `volume ${t.name}`;
  if (t.status === "removed") return `removed container ${shortId(t.id)}`;
  return `container ${t.name ?? shortId(t.id)} (${shortId(t.id)})`;
}

/** "container stop web", "volume unmount data", "daemon reload", "watch interval" */
export function causeLabel(c: WatchCause): string {
  const what = c.name ?? (c.id === null ? null : c.type === "container" ? shortId(c.id) : c.id);
  return [c.type, c.action, what].filter((x): x is string => x !== null && x !== "").join(" ");
}

function where(f: Finding): string {
  const at = f.mount ? f.mount.mountPoint : f.resource.path;
  return `${f.resource.kind} at ${at}`;
}

function holderText(f: Finding): string {
  return `${holderPhrase(f.holder)} in mnt:[${f.holder.namespace}]`;
}

export interface WatchLineOptions {
  color: ChalkInstance;
}

/** One human line for a record (with its newline). */
export function renderWatchLine(r: WatchRecord, { color }: WatchLineOptions): string {
  const time = r.time.toISOString();
  const after = r.cause ? ` (after ${causeLabel(r.cause)})` : "";
  let text: string;
  switch (r.kind) {
    case "finding": {
      const f = r.finding;
      const paint = f.severity === "captured" ? color.yellow : color.red;
      text = `${paint(f.severity)} ${targetLabel(f.target)}: ${where(f)} held by ${holderText(f)}${after}`;
      break;
    }
    case "released":
      text = `${color.green("released")} ${targetLabel(r.finding.target)}: ${where(r.finding)} no longer held by ${holderText(r.finding)}${after}`;
      break;
    case "release": {
      const { result, message } = r.action;
      const word =
        result === "released"
          ? color.green("release ok")
          : result === "gone"
            ? color.green("already gone")
            : result === "failed"
              ? color.red("release failed")
              : "would release";
      text = `${word} ${targetLabel(r.finding.target)}: ${where(r.finding)} in ${holderText(r.finding)}${message ? `: ${message}` : ""}`;
      break;
    }
    case "error":
      text = `${color.red("error")} ${r.message}${after}`;
      break;
  }
  return `${escapeForTerminal(`${time} ${text}`)}\n`;
}

function causeJson(c: WatchCause | null) {
  return c === null
    ? null
    : { type: c.type, action: c.action, id: c.id, name: c.name, time: c.time.toISOString() };
}

/** One JSON object per line: time, event, and one of finding, released, release, error. */
export function renderWatchJson(r: WatchRecord): string {
  const head = { time: r.time.toISOString(), event: causeJson(r.cause) };
  let body: Record<string, unknown>;
  switch (r.kind) {
    case "finding":
      body = { finding: r.finding };
      break;
    case "released":
      body = { released: r.finding };
      break;
    case "release":
      body = { release: { result: r.action.result, message: r.action.message, finding: r.finding } };
      break;
    case "error":
      body = { error: r.message };
      break;
  }
  return `${escapeJsonText(JSON.stringify({ ...head, ...body }))}\n`;
}

/** The stderr status line (connected, reconnecting). */
export function renderWatchStatus(s: WatchStatus, now: Date): string {
  const text =
    s.kind === "connected"
      ? s.again
        ? "following the daemon's events again; scanning everything once (events were missed)"
        : "watching the daemon's events"
      : `lost the daemon's events (${s.message}); trying again in ${Math.round(s.retryInMs / 100) / 10}s`;
  return `${escapeForTerminal(`${now.toISOString()} ${text}`)}\n`;
}
