/**
 * `rm` and `volume rm`: resolve the names (all of them before anything changes), scan, release
 * exactly the targets' leaked mounts inside the holders' namespaces, remove through the API
 * (retrying a bounded number of times on "device or resource busy"), then re-scan and verify
 * that nothing of the targets is mounted anywhere. A dry run does everything up to the plan and
 * reports what the real run would do, with the status it would end with.
 */
import { ApiError } from "../docker/client.js";
import { InterruptedError } from "../errors.js";
import type { UmountResultRecord } from "../helper/protocol.js";
import { analyze, usesVolume } from "../model/analyze.js";
import { scanFilters } from "../model/daemon.js";
import { holderPhrase, shortId } from "../model/explain.js";
import type { Finding, ScanReport } from "../model/findings.js";
import type { ContainerInfo, Inventory, VolumeInfo } from "../model/inventory.js";
import {
  busyPathFromError,
  findingsAtOrBelow,
  isBusyError,
  type OrderReport,
  type PlannedUnmount,
  planUnmounts,
  type RemovalReport,
  type TargetReport,
} from "../model/removal.js";
import { isActive, normalizeHostPath } from "../model/resources.js";
import { resolveContainer, resolveVolume } from "../model/targets.js";
import { type CoreDeps, progress } from "./deps.js";
import { HelperSession, startLookup, throwIfAborted } from "./session.js";
import { takeInventory } from "./survey.js";

export interface RemovalOptions {
  kind: "container" | "volume";
  /** Names, IDs or ID prefixes (containers), names (volumes), as the user typed them */
  refs: readonly string[];
  /** Unmount the targets' leaked mounts in the holders' namespaces */
  forceUnmount: boolean;
  /** Plan only; change nothing */
  dryRun: boolean;
  /** Restart holder containers (verified ones only, never a target) when unmounting failed */
  restartHolders: boolean;
  /** `-f`: stop a running container first */
  force: boolean;
  /** `-v`: remove a container's anonymous volumes */
  removeVolumes: boolean;
}

/** Interrupted (SIGINT/SIGTERM) after part of the work: what was done is reported. */
export class InterruptedRemoval extends InterruptedError {
  override name = "InterruptedRemoval";
  constructor(readonly report: RemovalReport) {
    super("SIGINT");
  }
}

const MAX_BUSY_RETRIES = 3;
const IN_PROGRESS_RETRIES = 40;
const IN_PROGRESS_WAIT_MS = 250;

interface Target {
  report: TargetReport;
  owns(f: Finding): boolean;
  remove(): Promise<void>;
  stop?: () => Promise<void>;
  containerId: string | null;
}

