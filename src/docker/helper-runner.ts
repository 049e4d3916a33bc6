/**
 * Runs the helper in a short-lived container with the host's PID namespace and the least
 * privilege its mode needs (DESIGN.md "Helper privileges"): stdout is NDJSON, streamed line by
 * line to the caller; stderr is kept for error messages. The container is removed in a
 * `finally`, by the daemon itself when it exits (AutoRemove), on SIGINT/SIGTERM, and leftovers
 * of crashed runs are swept by label and image.
 */
import { randomBytes } from "node:crypto";
import { InterruptedError, LeakError } from "../errors.js";
import { LineSplitter } from "../helper/protocol.js";
import type { DaemonFacts } from "../model/inventory.js";
import type { ContainerSpec, ContainerSummary, DockerClient } from "./client.js";
import { ApiError } from "./client.js";
import {
  explainHelperRefusal,
  hasAppArmor,
  hasSELinux,
  hasSeccomp,
  usesUsernsRemap,
} from "./daemon-support.js";
import { HELPER_ENTRYPOINT, HELPER_USER, HELPER_WORKDIR, LABEL_HELPER } from "./helper-image.js";
import { type HelperMode, helperSeccompProfile } from "./seccomp.js";

export type { HelperMode };

/** Container label: unix seconds after which a running helper is overdue (hung) and may be removed. */
export const LABEL_DEADLINE = "io.docker-leak.helper.deadline";
const STALE_AFTER_SECONDS = 60;
/** A scan or unmount takes seconds; a helper running this long is hung (e.g. on a dead mount). */
export const DEFAULT_DEADLINE_SECONDS = 3600;
/** How long after its deadline a running helper is left alone (clocks differ a little). */
export const DEADLINE_GRACE_SECONDS = 60;
/** The helper forks one worker or one child at a time; room for that, not for a fork bomb. */
export const HELPER_PIDS_LIMIT = 32;
export const HELPER_MEMORY_BYTES = 512 * 1024 * 1024;

/**
 * The HostConfig for a mode: never privileged; only the capabilities the mode needs; only the
 * system calls it makes. With that seccomp profile the helper cannot make a socket, so it stays
 * in the host's network namespace (a namespace of its own costs a dockerd re-exec per run);
 * daemons that cannot apply a profile give it an empty network namespace instead.
 */
export function helperHostConfig(
  mode: HelperMode,
  daemon: DaemonFacts,
  opts: { deep?: boolean } = {},
): Record<string, unknown> {
  const securityOpt = ["no-new-privileges"];
  if (hasAppArmor(daemon)) securityOpt.push("apparmor=unconfined");
  // SELinux would deny the helper's reads of other processes' /proc entries.
  if (hasSELinux(daemon)) securityOpt.push("label=disable");
  // Podman's compatible API reads `seccomp=` as a file on the service's host, never inline
  // JSON: the helper keeps Podman's default profile there (README "The helper container"),
  // which lets through sockets, so it gets no network to reach either.
  const podman = daemon.engine === "podman";
  const seccomp = hasSeccomp(daemon) && !podman;
  if (seccomp) securityOpt.push(`seccomp=${JSON.stringify(helperSeccompProfile(mode))}`);
  // Scan: ptrace-read access to /proc/PID/*; a deep scan also DAC_READ_SEARCH, to list other
  // users' /proc/PID/fd. Umount: setns needs SYS_ADMIN and SYS_CHROOT; chroot to the holder's
  // root needs SYS_CHROOT. Version: nothing.
  const caps =
    mode === "umount"
      ? ["SYS_ADMIN", "SYS_PTRACE", "SYS_CHROOT"]
      : mode === "scan"
        ? opts.deep
          ? ["SYS_PTRACE", "DAC_READ_SEARCH"]
          : ["SYS_PTRACE"]
        : [];
  const hostConfig: Record<string, unknown> = {
    PidMode: "host",
    CgroupnsMode: "host",
    NetworkMode: seccomp ? "host" : "none",
    ReadonlyRootfs: true,
    CapDrop: ["ALL"],
    CapAdd: caps,
    SecurityOpt: securityOpt,
    PidsLimit: HELPER_PIDS_LIMIT,
    Memory: HELPER_MEMORY_BYTES,
    MemorySwap: HELPER_MEMORY_BYTES,
    AutoRemove: true,
    LogConfig: { Type: "none", Config: {} },
  };
  if (usesUsernsRemap(daemon)) hostConfig.UsernsMode = "host";
  if (podman) {
    // Podman mounts every other container's /dev/shm in its own namespace, where a scan would
    // see the helper's as a container's; the helper uses none.
    hostConfig.IpcMode = "none";
  }
  return hostConfig;
}

