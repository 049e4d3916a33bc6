import { Command, Option } from "clipanion";
import { runWatch, type WatchSink } from "../../core/watch.js";
import { ExitCode, UsageError } from "../../errors.js";
import { emptyWatchStats } from "../../model/watch.js";
import { escapeForTerminal } from "../../render/escape.js";
import { renderWatchMetrics } from "../../render/metrics.js";
import { renderWatchJson, renderWatchLine, renderWatchStatus } from "../../render/watch.js";
import type { LeakContext } from "../context.js";
import { coreDeps } from "../core-deps.js";
import { DEFAULT_TIMEOUT, parseDuration } from "../duration.js";
import { writeFileAtomically } from "../metrics-file.js";

export class WatchCommand extends Command<LeakContext> {
  static override paths = [["watch"]];
  static override usage = Command.Usage({
    description: "Report leaks as they happen, from the daemon's events",
    details: `
      Follows the daemon's events and, after a container dies, stops or is removed, a volume is unmounted or removed, or the daemon reloads, scans for leaked mounts (a burst of events costs a few scans, and one helper runs at a time). Each finding is printed once, with the time and the event that revealed it, again if its severity changes, and a \`released\` line once it is gone. Everything is scanned at the start, after the event stream was lost and followed again, and every --interval.

      --format json prints one JSON object per line: {"time","event", and one of "finding", "released", "release", "error"}.

      --release releases leaked copies of stopped or removed containers and of unused volumes at once, with the unmount orders \`docker leak rm --force-unmount\` uses; running containers and their captured copies are never touched. --dry-run shows what --release would do.

      --metrics-file PATH rewrites PATH (atomically: a temporary file renamed into place) after every scan, in Prometheus' text format for node_exporter's textfile collector: findings by severity and resource kind, releases done and failed, scans and their duration, the last successful scan's time, whether the daemon is reachable.

      Runs until interrupted: exit status 130 after SIGINT, 143 after SIGTERM, 141 when its output is closed; no helper container is left.
    `,
    examples: [
      ["Watch for leaks", "docker leak watch"],
      [
        "Also scan everything every 10 minutes, as JSON lines",
        "docker leak watch --interval 10m --format json",
      ],
      ["Release leaks as they happen", "docker leak watch --release"],
    ],
  });

  format = Option.String("--format", "table", { description: "Output format: table or json" });
  interval = Option.String("--interval", { description: "Also scan everything this often (e.g. 10m)" });
  release = Option.Boolean("--release", false, {
    description: "Release leaked copies of stopped containers and unused volumes at once",
  });
  dryRun = Option.Boolean("--dry-run", false, { description: "With --release: show what would be released" });
  metricsFile = Option.String("--metrics-file", {
    description: "Write Prometheus metrics to this file after every scan",
  });
  timeout = Option.String("--timeout", DEFAULT_TIMEOUT, {
    description: "Stop a helper run that takes longer than this (e.g. 90s, 5m)",
  });

  override async execute(): Promise<number> {
    if (this.format !== "table" && this.format !== "json") {
      throw new UsageError(`unknown --format "${this.format}": use table or json`);
    }
    if (this.dryRun && !this.release) throw new UsageError("--dry-run needs --release");
    const intervalMs = this.interval === undefined ? 0 : parseDuration(this.interval, "--interval");
    const timeoutMs = parseDuration(this.timeout, "--timeout");
    const ctx = this.context;
    const { deps } = coreDeps(ctx, timeoutMs, "quiet");
    const json = this.format === "json";
    const metricsFile = this.metricsFile;
    if (metricsFile !== undefined) {
      if (metricsFile === "") throw new UsageError("--metrics-file needs a path");
      // Written once now, so that a path that cannot be written fails here, before anything runs.
      writeFileAtomically(metricsFile, renderWatchMetrics(emptyWatchStats()));
    }
    let metricsFailing = false;
    const sink: WatchSink = {
      record: (r) => ctx.stdout.write(json ? renderWatchJson(r) : renderWatchLine(r, { color: ctx.color })),
      status: (s) => ctx.stderr.write(renderWatchStatus(s, new Date())),
      scanned: (stats) => {
        if (metricsFile === undefined) return;
        try {
          writeFileAtomically(metricsFile, renderWatchMetrics(stats));
          metricsFailing = false;
        } catch (err) {
          // Said once per failing spell, not after every scan.
          if (!metricsFailing)
            ctx.stderr.write(`docker leak: ${escapeForTerminal((err as Error).message)}\n`);
          metricsFailing = true;
        }
      },
    };
    await runWatch(deps, { intervalMs, release: this.release, dryRun: this.dryRun }, sink);
    // It ends only when interrupted: 128 + the signal's number, like a shell.
    return ctx.interrupts.by === "SIGTERM"
      ? 143
      : ctx.interrupts.by === "SIGPIPE"
        ? ExitCode.OutputClosed
        : ExitCode.Interrupted;
  }
}
