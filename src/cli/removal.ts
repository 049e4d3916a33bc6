/**
 * `rm` and `volume rm`: scan, release exactly the targets' leaked mounts inside the holders'
 * namespaces, remove through the API (retrying a bounded number of times on "device or resource
 * busy"), then re-scan and verify that nothing of the targets is mounted anywhere.
 */
import type { DockerClient } from "../docker/client.js";
import { ApiError } from "../docker/dockerode-client.js";
import { type PreparedHelper, unmountInHolders } from "../docker/helper.js";
import { InterruptedError } from "../errors.js";
import type { UmountResultRecord } from "../helper/protocol.js";
import { holderPhrase, shortId } from "../model/explain.js";
import type { Finding } from "../model/findings.js";
import type { Inventory } from "../model/inventory.js";
import {
  busyPathFromError,
  findingsAtOrBelow,
  isBusyError,
  type PlannedUnmount,
  planUnmounts,
} from "../model/removal.js";
import { renderTable } from "../render/table.js";
import type { LeakContext } from "./context.js";
import { scanAndAnalyze } from "./scan-run.js";

export interface RemovalTarget {
  /** What the user typed */
  arg: string;
  /** For messages: "container web" / "volume data" */
  label: string;
  /** Whether a finding is about this target */
  owns(f: Finding): boolean;
  /** Removes it through the API */
  remove(): Promise<void>;
  /** Containers the holder restarts may touch (never the target itself) */
  containerId?: string;
  /** Stops a running container before removal (`-f`); called only once removal goes ahead */
  stop?: () => Promise<void>;
}

export interface RemovalOptions {
  forceUnmount: boolean;
  dryRun: boolean;
  restartHolders: boolean;
}

export type TargetOutcome =
  /**
   * released: unmounted in the holders' namespaces; detached: could not be unmounted (locked
   * mounts of user-namespace holders) but went when the removal deleted their mount point in
   * the daemon's namespace (the kernel then detaches every copy of it).
   */
  | { status: "removed"; released: number; detached?: number }
  /** removed: whether the target itself is gone (held copies may outlive it) */
  | { status: "held"; removed: boolean; remaining: Finding[]; failures: string[] }
  | { status: "refused"; reason: string };

const MAX_BUSY_RETRIES = 3;

export class Removal {
  constructor(
    private readonly ctx: LeakContext,
    private readonly docker: DockerClient,
    private inventory: Inventory,
    private readonly helper: PreparedHelper,
  ) {}

  /** After a signal, nothing more is changed: the handler cleans up and exits 130. */
  private checkNotInterrupted(): void {
    if (this.ctx.interrupts.interrupted) throw new InterruptedError("SIGINT");
  }

  /** Helper containers still being torn down by the daemon; run() waits for them before it ends. */
  private readonly helpersGone: Promise<void>[] = [];

  private async scan(): Promise<Finding[]> {
    const { report, helperGone } = await scanAndAnalyze(
      this.ctx,
      this.docker,
      this.inventory,
      this.helper,
      false,
    );
    helperGone.catch(() => undefined); // awaited in run()
    this.helpersGone.push(helperGone);
    return report.findings;
  }

  private async refreshInventory(): Promise<void> {
    const [containers, volumes] = await Promise.all([this.docker.containers(), this.docker.volumes()]);
    this.inventory = { ...this.inventory, containers, volumes };
  }

  /** Runs the whole job for the targets; returns one outcome per target, in order. */
  async run(targets: readonly RemovalTarget[], opts: RemovalOptions): Promise<TargetOutcome[]> {
    try {
      return await this.runAll(targets, opts);
    } finally {
      // Each scan's output was complete when used; a failed exit still fails the command.
      for (const gone of this.helpersGone.splice(0)) await gone;
    }
  }

  private async runAll(targets: readonly RemovalTarget[], opts: RemovalOptions): Promise<TargetOutcome[]> {
    // With --force-unmount, running targets (-f) stop first: their captured copies become leaks to release.
    if (opts.forceUnmount && !opts.dryRun) {
      for (const t of targets) {
        this.checkNotInterrupted();
        await t.stop?.();
      }
    }
    const findings = await this.scan();
    const owned = (t: RemovalTarget) => findings.filter((f) => t.owns(f) && f.mount !== null);

    if (!opts.forceUnmount) {
      // Held targets are left alone (not even stopped); the others go as with docker rm.
      const outcomes: TargetOutcome[] = [];
      const free: RemovalTarget[] = [];
      for (const t of targets) {
        const held = owned(t);
        if (held.length) outcomes.push({ status: "held", removed: false, remaining: held, failures: [] });
        else {
          free.push(t);
          if (opts.dryRun) outcomes.push({ status: "removed", released: 0 });
          else {
            await t.stop?.();
            outcomes.push(await this.removeOnce(t, false));
          }
        }
      }
      if (opts.dryRun) this.ctx.stdout.write(renderPlan([], free));
      return outcomes;
    }

    const plan = planUnmounts(findings, (f) => targets.some((t) => t.owns(f)));
    if (opts.dryRun) {
      this.ctx.stdout.write(renderPlan(plan, targets));
      return targets.map(() => ({ status: "removed", released: 0 }));
    }

    const failures = new Map<Finding, string>();
    await this.unmount(plan, failures);
    if (opts.restartHolders && failures.size) await this.restartHolders([...failures.keys()], targets);

    const outcomes: TargetOutcome[] = [];
    for (const t of targets) {
      const released = plan.filter((p) => t.owns(p.finding) && !failures.has(p.finding)).length;
      const detached = [...failures.keys()].filter((f) => t.owns(f)).length;
      const outcome = await this.removeOnce(t, true);
      outcomes.push(outcome.status === "removed" ? { status: "removed", released, detached } : outcome);
    }

    // Verify: nothing of a removed target may be mounted anywhere any more.
    await this.refreshInventory();
    const after = await this.scan();
    return outcomes.map((o, i) => {
      if (o.status !== "removed") return o;
      const left = after.filter((f) => targets[i]!.owns(f) && f.mount !== null);
      if (!left.length) return o;
      return { status: "held", removed: true, remaining: left, failures: [...failures.values()] };
    });
  }