export interface RunHelperOptions {
  image: string;
  mode: HelperMode;
  args: string[];
  daemon: DaemonFacts;
  /** A deep scan (it alone gets DAC_READ_SEARCH). */
  deep?: boolean;
  /** Unix seconds after which the run is overdue and a sweep may remove it (default: in an hour). */
  deadline?: number;
  /** Aborting it (SIGINT/SIGTERM) stops the run: the container is removed, InterruptedError thrown. */
  signal?: AbortSignal;
  /**
   * The whole run's bound, from create to removal: past it the container is removed and a
   * HelperTimeoutError names the phase it was in. Default: none.
   */
  timeoutMs?: number;
  /** Each stdout line (one NDJSON record), as it arrives. */
  onLine: (line: string, lineNo: number) => void;
  /** Asked after each line: is the output complete (e.g. its summary record seen)? */
  outputComplete?: () => boolean;
  /** Override of the capabilities (tests prove what a mode cannot do). */
  hostConfigOverride?: Record<string, unknown>;
  /** Called once the container exists, before it starts (tests interrupt here). */
  afterCreate?: (containerId: string) => Promise<void>;
}

export interface HelperRun {
  exitCode: number;
  stderr: string;
  containerId: string;
}

export interface StartedHelper {
  /**
   * Resolves as soon as `outputComplete` says so, or when the run has finished: the caller can
   * use the output while the container exits and the daemon removes it.
   */
  output: Promise<void>;
  /** The exit status, once the container has exited and is removed. */
  finished: Promise<HelperRun>;
}

/** Runs the helper and waits for all of it: exit status, output, removal. */
export function runHelper(docker: DockerClient, opts: RunHelperOptions): Promise<HelperRun> {
  return startHelper(docker, opts).finished;
}

/**
 * Runs the helper; its output can be used before the container has exited and been removed
 * (exit propagation and removal take a daemon ~100–200 ms). The caller must still await
 * `finished`: it carries the exit status and is when the container is gone.
 */
export function startHelper(docker: DockerClient, opts: RunHelperOptions): StartedHelper {
  let outputDone!: () => void;
  const early = new Promise<void>((resolve) => {
    outputDone = resolve;
  });
  const onLine = opts.outputComplete
    ? (line: string, lineNo: number) => {
        opts.onLine(line, lineNo);
        if (opts.outputComplete?.()) outputDone();
      }
    : opts.onLine;
  const finished = runToEnd(docker, { ...opts, onLine });
  const output = Promise.race([early, finished.then(() => undefined)]);
  // Both are observed by the caller; avoid an unhandled rejection for the one it awaits later.
  output.catch(() => undefined);
  finished.catch(() => undefined);
  return { output, finished };
}

/** A helper run that did not finish within its bound; the container was removed. */
export class HelperTimeoutError extends LeakError {
  override name = "HelperTimeoutError";
  constructor(
    readonly mode: HelperMode,
    readonly phase: string,
    readonly timeoutMs: number,
  ) {
    super(
      `the helper (${mode}) did not finish within ${formatDuration(timeoutMs)} (it was ${phase}); its container was stopped and removed`,
      "A stalled filesystem or an overloaded daemon can cause this; --timeout allows longer.",
    );
  }
}

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * What stops a run early: the caller's signal or the deadline. Every wait of the run races with
 * it, so a hung daemon or helper cannot hold the command.
 */
class RunStop {
  phase = "creating its container";
  private reason: Error | null = null;
  private fire!: (err: Error) => void;
  readonly stopped: Promise<never>;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.stop(new InterruptedError("SIGINT"));

