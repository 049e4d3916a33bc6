import { Command, Option } from "clipanion";
import { runWatch, type WatchSink } from "../../core/watch.js";
import { UsageError } from "../../errors.js";
import { renderWatchJson, renderWatchLine, renderWatchStatus } from "../../render/watch.js";
import type { LeakContext } from "../context.js";
import { coreDeps } from "../core-deps.js";
import { DEFAULT_TIMEOUT, parseDuration } from "../duration.js";

export class WatchCommand extends Command<LeakContext> {
  static override paths = [["watch"]];
  static override usage = Command.Usage({
    description: "Report leaks as they happen, from the daemon's events",
    details: `
      Follows the daemon's events and, after a container dies, stops or is removed, a volume is unmounted or removed, or the daemon reloads, scans for leaked mounts (a burst of events costs a few scans, and one helper runs at a time). Each finding is printed once, with the time and the event that revealed it, again if its severity changes, and a \`released\` line once it is gone. Everything is scanned at the start, after the event stream was lost and followed again, and every --interval.

      --format json prints one JSON object per line: {"time","event", and one of "finding", "released", "release", "error"}.

      --release releases leaked copies of stopped or removed containers and of unused volumes at once, with the unmount orders \`docker leak rm --force-unmount\` uses; running containers and their captured copies are never touched. --dry-run shows what --release would do.

      Runs until interrupted: exit status 130 after SIGINT, 143 after SIGTERM; no helper container is left.
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
    const sink: WatchSink = {
      record: (r) => ctx.stdout.write(json ? renderWatchJson(r) : renderWatchLine(r, { color: ctx.color })),
      status: (s) => ctx.stderr.write(renderWatchStatus(s, new Date())),
    };
    await runWatch(deps, { intervalMs, release: this.release, dryRun: this.dryRun }, sink);
    // It ends only when interrupted: 128 + the signal's number, like a shell.
    return ctx.interrupts.by === "SIGTERM" ? 143 : 130;
  }
}
