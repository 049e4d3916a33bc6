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
import { explainHelperRefusal, hasAppArmor, usesUsernsRemap } from "./daemon-support.js";
import { ApiError } from "./dockerode-client.js";
import { LABEL_HELPER } from "./helper-image.js";

export type HelperMode = "scan" | "umount" | "version";

export const LABEL_RUN = "io.docker-leak.helper.run";
const STALE_AFTER_SECONDS = 60;

/** The HostConfig for a mode: never privileged; only the capabilities the mode needs. */
export function helperHostConfig(mode: HelperMode, daemon: DaemonFacts): Record<string, unknown> {
  const securityOpt = ["no-new-privileges"];
  if (hasAppArmor(daemon)) securityOpt.push("apparmor=unconfined");
  // Scan: ptrace-read access to /proc/PID/*, and DAC_READ_SEARCH to list other users' /proc/PID/fd.
  // Umount: setns needs SYS_ADMIN and SYS_CHROOT; chroot to the holder's root needs SYS_CHROOT.
  const caps =
    mode === "umount" ? ["SYS_ADMIN", "SYS_PTRACE", "SYS_CHROOT"] : ["SYS_PTRACE", "DAC_READ_SEARCH"];
  const hostConfig: Record<string, unknown> = {
    PidMode: "host",
    CgroupnsMode: "host",
    NetworkMode: "none",
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

export async function runHelper(docker: DockerClient, opts: RunHelperOptions): Promise<HelperRun> {
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
    const stderrChunks: Buffer[] = [];
    streams.stderr.on("data", (chunk: Buffer) => stderrChunks.push(chunk));
    await docker.startContainer(id).catch((err: unknown) => {
      throw (err instanceof ApiError && explainHelperRefusal(err.message, docker.endpoint)) || err;
    });
    const exitCode = await exited;
    await streams.ended;
    await stdoutDone;
    return { exitCode, stderr: Buffer.concat(stderrChunks).toString("utf8").trim(), containerId: id };
  } finally {
    await remove();
    dispose?.();
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
 * Removes helper containers left by crashed runs (or by a daemon restart): ours by label, exited
 * or dead at any age; created but never started only after a minute, since a concurrent run may
 * be about to start it. Running helpers are never touched.
 */
export async function sweepStaleHelpers(
  docker: DockerClient,
  nowSeconds = Date.now() / 1000,
): Promise<string[]> {
  const list = await docker.listContainers({ label: [`${LABEL_HELPER}=1`] });
  const stale = list.filter(
    (c) =>
      c.state === "exited" ||
      c.state === "dead" ||
      (c.state === "created" && nowSeconds - c.created > STALE_AFTER_SECONDS),
  );
  for (const c of stale) await removeQuietly(docker, c.id);
  return stale.map((c) => c.id);
}

/** A helper exit that is not 0: name the container, the status and what it said. */
export function helperFailure(mode: HelperMode, run: HelperRun): LeakError {
  const said = run.stderr ? `: ${run.stderr.split("\n").slice(-3).join("; ")}` : "";
  const how =
    run.exitCode === 137 ? " (killed)" : run.exitCode === 139 ? " (crashed: segmentation fault)" : "";
  return new LeakError(`the helper (${mode}) exited with status ${run.exitCode}${how}${said}`);
}