  constructor(
    private readonly mode: HelperMode,
    private readonly signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ) {
    this.stopped = new Promise<never>((_, reject) => {
      this.fire = reject;
    });
    this.stopped.catch(() => undefined);
    if (signal?.aborted) this.stop(new InterruptedError("SIGINT"));
    signal?.addEventListener("abort", this.onAbort, { once: true });
    if (timeoutMs !== undefined && timeoutMs > 0)
      this.timer = setTimeout(
        () => this.stop(new HelperTimeoutError(this.mode, this.phase, timeoutMs)),
        timeoutMs,
      );
  }

  get error(): Error | null {
    return this.reason;
  }

  private stop(err: Error): void {
    if (this.reason) return;
    this.reason = err;
    this.fire(err);
  }

  race<T>(p: Promise<T>): Promise<T> {
    if (this.reason) return Promise.reject(this.reason);
    p.catch(() => undefined); // the stop's error is the one reported
    return Promise.race([p, this.stopped]);
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}

/** Removing a container must not hang the command either: past this, it is left to the sweep. */
const REMOVE_BOUND_MS = 15_000;

async function runToEnd(docker: DockerClient, opts: RunHelperOptions): Promise<HelperRun> {
  const name = `docker-leak-helper-${opts.mode}-${randomBytes(4).toString("hex")}`;
  const deadline = opts.deadline ?? Math.ceil(Date.now() / 1000) + DEFAULT_DEADLINE_SECONDS;
  // Everything a container would otherwise inherit from its image is pinned (the daemon merges
  // an empty Env with the image's; the image is checked to have none, see helper-image.ts).
  const spec: ContainerSpec = {
    name,
    Image: opts.image,
    Entrypoint: HELPER_ENTRYPOINT,
    Cmd: [opts.mode, ...opts.args],
    User: HELPER_USER,
    Env: [],
    WorkingDir: HELPER_WORKDIR,
    Healthcheck: { Test: ["NONE"] },
    Labels: { [LABEL_HELPER]: opts.mode, [LABEL_DEADLINE]: String(deadline) },
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: {
      ...helperHostConfig(opts.mode, opts.daemon, { deep: opts.deep === true }),
      ...opts.hostConfigOverride,
    },
  };
  const stop = new RunStop(opts.mode, opts.signal, opts.timeoutMs);
  // After a signal nothing new starts.
  if (stop.error) {
    stop.clear();
    throw stop.error;
  }
  const creating = docker.createContainer(spec).catch((err: unknown) => {
    throw (err instanceof ApiError && explainHelperRefusal(err.message, docker.endpoint)) || err;
  });
  creating.catch(() => undefined); // observed below, or by the cleanup
  let id: string | undefined;
  try {
    id = await stop.race(creating);
    if (opts.afterCreate) await stop.race(opts.afterCreate(id));
    stop.phase = "attaching to its output";
    const streams = await stop.race(docker.attachContainer(id));
    const exited = docker.waitContainer(id, "removed");
    exited.catch(() => undefined); // observed below; avoid an unhandled rejection if start fails
    const stdoutDone = readLines(streams.stdout, opts.onLine);
    // Observed below, after the exit status: when the daemon goes away mid-run, the wait fails
    // first (the error to report), and a cut-off last line must not become an unhandled rejection.
    stdoutDone.catch(() => undefined);
    const stderr = new StderrTail();
    streams.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    stop.phase = "starting it";
    await stop.race(
      docker.startContainer(id).catch((err: unknown) => {
        throw (err instanceof ApiError && explainHelperRefusal(err.message, docker.endpoint)) || err;
      }),
    );
    stop.phase = "running";
    const exitCode = await stop.race(exited);
    stop.phase = "finishing its output";
    await stop.race(streams.ended);
    await stop.race(stdoutDone);
    return { exitCode, stderr: stderr.text(), containerId: id };
  } finally {
    stop.clear();
    // The container, also when the create was still in flight when the run was stopped.
    const created =
      id ??
      (await boundedWait(
        creating.catch(() => undefined),
        REMOVE_BOUND_MS,
      ));
    if (created) await boundedWait(removeQuietly(docker, created), REMOVE_BOUND_MS);
  }
}

/** `p`, or undefined once `ms` have passed. */
function boundedWait<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Feeds the helper's stdout to the one line reader (LineSplitter); rejects on a cut-off last line. */
function readLines(
  stream: NodeJS.ReadableStream & { setEncoding(enc: BufferEncoding): unknown; destroy?(): void },
  onLine: (line: string, lineNo: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const splitter = new LineSplitter(onLine);
    let failed = false;
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      if (failed) return;
      try {
        splitter.push(chunk);
      } catch (err) {
        failed = true;
        stream.destroy?.();
        reject(err);
      }
    });
    stream.on("end", () => {
      if (failed) return;
      try {
        splitter.end();
        resolve();
      } catch (err) {
        reject(err);
      }
    });
    stream.on("error", reject);
  });
}

