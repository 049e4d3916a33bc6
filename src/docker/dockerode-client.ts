/** The dockerode implementation of the Docker boundary, with daemon errors made readable. */
import { PassThrough, type Readable } from "node:stream";
import Docker from "dockerode";
import { DaemonError, LeakError } from "../errors.js";
import { splitLines } from "../helper/protocol.js";
import type { ContainerInfo, DaemonFacts, VolumeInfo } from "../model/inventory.js";
import {
  ApiError,
  type AttachedStreams,
  type ContainerSpec,
  type ContainerSummary,
  type DaemonEvent,
  type DaemonVersion,
  type DockerClient,
  type EventStream,
  type ImageDetails,
  type ImageSummary,
  type SwarmNode,
} from "./client.js";
import { type ConnectOptions, dockerodeOptions, usesDialStdio } from "./connect.js";
import { StreamDemuxer } from "./demux.js";
import type { Endpoint } from "./endpoint.js";
import { mapContainer, mapInfo, mapVersion, mapVolume, withLibpodInfo } from "./map-inspect.js";
import { explainTlsError } from "./tls-error.js";

const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});

type Json = Record<string, unknown>;

const INSPECTS_IN_FLIGHT = 8;

/** `fn` over `items`, at most `limit` at a time; results in order; the first failure fails it. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (err) {
        failed = true; // nothing new starts; the others in flight finish
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export class DockerodeClient implements DockerClient {
  private readonly docker: Docker;
  private versionCache?: Promise<DaemonVersion>;
  private infoCache?: Promise<DaemonFacts>;
  /**
   * Over dial-stdio (few, costly connections; see DialStdioAgent) AutoRemove containers are
   * created without it and removed by waitContainer: a wait for `removed` would otherwise hold a
   * connection of its own for the whole run, beside the attach and the shared one.
   */
  private readonly removedByUs = new Set<string>();
  private readonly attachEnded = new Map<string, Promise<void>>();
  /**
   * Over dial-stdio a helper's output is not attached to (an attach takes its connection over
   * for good, so it would need a second connection: a second ssh session, about a second each):
   * the helper logs to its own json-file and the output is read, once it has started, by a logs
   * request that follows it to its exit on the one shared connection. Here: the output streams
   * of created helpers, fed once the container has started.
   */
  private readonly pendingOutput = new Map<string, (source: NodeJS.ReadableStream) => void>();
  /** The logs requests in flight, destroyed when their container is removed early (a stop). */
  private readonly outputSources = new Map<string, NodeJS.ReadableStream & { destroy(): void }>();
  private readonly cutByUs = new Set<string>();
  private readonly fewConnections: boolean;

  constructor(
    readonly endpoint: Endpoint,
    connect: ConnectOptions,
  ) {
    this.docker = new Docker(dockerodeOptions(endpoint, connect));
    this.fewConnections = usesDialStdio(endpoint);
  }

  /** dial-stdio connections opened so far (0 for unix and tcp daemons). */
  get dials(): number {
    return (this.docker.modem as { agent?: { dials?: number } }).agent?.dials ?? 0;
  }

  /**
   * Closes the kept-alive connections (a dial-stdio relay's process with them). The plugin exits
   * once its output is written, so only a caller that lives on needs this.
   */
  close(): void {
    (this.docker.modem as { agent?: { destroy?(): void } }).agent?.destroy?.();
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classifyDaemonError(err, this.endpoint, what);
    }
  }

  version(): Promise<DaemonVersion> {
    this.versionCache ??= this.call("version", async () =>
      mapVersion((await this.docker.version()) as unknown as Json),
    );
    return this.versionCache;
  }

  /**
   * Cached for the command's run, like version: both are asked from several places. Without
   * /version, which the daemon answers slowly (it runs runc and docker-init for their versions).
   */
  info(): Promise<DaemonFacts> {
    this.infoCache ??= this.call("info", async () => {
      const facts = mapInfo((await this.docker.info()) as Json);
      if (facts.engine !== "podman") return facts;
      // The compatible /info has no RunRoot and says nothing of rootless on old versions.
      const libpod = await this.libpodInfo().catch(() => null);
      return libpod ? withLibpodInfo(facts, libpod) : facts;
    });
    return this.infoCache;
  }

  /** Podman's own /info (its libpod API, beside the compatible one). */
  private libpodInfo(): Promise<Json> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        { path: "/v4.0.0/libpod/info", method: "GET", statusCodes: { 200: true }, options: {} },
        (err: unknown, data: unknown) => (err ? reject(err) : resolve(obj(data))),
      );
    });
  }

  async containers(): Promise<ContainerInfo[]> {
    const list = await this.call("list containers", () => this.docker.listContainers({ all: true }));
    return this.inspectContainers(list.map((c) => c.Id));
  }

  /**
   * At most INSPECTS_IN_FLIGHT at a time: hundreds of simultaneous requests would open as many
   * connections and hold up the calls that start the helper meanwhile (its create took 120 ms
   * instead of 15 behind 160 inspects).
   */
  async inspectContainers(ids: readonly string[]): Promise<ContainerInfo[]> {
    const inspect = (id: string) =>
      this.docker
        .getContainer(id)
        .inspect()
        .then((i) => mapContainer(i as unknown as Json))
        // Removed between list and inspect: it no longer exists, so it holds nothing. Podman
        // answers 500 instead of 404 for a moment while it removes one ("does not exist in
        // database"): whether it still exists is then asked of the daemon's list, not read
        // from the message.
        .catch(async (err: { statusCode?: number }) => {
          if (err.statusCode === 404 || !(await this.stillListed(id))) return undefined;
          throw classifyDaemonError(err, this.endpoint, `inspect container ${id}`);
        });
    const inspected = await mapLimited(ids, INSPECTS_IN_FLIGHT, inspect);
    return inspected.filter((c): c is ContainerInfo => c !== undefined);
  }

  /** Whether the daemon still lists container `id`; true when it cannot say (the caller's error stands). */
  private async stillListed(id: string): Promise<boolean> {
    try {
      return (await this.listContainers({ id: [id] })).some((c) => c.id === id);
    } catch {
      return true;
    }
  }

  async swarmNodes(): Promise<SwarmNode[]> {
    const nodes = (await this.call("list swarm nodes", () => this.docker.listNodes())) as Json[];
    return nodes.map((n) => {
      const description = (n.Description ?? {}) as Json;
      const status = (n.Status ?? {}) as Json;
      const spec = (n.Spec ?? {}) as Json;
      return {
        id: String(n.ID ?? ""),
        hostname: String(description.Hostname ?? ""),
        addr: String(status.Addr ?? ""),
        state: String(status.State ?? "unknown"),
        role: String(spec.Role ?? ""),
        availability: String(spec.Availability ?? ""),
      };
    });
  }

  async volumes(): Promise<VolumeInfo[]> {
    const res = await this.call("list volumes", () => this.docker.listVolumes());
    return (res.Volumes ?? []).map((v) => mapVolume(v as unknown as Json));
  }

  async listContainers(filters: Record<string, string[]>): Promise<ContainerSummary[]> {
    const list = await this.call("list containers", () => this.docker.listContainers({ all: true, filters }));
    return list.map((c) => ({
      id: c.Id,
      names: (c.Names ?? []).map((n) => n.replace(/^\//, "")),
      state: c.State,
      created: c.Created,
      labels: c.Labels ?? {},
      imageId: c.ImageID,
    }));
  }

  async inspectImage(ref: string): Promise<ImageDetails | undefined> {
    try {
      return mapImage((await this.docker.getImage(ref).inspect()) as unknown as Json);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw classifyDaemonError(err, this.endpoint, `inspect image ${ref}`);
    }
  }

  async listImages(filters: Record<string, string[]>): Promise<ImageSummary[]> {
    const list = await this.call("list images", () => this.docker.listImages({ filters }));
    return list.map((i) => ({ id: i.Id, labels: i.Labels ?? {} }));
  }

  async loadImage(archive: Readable): Promise<void> {
    const stream = (await this.call("load image", () =>
      this.docker.loadImage(archive, { quiet: true }),
    )) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, output: Json[]) => {
        if (err) return reject(classifyDaemonError(err, this.endpoint, "load image"));
        const failed = output.find((o) => o.error || o.errorDetail);
        if (failed) return reject(new LeakError(`loading the helper image failed: ${String(failed.error)}`));
        resolve();
      });
    });
  }

  /** Never forced: an image in use, or tagged in other repositories, stays (the daemon says 409). */
  async removeImage(ref: string): Promise<void> {
    await this.call(`remove image ${ref}`, () => this.docker.getImage(ref).remove());
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const hostConfig = (spec.HostConfig ?? {}) as Record<string, unknown>;
    const removeOurselves = this.fewConnections && hostConfig.AutoRemove === true;
    const readLogs = this.fewConnections && spec.AttachStdout === true;
    const sent = {
      ...spec,
      HostConfig: {
        ...hostConfig,
        ...(removeOurselves ? { AutoRemove: false } : {}),
        // Explicit limits: a daemon's default log options (e.g. max-size=10m, max-file=1) would
        // otherwise apply and could cut a large output short.
        ...(readLogs
          ? { LogConfig: { Type: "json-file", Config: { "max-size": "1g", "max-file": "1" } } }
          : {}),
      },
    };
    const c = await this.call("create container", () =>
      this.docker.createContainer(sent as Docker.ContainerCreateOptions),
    );
    if (removeOurselves) this.removedByUs.add(c.id);
    if (readLogs) this.pendingOutput.set(c.id, () => undefined);
    return c.id;
  }

  async attachContainer(id: string): Promise<AttachedStreams> {
    if (this.pendingOutput.has(id)) return this.outputAfterStart(id);
    const stream = (await this.call("attach", () =>
      this.docker.getContainer(id).attach({ stream: true, stdout: true, stderr: true }),
    )) as NodeJS.ReadWriteStream;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const demux = new StreamDemuxer(
      (c) => stdout.write(c),
      (c) => stderr.write(c),
    );
    stream.on("data", (chunk: Buffer) => demux.push(chunk));
    const ended = new Promise<void>((resolve) => {
      const done = () => {
        stdout.end();
        stderr.end();
        resolve();
      };
      stream.on("end", done);
      stream.on("close", done);
      stream.on("error", done);
    });
    if (this.fewConnections) this.attachEnded.set(id, ended);
    return { stdout, stderr, ended };
  }

  /** The output of a helper created here, read by a logs request once it has started. */
  private outputAfterStart(id: string): AttachedStreams {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const demux = new StreamDemuxer(
      (c) => stdout.write(c),
      (c) => stderr.write(c),
    );
    let done!: () => void;
    const ended = new Promise<void>((resolve) => {
      done = () => {
        this.outputSources.delete(id);
        this.cutByUs.delete(id);
        stdout.end();
        stderr.end();
        resolve();
      };
    });
    this.pendingOutput.set(id, (source) => {
      source.on("data", (chunk: Buffer) => demux.push(chunk));
      source.on("end", done);
      source.on("close", done);
      source.on("error", (err: Error) => {
        // A cut-off output must not pass for a whole one, unless we cut it (removeContainer).
        if (!this.cutByUs.delete(id)) {
          stdout.destroy(classifyDaemonError(err, this.endpoint, `read the output of ${id}`));
        }
        done();
      });
    });
    this.attachEnded.set(id, ended);
    return { stdout, stderr, ended };
  }

  async startContainer(id: string): Promise<void> {
    await this.call("start container", () => this.docker.getContainer(id).start());
    const feed = this.pendingOutput.get(id);
    if (!feed) return;
    this.pendingOutput.delete(id);
    // Not awaited: it answers when the container exits (the runner waits for the output's end).
    this.docker
      .getContainer(id)
      .logs({ follow: true, stdout: true, stderr: true })
      .then((source) => {
        const stream = source as unknown as NodeJS.ReadableStream & { destroy(): void };
        this.outputSources.set(id, stream);
        feed(stream);
      })
      .catch((err: unknown) => {
        const failed = new PassThrough();
        feed(failed);
        failed.destroy(err as Error);
      });
  }

  async waitContainer(id: string, condition?: "next-exit" | "removed"): Promise<number> {
    const ended = this.attachEnded.get(id);
    if (condition === "removed" && ended && this.removedByUs.has(id)) {
      // The attach ends when the container exits: then its status, on the shared connection.
      await ended;
      const code = await this.waitOnce(id, "not-running");
      try {
        await this.docker.getContainer(id).remove({ force: true });
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        if (status !== 404 && status !== 409)
          throw classifyDaemonError(err, this.endpoint, `remove container ${id}`);
      } finally {
        this.removedByUs.delete(id);
        this.attachEnded.delete(id);
      }
      return code;
    }
    return this.waitOnce(id, condition);
  }

  private async waitOnce(id: string, condition?: "next-exit" | "removed" | "not-running"): Promise<number> {
    const res = (await this.call("wait container", () =>
      this.docker.getContainer(id).wait(condition ? { condition } : {}),
    )) as {
      StatusCode: number;
    };
    return res.StatusCode;
  }

  async stopContainer(id: string, timeoutSeconds?: number): Promise<void> {
    await this.call(`stop container ${id}`, async () => {
      try {
        await this.docker.getContainer(id).stop(timeoutSeconds === undefined ? {} : { t: timeoutSeconds });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 304) throw err; // already stopped
      }
    });
  }

  async restartContainer(id: string, timeoutSeconds?: number): Promise<void> {
    await this.call(`restart container ${id}`, () =>
      this.docker.getContainer(id).restart(timeoutSeconds === undefined ? {} : { t: timeoutSeconds }),
    );
  }

  async removeContainer(id: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    // Removed before its exit (a stop or a timeout): the logs request following it holds the
    // shared connection until the exit; without it the removal gets a connection of its own.
    const following = this.outputSources.get(id);
    if (following) {
      this.cutByUs.add(id);
      following.destroy();
    }
    this.pendingOutput.delete(id);
    await this.call(`remove container ${id}`, () =>
      this.docker.getContainer(id).remove({ force: opts.force ?? false, v: opts.volumes ?? false }),
    );
  }

  async removeVolume(name: string): Promise<void> {
    await this.call(`remove volume ${name}`, () => this.docker.getVolume(name).remove());
  }

  async events(filters: Record<string, string[]>): Promise<EventStream> {
    const controller = new AbortController();
    const stream = (await this.call("events", () =>
      // _query: the query string alone (the signal is not a parameter to send).
      this.docker.getEvents({
        _query: { filters: JSON.stringify(filters) },
        abortSignal: controller.signal,
      } as object),
    )) as Readable;
    const close = () => {
      controller.abort();
      stream.destroy();
    };
    async function* records(): AsyncGenerator<DaemonEvent> {
      try {
        // An event is one JSON object per line; 1 MiB is far above any the daemon writes.
        for await (const { line } of splitLines(stream, 1024 * 1024)) {
          if (line.trim()) yield mapEvent(JSON.parse(line) as Json);
        }
      } catch (err) {
        if (controller.signal.aborted) return; // closed by us
        throw err;
      } finally {
        close();
      }
    }
    const it = records();
    return { close, [Symbol.asyncIterator]: () => it };
  }
}

