/** Per-target result lines of `rm` and `volume rm`, and their exit status. */
import { ExitCode } from "../errors.js";
import { describeFinding } from "../model/removal.js";
import type { LeakContext } from "./context.js";
import type { RemovalTarget, TargetOutcome } from "./removal.js";

export function reportOutcomes(
  ctx: LeakContext,
  targets: readonly RemovalTarget[],
  outcomes: readonly TargetOutcome[],
  opts: { dryRun: boolean; command: "rm" | "volume rm" },
): ExitCode {
  if (opts.dryRun) {
    ctx.stderr.write("dry run: nothing was changed\n");
    return ExitCode.Ok;
  }
  let code: ExitCode = ExitCode.Ok;
  outcomes.forEach((o, i) => {
    const t = targets[i]!;
    switch (o.status) {
      case "removed": {
        const parts: string[] = [];
        if (o.released) parts.push(`released ${o.released} leaked mount${o.released === 1 ? "" : "s"}`);
        if (o.detached) {
          parts.push(
            `${o.detached} locked mount${o.detached === 1 ? "" : "s"} (user-namespace holder) detached by removing the mount point`,
          );
        }
        ctx.stdout.write(
          parts.length
            ? `${t.arg}: ${parts.join(", ")}, removed; verified: nothing left\n`
            : `${t.arg}: removed\n`,
        );
        break;
      }
      case "held": {
        code = ExitCode.LeaksFound;
        const lines = o.remaining.map((f) => `  ${describeFinding(f)}\n`).join("");
        const why = o.failures.map((m) => `  ${m}\n`).join("");
        const n = `${o.remaining.length} mount${o.remaining.length === 1 ? "" : "s"}`;
        if (o.removed) {
          ctx.stdout.write(`${t.arg}: removed, but ${n} of it still held\n${lines}${why}`);
          ctx.stderr.write(
            "hint: restart the holders listed above (for holder containers, --restart-holders does it)\n",
          );
        } else {
          ctx.stdout.write(`${t.arg}: not removed: ${n} held in other mount namespaces\n${lines}${why}`);
          ctx.stderr.write(
            `hint: 'docker leak ${opts.command} --force-unmount ${t.arg}' releases them${opts.command === "rm" ? "; --restart-holders restarts holder containers as a last resort" : ""}\n`,
          );
        }
        break;
      }
      case "refused":
        code = ExitCode.Error;
        ctx.stderr.write(`docker leak: ${t.arg}: ${o.reason}\n`);
        break;
    }
  });
  return code;
}