/**
 * The end of what the helper wrote on stderr, bounded: its messages are a few lines, but a helper
 * gone wrong (or a stand-in) could write without end, and that must not exhaust memory.
 */
export class StderrTail {
  static readonly LIMIT = 64 * 1024;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private dropped = false;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes > StderrTail.LIMIT && this.chunks.length > 1) {
      this.bytes -= this.chunks.shift()?.length ?? 0;
      this.dropped = true;
    }
    const only = this.chunks[0];
    if (this.bytes > StderrTail.LIMIT && only) {
      this.chunks = [only.subarray(only.length - StderrTail.LIMIT)];
      this.bytes = StderrTail.LIMIT;
      this.dropped = true;
    }
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString("utf8").trim();
    return this.dropped ? `…${text.slice(text.indexOf("\n") + 1)}` : text;
  }
}

async function removeQuietly(docker: DockerClient, id: string): Promise<void> {
  try {
    await docker.removeContainer(id, { force: true });
  } catch (err) {
    // Already removed by AutoRemove (404) or being removed (409): that is the goal.
    if (err instanceof ApiError && (err.statusCode === 404 || err.statusCode === 409)) return;
    throw err;
  }
}

/**
 * Whether a container is a helper left by a crashed run (or by a daemon restart): a helper is a
 * container with our label *and* an image the plugin trusts (a container of an image derived from
 * ours inherits no label of ours, but is not ours either way). Exited or dead at any age; created
 * but never started only after a minute, since a concurrent run may be about to start it;
 * running (or paused) only once its deadline label has passed, plus a minute's grace (without a
 * readable deadline: an hour after it was created).
 */
export function isStaleHelper(
  c: ContainerSummary,
  trustedImages: ReadonlySet<string>,
  nowSeconds: number,
): boolean {
  if (c.labels[LABEL_HELPER] === undefined || !trustedImages.has(c.imageId)) return false;
  switch (c.state) {
    case "exited":
    case "dead":
      return true;
    case "created":
      return nowSeconds - c.created > STALE_AFTER_SECONDS;
    case "running":
    case "paused":
    case "restarting": {
      const label = Number(c.labels[LABEL_DEADLINE]);
      const deadline = Number.isFinite(label) && label > 0 ? label : c.created + DEFAULT_DEADLINE_SECONDS;
      return nowSeconds > deadline + DEADLINE_GRACE_SECONDS;
    }
    default:
      return false; // removing: the daemon is at it
  }
}

/**
 * Helper containers to remove with removeHelpers (read-only, so it can run before the user's
 * names are checked), among those of `trustedImages` (see isStaleHelper).
 */
export async function findStaleHelpers(
  docker: DockerClient,
  trustedImages: readonly string[] | Promise<readonly string[]>,
  nowSeconds = Date.now() / 1000,
): Promise<string[]> {
  const [list, images] = await Promise.all([docker.listContainers({ label: [LABEL_HELPER] }), trustedImages]);
  const trusted = new Set(images);
  return list.filter((c) => isStaleHelper(c, trusted, nowSeconds)).map((c) => c.id);
}

export async function removeHelpers(docker: DockerClient, ids: readonly string[]): Promise<void> {
  for (const id of ids) await removeQuietly(docker, id);
}

/** A helper exit that is not 0: name the container, the status and what it said. */
export function helperFailure(mode: HelperMode, run: HelperRun): LeakError {
  const said = run.stderr ? `: ${run.stderr.split("\n").slice(-3).join("; ")}` : "";
  const how =
    run.exitCode === 137 ? " (killed)" : run.exitCode === 139 ? " (crashed: segmentation fault)" : "";
  return new LeakError(`the helper (${mode}) exited with status ${run.exitCode}${how}${said}`);
}