/** One /events record (API 1.22+: Type, Action, Actor; time and timeNano). */
export function mapEvent(e: Json): DaemonEvent {
  const actor = (e.Actor ?? {}) as Json;
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries((actor.Attributes ?? {}) as Json)) attributes[k] = String(v);
  const nano = Number(e.timeNano);
  return {
    type: String(e.Type ?? e.type ?? ""),
    action: String(e.Action ?? e.status ?? ""),
    id: String(actor.ID ?? e.id ?? ""),
    attributes,
    timeMs: Number.isFinite(nano) && nano > 0 ? Math.floor(nano / 1e6) : Number(e.time ?? 0) * 1000,
  };
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const keys = (v: unknown): string[] => (v && typeof v === "object" ? Object.keys(v) : []);

/** GET /images/{ref}/json, reduced to what decides whether an image is the helper's. */
export function mapImage(img: Json): ImageDetails {
  const config = (img.Config ?? {}) as Json;
  const healthcheck = (config.Healthcheck ?? {}) as Json;
  return {
    id: String(img.Id),
    labels: (config.Labels ?? {}) as Record<string, string>,
    repoTags: strings(img.RepoTags),
    architecture: String(img.Architecture ?? ""),
    os: String(img.Os ?? ""),
    layers: strings(((img.RootFS ?? {}) as Json).Layers),
    config: {
      entrypoint: strings(config.Entrypoint),
      cmd: strings(config.Cmd),
      env: strings(config.Env),
      user: String(config.User ?? ""),
      workingDir: String(config.WorkingDir ?? ""),
      volumes: keys(config.Volumes),
      exposedPorts: keys(config.ExposedPorts),
      healthcheck: strings(healthcheck.Test),
      onBuild: strings(config.OnBuild),
      stopSignal: String(config.StopSignal ?? ""),
    },
  };
}

