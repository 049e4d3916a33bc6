/**
 * Runs the helper in a short-lived container with the host's PID namespace and the least
 * privilege its mode needs (DESIGN.md "Helper privileges"): stdout is NDJSON, streamed line by
 * line to the caller; stderr is kept for error messages. The container is removed in a
 * `finally`, by the daemon itself when it exits (AutoRemove), on SIGINT/SIGTERM, and leftovers
 * of crashed runs are swept by label.
 */
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { Interrupts } from "../cli/context.js";
import { InterruptedError, LeakError } from "../errors.js";
import type { DaemonFacts } from "../model/inventory.js";
import type { ContainerSpec, DockerClient } from "./client.js";
import { explainHelperRefusal, hasAppArmor, hasSeccomp, usesUsernsRemap } from "./daemon-support.js";
import { ApiError } from "./dockerode-client.js";
import { LABEL_HELPER } from "./helper-image.js";
import { helperSeccompProfile } from "./seccomp.js";

export type HelperMode = "scan" | "umount" | "version";

export const LABEL_RUN = "io.docker-leak.helper.run";
const STALE_AFTER_SECONDS = 60;
/** A scan or unmount takes seconds; a helper running this long is hung (e.g. on a dead mount). */
const HUNG_AFTER_SECONDS = 3600;

/**
 * The HostConfig for a mode: never privileged; only the capabilities the mode needs; only the
 * system calls it makes. With that seccomp profile the helper cannot make a socket, so it stays
 * in the host's network namespace (a namespace of its own costs a dockerd re-exec per run);
 * daemons that cannot apply a profile give it an empty network namespace instead.
 */
export function helperHostConfig(mode: HelperMode, daemon: DaemonFacts): Record<string, unknown> {
  const securityOpt = ["no-new-privileges"];
  if (hasAppArmor(daemon)) securityOpt.push("apparmor=unconfined");
  const seccomp = hasSeccomp(daemon);
  if (seccomp) securityOpt.push(`seccomp=${JSON.stringify(helperSeccompProfile(mode))}`);
  // Scan: ptrace-read access to /proc/PID/*, and DAC_READ_SEARCH to list other users' /proc/PID/fd.
  // Umount: setns needs SYS_ADMIN and SYS_CHROOT; chroot to the holder's root needs SYS_CHROOT.
  const caps =
    mode === "umount" ? ["SYS_ADMIN", "SYS_PTRACE", "SYS_CHROOT"] : ["SYS_PTRACE", "DAC_READ_SEARCH"];
  const hostConfig: Record<string, unknown> = {
    PidMode: "host",
    CgroupnsMode: "host",
    NetworkMode: seccomp ? "host" : "none",
    ReadonlyRootfs: true,
    CapDrop: ["ALL"],
    CapAdd: mode === "version" ? [] : caps,
    SecurityOpt: securityOpt,
    AutoRemove: true,
    LogConfig: { Type: "none", Config: {} },
  };
  if (usesUsernsRemap(daemon)) hostConfig.UsernsMode = "host";
  return hostConfig;
}

export interface RunHelperOptions {
  image: string;
  mode: HelperMode;
  args: string[];
  daemon: DaemonFacts;
  interrupts?: Interrupts;
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

async function runToEnd(docker: DockerClient, opts: RunHelperOptions): Promise<HelperRun> {
  const name = `docker-leak-helper-${opts.mode}-${randomBytes(4).toString("hex")}`;
  const spec: ContainerSpec = {
    name,
    Image: opts.image,
    Cmd: [opts.mode, ...opts.args],
    Labels: { [LABEL_HELPER]: "1", [LABEL_RUN]: opts.mode },
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: { ...helperHostConfig(opts.mode, opts.daemon), ...opts.hostConfigOverride },
  };
  // After a signal nothing new starts: the handler's cleanups only know what exists already.
  if (opts.interrupts?.interrupted) throw new InterruptedError("SIGINT");
  const creating = docker.createContainer(spec).catch((err: unknown) => {
    throw (err instanceof ApiError && explainHelperRefusal(err.message, docker.endpoint)) || err;
  });
  // Registered before the create call returns: a signal while it is in flight must still remove
  // the container the daemon is about to create.
  const dispose = opts.interrupts?.onInterrupt(async () => {
    const created = await creating.catch(() => undefined);
    if (created) await removeQuietly(docker, created);
  });
  let id: string;
  try {
    id = await creating;
  } catch (err) {
    dispose?.();
    throw err;
  }
  const remove = () => removeQuietly(docker, id);
  try {
    await opts.afterCreate?.(id);
    const streams = await docker.attachContainer(id);
    const exited = docker.waitContainer(id, "removed");
    exited.catch(() => undefined); // observed below; avoid an unhandled rejection if start fails
    const stdoutDone = forEachLine(streams.stdout, opts.onLine);
    // Observed below, after the exit status: when the daemon goes away mid-run, the wait fails
    // first (the error to report), and a cut-off last line must not become an unhandled rejection.
    stdoutDone.catch(() => undefined);
    const stderr = new StderrTail();
    streams.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    await docker.startContainer(id).catch((err: unknown) => {
      throw (err instanceof ApiError && explainHelperRefusal(err.message, docker.endpoint)) || err;
    });
    const exitCode = await exited;
    await streams.ended;
    await stdoutDone;
    return { exitCode, stderr: stderr.text(), containerId: id };
  } finally {
    await remove();
    dispose?.();
  }
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
 * Calls `onLine` for each `\n`-terminated line; a last line without `\n` is passed too (the
 * decoder and the scan's summary check flag a cut-off record). Each chunk is searched once, so a
 * long line arriving in many small chunks costs linear time.
 */
export function forEachLine(stream: Readable, onLine: (line: string, lineNo: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let pieces: string[] = [];
    let lineNo = 0;
    const emit = (line: string) => {
      lineNo++;
      if (line.length) onLine(line, lineNo);
    };
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      try {
        let start = 0;
        let nl = chunk.indexOf("\n");
        while (nl !== -1) {
          pieces.push(chunk.slice(start, nl));
          emit(pieces.join(""));
          pieces = [];
          start = nl + 1;
          nl = chunk.indexOf("\n", start);
        }
        if (start < chunk.length) pieces.push(chunk.slice(start));
      } catch (err) {
        stream.destroy();
        reject(err);
      }
    });
    stream.on("end", () => {
      try {
        if (pieces.length) emit(pieces.join(""));
        resolve();
      } catch (err) {
        reject(err);
      }
    });
    stream.on("error", reject);
  });
}

/**
 * Helper containers left by crashed runs (or by a daemon restart), to remove with removeHelpers
 * (read-only, so it can run before the user's names are checked): ours by label, exited
 * or dead at any age; created but never started only after a minute, since a concurrent run may
 * be about to start it; running ones only when hung (an hour: a run takes seconds).
 */
export async function findStaleHelpers(
  docker: DockerClient,
  nowSeconds = Date.now() / 1000,
): Promise<string[]> {
  const list = await docker.listContainers({ label: [`${LABEL_HELPER}=1`] });
  return list
    .filter(
      (c) =>
        c.state === "exited" ||
        c.state === "dead" ||
        (c.state === "created" && nowSeconds - c.created > STALE_AFTER_SECONDS) ||
        (c.state === "running" && nowSeconds - c.created > HUNG_AFTER_SECONDS),
    )
    .map((c) => c.id);
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