  private async unmount(plan: readonly PlannedUnmount[], failures: Map<Finding, string>): Promise<void> {
    if (!plan.length) return;
    const results = await unmountInHolders(
      this.docker,
      this.helper,
      plan.map((p) => p.order),
      this.ctx.interrupts,
    );
    results.forEach((r, i) => {
      const p = plan[i]!;
      if (!r.ok) failures.set(p.finding, unmountFailure(r, p.finding));
    });
  }

  /** Removal through the API; on EBUSY, re-scan, release what holds the target and retry. */
  private async removeOnce(t: RemovalTarget, release: boolean): Promise<TargetOutcome> {
    for (let attempt = 0; ; attempt++) {
      this.checkNotInterrupted();
      try {
        await t.remove();
        return { status: "removed", released: 0 };
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 404) {
          // Someone else removed it meanwhile (e.g. a concurrent `docker leak rm`): the goal is reached.
          return { status: "removed", released: 0 };
        }
        if (
          err instanceof ApiError &&
          err.statusCode === 409 &&
          /in progress/i.test(err.message) &&
          attempt < 40
        ) {
          // A concurrent removal is under way: wait for it to finish (then the next try sees 404).
          await new Promise((resolve) => setTimeout(resolve, 250));
          continue;
        }
        if (!(err instanceof ApiError) || !isBusyError(err.message)) {
          if (err instanceof ApiError && err.statusCode === 409)
            return { status: "refused", reason: err.message };
          throw err;
        }
        const findings = await this.scan();
        const held = findings.filter((f) => t.owns(f) && f.mount !== null);
        if (!release || attempt >= MAX_BUSY_RETRIES || !held.length) {
          return { status: "held", removed: false, remaining: held, failures: [err.message] };
        }
        // Release what holds the path the daemon named first; all of the target's mounts otherwise.
        const busyPath = busyPathFromError(err.message);
        const atPath = busyPath ? findingsAtOrBelow(held, busyPath) : [];
        const failures = new Map<Finding, string>();
        await this.unmount(
          planUnmounts(atPath.length ? atPath : held, () => true),
          failures,
        );
        if (failures.size === held.length)
          return { status: "held", removed: false, remaining: held, failures: [...failures.values()] };
      }
    }
  }

  /** Last resort, opt-in: restart holder containers (never host processes, never a target). */
  private async restartHolders(failed: readonly Finding[], targets: readonly RemovalTarget[]): Promise<void> {
    const ids = new Set<string>();
    for (const f of failed) {
      const o = f.holder.owner;
      if (o.kind === "container" && o.known && !targets.some((t) => t.containerId === o.id)) ids.add(o.id);
    }
    for (const id of ids) {
      this.checkNotInterrupted();
      this.ctx.stderr.write(`restarting holder container ${shortId(id)}\n`);
      await this.docker.restartContainer(id, 10);
    }
  }
}

function unmountFailure(r: UmountResultRecord, f: Finding): string {
  if (r.ok) return "";
  const locked =
    r.stage === "umount" && r.errno === "EINVAL"
      ? " (a locked mount: the holder is in a user namespace; restart it, or use --restart-holders if it is a container)"
      : "";
  return `${holderPhrase(f.holder)}: ${r.stage} failed: ${r.errno} ${r.message}${locked}`;
}

export function renderPlan(plan: readonly PlannedUnmount[], targets: readonly RemovalTarget[]): string {
  const rows = plan.map(({ finding: f, order }) => ({ f, order }));
  const table = rows.length
    ? renderTable(
        [
          { header: "TARGET", value: ({ f }) => targets.find((t) => t.owns(f))?.arg ?? "" },
          { header: "ACTION", value: () => "umount" },
          { header: "NAMESPACE", value: ({ f }) => `mnt:[${f.holder.namespace}]` },
          { header: "PIDS", value: ({ f }) => f.holder.pids.join(",") },
          { header: "OWNER", value: ({ f }) => holderPhrase(f.holder) },
          { header: "MOUNT ID", value: ({ order }) => String(order.mountId) },
          { header: "MOUNT POINT", value: ({ f }) => f.mount?.mountPoint ?? "" },
        ],
        rows,
      )
    : "";
  const removal = targets.map((t) => `then: remove ${t.label}\n`).join("");
  return `${table}${removal}`;
}