/** Connection failures get the CLI's wording plus how the endpoint was chosen; API errors keep the daemon's message. */
export function classifyDaemonError(err: unknown, endpoint: Endpoint, what: string): Error {
  if (err instanceof LeakError) return err;
  const tls = explainTlsError(err, endpoint);
  if (tls) return tls;
  const e = err as NodeJS.ErrnoException & { statusCode?: number; json?: { message?: string } };
  const where = `${endpoint.host} (${endpoint.source})`;
  if (e.code === "EACCES" || e.code === "EPERM") {
    return new DaemonError(
      `permission denied while trying to connect to the Docker daemon socket at ${where}`,
      "Run as a user in the 'docker' group, or use a context whose socket you may open.",
    );
  }
  if (
    e.code === "ENOENT" ||
    e.code === "ECONNREFUSED" ||
    e.code === "ENOTFOUND" ||
    e.code === "EHOSTUNREACH"
  ) {
    return new DaemonError(`Cannot connect to the Docker daemon at ${where}. Is the docker daemon running?`);
  }
  if (e.code === "ECONNRESET" || e.code === "EPIPE" || e.code === "ETIMEDOUT") {
    return new DaemonError(`lost the connection to the Docker daemon at ${where} during ${what}: ${e.code}`);
  }
  if (typeof e.statusCode === "number") {
    const message = e.json?.message ?? extractMessage(e.message);
    return new ApiError(`${what}: ${message}`, e.statusCode);
  }
  return err instanceof Error ? err : new Error(String(err));
}

function extractMessage(text: string): string {
  const m = /\(HTTP code \d+\) [^-]*- (.*)$/s.exec(text);
  return (m?.[1] ?? text).trim();
}