export async function runRemoval(deps: CoreDeps, opts: RemovalOptions): Promise<RemovalReport> {
  const lookup = startLookup(deps);
  const inventory = await takeInventory(deps.docker);
  // Every name resolves before anything changes; an unknown one changes nothing.
  const targets =
    opts.kind === "container"
      ? opts.refs.map((ref) => containerTarget(deps, opts, ref, resolveContainer(ref, inventory.containers)))
      : opts.refs.map((ref) => volumeTarget(deps, inventory, ref, resolveVolume(ref, inventory.volumes)));
  const report: RemovalReport = {
    kind: opts.kind,
    dryRun: opts.dryRun,
    forceUnmount: opts.forceUnmount,
    targets: targets.map((t) => t.report),
    restarted: [],
    warnings: [...inventory.warnings],
  };
  const active = targets.filter((t) => t.report.status !== "refused");
  if (!active.length) return report;

  const session = await HelperSession.open(deps, inventory.daemon, lookup);
  const work = new RemovalWork(deps, session, inventory, opts, report);
  try {
    await work.run(active);
    return report;
  } catch (err) {
    if (err instanceof InterruptedError) throw new InterruptedRemoval(report);
    throw err;
  } finally {
    await session.close().catch((err: unknown) => {
      // A scan helper that failed after its output was used: the report stands, the error is news.
      report.warnings.push(`a helper run failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}

function blankReport(
  ref: string,
  kind: "container" | "volume",
  id: string | null,
  name: string,
): TargetReport {
  return {
    ref,
    kind,
    id,
    name,
    status: "held",
    stopped: false,
    removed: false,
    orders: [],
    released: 0,
    detached: 0,
    remaining: [],
    failures: [],
    reason: null,
  };
}

function containerTarget(deps: CoreDeps, opts: RemovalOptions, ref: string, c: ContainerInfo): Target {
  const report = blankReport(ref, "container", c.id, c.name);
  const running = isActive(c.status);
  if (running && !opts.force) {
    report.status = "refused";
    report.reason = `container ${shortId(c.id)} is ${c.status}; stop it first or use -f`;
  }
  return {
    report,
    containerId: c.id,
    owns: (f) => f.target.kind === "container" && f.target.id === c.id,
    remove: () => deps.docker.removeContainer(c.id, { volumes: opts.removeVolumes }),
    ...(running && opts.force
      ? {
          stop: async () => {
            progress(deps, { kind: "stop", target: ref });
            await deps.docker.stopContainer(c.id, 0);
            report.stopped = true;
          },
        }
      : {}),
  };
}

function volumeTarget(deps: CoreDeps, inventory: Inventory, ref: string, v: VolumeInfo): Target {
  const report = blankReport(ref, "volume", null, v.name);
  // Like docker volume rm, and also binds of its _data or of a path below it: removing the
  // volume would pull those mounts out from under the container.
  const data = normalizeHostPath(v.mountpoint);
  const users = inventory.containers.filter((c) => c.mounts.some((m) => usesVolume(m, v.name, data)));
  if (users.length) {
    report.status = "refused";
    report.reason = `volume is in use - [${users.map((c) => c.id).join(", ")}]`;
  }
  return {
    report,
    containerId: null,
    owns: (f) => f.target.kind === "volume" && f.target.name === v.name,
    remove: () => deps.docker.removeVolume(v.name),
  };
}

class RemovalWork {
  private inventory: Inventory;

  constructor(
    private readonly deps: CoreDeps,
    private readonly session: HelperSession,
    inventory: Inventory,
    private readonly opts: RemovalOptions,
    private readonly report: RemovalReport,
  ) {
    this.inventory = inventory;
  }

  async run(targets: Target[]): Promise<void> {
    const { opts } = this;
    // With --force-unmount, running targets (-f) stop first: their captured copies become leaks
    // to release. (A dry run plans from the copies as they are: the same mounts.)
    if (opts.forceUnmount && !opts.dryRun) {
      for (const t of targets) {
        throwIfAborted(this.deps.signal);
        await t.stop?.();
      }
    }
    const scanned = await this.scan();
    const findings = scanned.findings;
    const held = (t: Target) => findings.filter((f) => t.owns(f) && f.mount !== null);

    if (!opts.forceUnmount) {
      // Held targets are left alone (not even stopped); the others go as with docker rm.
      for (const t of targets) {
        const mounts = held(t);
        if (mounts.length) {
          Object.assign(t.report, { status: "held", remaining: mounts });
        } else if (opts.dryRun) {
          t.report.status = "would-remove";
          t.report.stopped = t.stop !== undefined;
        } else {
          throwIfAborted(this.deps.signal);
          await t.stop?.();
          await this.removeOnce(t, false);
        }
      }
      return;
    }

    if (scanned.daemon.foundBy === "none") {
      for (const t of targets) {
        t.report.status = "refused";
        t.report.reason =
          "the Docker daemon's mount namespace could not be identified, so nothing can be proven to be this target's; nothing was unmounted";
      }
      return;
    }

    const plan = planUnmounts(findings, (f) => targets.some((t) => t.owns(f)));
    const planFor = (t: Target) => plan.filter((p) => t.owns(p.finding));
    if (opts.dryRun) {
      for (const t of targets) {
        // A held mount without an order (its namespace could not be entered) cannot be released.
        const stuck = held(t).filter((f) => f.unmount === null);
        t.report.orders = planFor(t).map((p) => ({ finding: p.finding, result: null }));
        t.report.stopped = t.stop !== undefined;
        if (stuck.length) Object.assign(t.report, { status: "held", remaining: stuck });
        else t.report.status = "would-remove";
      }
      return;
    }

    const failures = await this.unmount(plan, targets);
    if (opts.restartHolders && failures.size) await this.restartHolders([...failures.keys()], targets);

    for (const t of targets) {
      const mine = planFor(t);
      t.report.released = mine.filter((p) => !failures.has(p.finding)).length;
      await this.removeOnce(t, true);
      // Orders that failed (locked mounts) but whose mount point went with the removal.
      if (t.report.status === "removed")
        t.report.detached = [...failures.keys()].filter((f) => t.owns(f)).length;
    }

    // Verify: nothing of a removed target may be mounted anywhere any more.
    progress(this.deps, { kind: "verify" });
    await this.refreshInventory();
    const after = (await this.scan()).findings;
    for (const t of targets) {
      if (t.report.status !== "removed") continue;
      const left = after.filter((f) => t.owns(f) && f.mount !== null);
      if (!left.length) continue;
      Object.assign(t.report, {
        status: "held",
        removed: true,
        remaining: left,
        failures: [...t.report.failures, ...[...failures].filter(([f]) => t.owns(f)).map(([, m]) => m)],
      });
    }
  }

  private async scan(): Promise<ScanReport> {
    const run = this.session.scan({ filters: scanFilters(this.inventory), deep: false });
    const scan = await run.scan;
    const report = analyze({
      inventory: this.inventory,
      scan,
      now: this.deps.now?.() ?? new Date(),
      helperContainers: this.session.helperContainers(this.inventory.containers),
    });
    for (const w of report.warnings) if (!this.report.warnings.includes(w)) this.report.warnings.push(w);
    return report;
  }

  private async refreshInventory(): Promise<void> {
    const [containers, volumes] = await Promise.all([
      this.deps.docker.containers(),
      this.deps.docker.volumes(),
    ]);
    this.inventory = { ...this.inventory, containers, volumes };
  }

  /** Orders `plan`; each result is recorded on its target as it arrives. Returns the failures. */
  private async unmount(
    plan: readonly PlannedUnmount[],
    targets: readonly Target[],
  ): Promise<Map<Finding, string>> {
    const failures = new Map<Finding, string>();
    if (!plan.length) return failures;
    const entries = plan.map((p) => {
      const entry: OrderReport = { finding: p.finding, result: null };
      targets.find((t) => t.owns(p.finding))?.report.orders.push(entry);
      return entry;
    });
    await this.session.unmount(
      plan.map((p) => p.order),
      (r) => {
        const entry = entries[r.index];
        if (!entry) return;
        entry.result = r;
        if (!r.ok) failures.set(entry.finding, unmountFailure(r, entry.finding));
      },
    );
    return failures;
  }

  /** Removal through the API; on EBUSY, re-scan, release what holds the target and retry. */
  private async removeOnce(t: Target, release: boolean): Promise<void> {
    const r = t.report;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(this.deps.signal);
      progress(this.deps, { kind: "remove", target: r.ref });
      try {
        await t.remove();
        r.status = "removed";
        return;
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 404) {
          // Someone else removed it meanwhile (e.g. a concurrent `docker leak rm`): the goal is reached.
          r.status = "removed";
          return;
        }
        if (
          err instanceof ApiError &&
          err.statusCode === 409 &&
          /in progress/i.test(err.message) &&
          attempt < IN_PROGRESS_RETRIES
        ) {
          // A concurrent removal is under way: wait for it to finish (then the next try sees 404).
          await sleep(IN_PROGRESS_WAIT_MS, this.deps.signal);
          continue;
        }
        if (!(err instanceof ApiError) || !isBusyError(err.message)) {
          if (err instanceof ApiError && err.statusCode === 409) {
            Object.assign(r, { status: "refused", reason: err.message });
            return;
          }
          throw err;
        }
        const held = (await this.scan()).findings.filter((f) => t.owns(f) && f.mount !== null);
        if (!held.length) {
          // Busy, but nothing of the target is held anywhere: the daemon's own failure, as docker rm's.
          Object.assign(r, { status: "refused", reason: err.message });
          return;
        }
        if (!release || attempt >= MAX_BUSY_RETRIES) {
          Object.assign(r, { status: "held", remaining: held, failures: [...r.failures, err.message] });
          return;
        }
        // Release what holds the path the daemon named first; all of the target's mounts otherwise.
        const busyPath = busyPathFromError(err.message);
        const atPath = busyPath ? findingsAtOrBelow(held, busyPath) : [];
        const failures = await this.unmount(
          planUnmounts(atPath.length ? atPath : held, () => true),
          [t],
        );
        r.released += held.length - failures.size;
        if (failures.size === held.length) {
          Object.assign(r, {
            status: "held",
            remaining: held,
            failures: [...r.failures, ...failures.values()],
          });
          return;
        }
      }
    }
  }

  /** Last resort, opt-in: restart holder containers (verified ones, never a target). */
  private async restartHolders(failed: readonly Finding[], targets: readonly Target[]): Promise<void> {
    const ids = new Set<string>();
    for (const f of failed) {
      const o = f.holder.owner;
      if (o.kind === "container" && o.known && !targets.some((t) => t.containerId === o.id)) ids.add(o.id);
    }
    for (const id of ids) {
      throwIfAborted(this.deps.signal);
      progress(this.deps, { kind: "restart", container: shortId(id) });
      await this.deps.docker.restartContainer(id, 10);
      this.report.restarted.push(id);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new InterruptedError("SIGINT"));
      },
      { once: true },
    );
  });
}

/** One line on why an order failed, with what to do about it. */
export function unmountFailure(r: UmountResultRecord, f: Finding): string {
  if (r.ok) return "";
  let hint = "";
  if (r.locked)
    hint =
      " (a locked mount: the holder runs in another user namespace, so the kernel refuses to unmount it there; restart the holder, or use --restart-holders if it is a container)";
  else if (r.errno === "EPERM")
    hint =
      " (the daemon did not give the helper what unmounting needs: CAP_SYS_ADMIN and CAP_SYS_CHROOT, setns and umount2 in its seccomp profile; an AppArmor or SELinux policy may refuse them)";
  else if (r.errno === "ETIMEDOUT")
    hint =
      " (no answer in time: a filesystem on the way to the mount point is stalled, e.g. a stopped FUSE server)";
  else if (r.stage === "open")
    hint = " (the holder is gone or changed since the scan; nothing was done there)";
  else if (r.stage === "resolve" && r.errno === "ELOOP")
    hint = " (a symbolic link on the way to the mount point; refused, nothing was unmounted)";
  else if (r.stage === "check") hint = " (the mount changed since the scan; nothing was unmounted)";
  return `${holderPhrase(f.holder)}: ${r.stage} failed: ${r.errno} ${r.message}${hint}`;
}
