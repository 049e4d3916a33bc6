/**
 * A small hand-written fake of the Docker boundary (DockerClient) for unit tests of the core's
 * workflows without root or a daemon. It holds a daemon's inventory and a host's mount
 * namespaces as the helper reports them (a recorded fixture's scan.ndjson), runs "helper
 * containers" by answering their verbs from that state — `scan` prints the namespaces as they are
 * now, `umount` removes the ordered mount lines (or fails as told) — and removes containers and
 * volumes as told, including the daemon's errors (busy, in progress, gone).
 */
import { PassThrough, type Readable } from "node:stream";
import {
  ApiError,
  type ContainerSpec,
  type ContainerSummary,
  type DaemonEvent,
  type DaemonVersion,
  type DockerClient,
  type EventStream,
  type ImageDetails,
  type ImageSummary,
} from "../../src/docker/client.js";
import type { Endpoint } from "../../src/docker/endpoint.js";
import type { HelperLayer } from "../../src/docker/helper-image.js";
import { LABEL_IMAGE, LABEL_SHA256 } from "../../src/docker/helper-image.js";
import {
  decodeText,
  type HelperRecord,
  mountLineFingerprint,
  type NamespaceRecord,
} from "../../src/helper/protocol.js";
import type { ContainerInfo, DaemonFacts, VolumeInfo } from "../../src/model/inventory.js";

export interface UmountFailure {
  stage: string;
  errno: string;
  message: string;
  locked?: boolean;
}

/** What the fake does when asked to remove a target: the errors it answers first, in order. */
export type RemovalScript = ApiError[];

export class FakeDocker implements DockerClient {
  readonly endpoint: Endpoint = {
    host: "unix:///fake/docker.sock",
    context: "default",
    source: "the test",
    configDir: "/x",
  };
  /** Every create, stop, restart and removal, in order, e.g. "create scan", "stop <id>". */
  readonly calls: string[] = [];
  readonly helperSpecs: ContainerSpec[] = [];
  /** Errors to answer removals of a container ID or volume name with, before succeeding. */
  readonly removalErrors = new Map<string, RemovalScript>();
  /** Failures to answer umount orders of a mount ID with (instead of unmounting). */
  readonly umountFailures = new Map<number, UmountFailure>();
  /** Mounts that disappear when a target is removed (the kernel detaching a deleted mount point). */
  readonly detachOnRemove = new Map<string, number[]>();
  private readonly images = new Map<string, ImageDetails>();
  private readonly tags = new Map<string, string>();
  private readonly helpers = new Map<
    string,
    {
      spec: ContainerSpec;
      exit: Promise<number>;
      done: (code: number) => void;
      out: PassThrough;
      err: PassThrough;
    }
  >();
  private next = 0;
  private records: HelperRecord[];
  /** Open event streams: emit() feeds them, breakEvents() ends them as a daemon restart would. */
  private readonly subscribers = new Set<{ push: (e: DaemonEvent | Error | null) => void }>();
  /** Subscriptions refused (the daemon unreachable), before one succeeds. */
  refuseEvents = 0;
  /** Scans answered with a failing helper (exit 1), before they work again. */
  failScans = 0;

  constructor(
    private readonly daemon: DaemonFacts,
    private containerList: ContainerInfo[],
    private volumeList: VolumeInfo[],
    scanNdjson: string,
    private readonly layer: HelperLayer,
  ) {
    this.records = decodeText(scanNdjson);
  }

  /** The mount IDs of the namespaces as they are now. */
  mountIds(mntns: number): number[] {
    const ns = this.namespaces().find((n) => n.mntns === mntns);
    return (ns?.mountinfo ?? []).map((l) => Number(l.split(" ")[0]));
  }

  containerIds(): string[] {
    return this.containerList.map((c) => c.id);
  }

  volumeNames(): string[] {
    return this.volumeList.map((v) => v.name);
  }

  private namespaces(): NamespaceRecord[] {
    return this.records.filter((r): r is NamespaceRecord => r.type === "namespace");
  }

  async version(): Promise<DaemonVersion> {
    return {
      engine: this.daemon.engine ?? "docker",
      platform: "",
      version: this.daemon.serverVersion,
      apiVersion: "1.41",
      minApiVersion: "1.12",
      os: "linux",
      arch: "amd64",
      kernelVersion: this.daemon.kernelVersion,
    };
  }

  async info(): Promise<DaemonFacts> {
    return this.daemon;
  }

  async containers(): Promise<ContainerInfo[]> {
    return this.containerList.map((c) => ({ ...c }));
  }

  async inspectContainers(ids: readonly string[]): Promise<ContainerInfo[]> {
    return this.containerList.filter((c) => ids.includes(c.id)).map((c) => ({ ...c }));
  }

  async volumes(): Promise<VolumeInfo[]> {
    return this.volumeList.map((v) => ({ ...v }));
  }

  async listContainers(filters: Record<string, string[]>): Promise<ContainerSummary[]> {
    const label = filters.label ?? [];
    if (label.length) {
      // Helper containers: the fake removes them when they exit (AutoRemove).
      return [...this.helpers.entries()].map(([id, h]) => ({
        id,
        names: [String(h.spec.name)],
        state: "running",
        created: 0,
        labels: h.spec.Labels,
        imageId: h.spec.Image,
      }));
    }
    return this.containerList.map((c) => ({
      id: c.id,
      names: [c.name],
      state: c.status,
      created: 0,
      labels: c.labels,
      imageId: c.imageId,
    }));
  }

  async inspectImage(ref: string): Promise<ImageDetails | undefined> {
    return this.images.get(this.tags.get(ref) ?? ref);
  }

  async listImages(): Promise<ImageSummary[]> {
    return [...this.images.values()];
  }

  async loadImage(archive: Readable): Promise<void> {
    for await (const _ of archive) {
      // consumed, as the daemon would
    }
    const l = this.layer;
    this.images.set(l.expectedId, {
      id: l.expectedId,
      labels: { [LABEL_IMAGE]: l.version, [LABEL_SHA256]: l.sha256 },
      repoTags: [l.tag],
      architecture: "amd64",
      os: "linux",
      layers: [l.diffId],
      config: {
        entrypoint: ["/docker-leak-helper"],
        cmd: [],
        env: [],
        user: "0:0",
        workingDir: "/",
        volumes: [],
        exposedPorts: [],
        healthcheck: [],
        onBuild: [],
        stopSignal: "",
      },
    });
    this.tags.set(l.tag, l.expectedId);
    this.calls.push("load image");
  }

  async removeImage(ref: string): Promise<void> {
    this.images.delete(this.tags.get(ref) ?? ref);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const id = `helper${++this.next}`.padEnd(64, "0");
    let done!: (code: number) => void;
    const exit = new Promise<number>((resolve) => {
      done = resolve;
    });
    this.helpers.set(id, { spec, exit, done, out: new PassThrough(), err: new PassThrough() });
    this.helperSpecs.push(spec);
    this.calls.push(`create ${spec.Cmd[0]}`);
    return id;
  }

  async attachContainer(id: string) {
    const h = this.helper(id);
    return { stdout: h.out, stderr: h.err, ended: h.exit.then(() => undefined) };
  }

  async startContainer(id: string): Promise<void> {
    const h = this.helper(id);
    const [verb, ...args] = h.spec.Cmd;
    if (verb === "scan" && this.failScans > 0) {
      this.failScans--;
      setImmediate(() => {
        h.out.end();
        h.err.end("docker-leak-helper: scan failed on purpose\n");
        this.helpers.delete(id);
        h.done(1);
      });
      return;
    }
    const text = verb === "scan" ? this.scanOutput() : verb === "umount" ? this.umountOutput(args) : "";
    // Asynchronously, as a container's output arrives after its start returns.
    setImmediate(() => {
      h.out.end(text);
      h.err.end();
      this.helpers.delete(id);
      h.done(0);
    });
  }

  async waitContainer(id: string): Promise<number> {
    return this.helpers.get(id)?.exit ?? 0;
  }

  async stopContainer(id: string): Promise<void> {
    this.calls.push(`stop ${id}`);
    const c = this.containerList.find((x) => x.id === id);
    if (c) Object.assign(c, { status: "exited", pid: 0 });
  }

  async restartContainer(id: string): Promise<void> {
    this.calls.push(`restart ${id}`);
  }

  async removeContainer(id: string): Promise<void> {
    if (this.helpers.has(id) || id.startsWith("helper")) {
      throw new ApiError(`No such container: ${id}`, 404); // gone with AutoRemove
    }
    this.calls.push(`remove ${id}`);
    const scripted = this.removalErrors.get(id)?.shift();
    if (scripted) throw scripted;
    if (!this.containerList.some((c) => c.id === id)) throw new ApiError(`No such container: ${id}`, 404);
    this.containerList = this.containerList.filter((c) => c.id !== id);
    this.detach(id);
  }

  async removeVolume(name: string): Promise<void> {
    this.calls.push(`remove volume ${name}`);
    const scripted = this.removalErrors.get(name)?.shift();
    if (scripted) throw scripted;
    this.volumeList = this.volumeList.filter((v) => v.name !== name);
    this.detach(name);
  }

  async events(filters: Record<string, string[]>): Promise<EventStream> {
    this.calls.push("events");
    if (this.refuseEvents > 0) {
      this.refuseEvents--;
      throw new Error("Cannot connect to the Docker daemon at unix:///fake/docker.sock");
    }
    const queue: (DaemonEvent | Error | null)[] = [];
    let wake: (() => void) | null = null;
    const sub = {
      push: (e: DaemonEvent | Error | null) => {
        queue.push(e);
        wake?.();
      },
    };
    this.subscribers.add(sub);
    const types = filters.type ?? [];
    const actions = filters.event ?? [];
    const subscribers = this.subscribers;
    async function* stream(): AsyncGenerator<DaemonEvent> {
      try {
        for (;;) {
          const e = queue.shift();
          if (e === undefined) {
            await new Promise<void>((r) => {
              wake = r;
            });
            wake = null;
            continue;
          }
          if (e === null) return;
          if (e instanceof Error) throw e;
          if ((!types.length || types.includes(e.type)) && (!actions.length || actions.includes(e.action)))
            yield e;
        }
      } finally {
        subscribers.delete(sub);
      }
    }
    const it = stream();
    return { close: () => sub.push(null), [Symbol.asyncIterator]: () => it };
  }

  /** An event on every open stream. */
  emit(type: string, action: string, id: string, attributes: Record<string, string> = {}): void {
    const e: DaemonEvent = { type, action, id, attributes, timeMs: Date.now() };
    for (const s of this.subscribers) s.push(e);
  }

  /** Ends every open stream (with an error, as a broken connection does). */
  breakEvents(): void {
    for (const s of this.subscribers) s.push(new Error("socket hang up"));
  }

  get eventSubscribers(): number {
    return this.subscribers.size;
  }

  /** A container stops: its status changes, as the daemon's inspect would say. */
  setStatus(id: string, status: ContainerInfo["status"]): void {
    const c = this.containerList.find((x) => x.id === id);
    if (c) Object.assign(c, { status, ...(status === "running" ? {} : { pid: 0 }) });
  }

  private detach(target: string): void {
    const ids = new Set(this.detachOnRemove.get(target) ?? []);
    for (const ns of this.namespaces()) {
      if (ns.mountinfo) ns.mountinfo = ns.mountinfo.filter((l) => !ids.has(Number(l.split(" ")[0])));
    }
  }

  private helper(id: string) {
    const h = this.helpers.get(id);
    if (!h) throw new ApiError(`No such container: ${id}`, 404);
    return h;
  }

  /** The holder of this namespace exits: its processes and namespace are gone from the next scans. */
  dropNamespace(mntns: number): void {
    const ns = this.namespaces().find((n) => n.mntns === mntns);
    const pids = new Set(ns?.pids ?? []);
    this.records = this.records.filter(
      (r) => !(r.type === "namespace" && r.mntns === mntns) && !(r.type === "process" && pids.has(r.pid)),
    );
  }

  private scanOutput(): string {
    const count = (type: string) => this.records.filter((r) => r.type === type).length;
    return this.records
      .map((r) =>
        r.type === "summary" && "processes" in r
          ? {
              ...r,
              processes: count("process"),
              namespaces: count("namespace"),
              skipped: count("skipped"),
              pinned: count("pinned"),
            }
          : r,
      )
      .map((r) => `${JSON.stringify(r)}\n`)
      .join("");
  }

  /** Orders as the helper parses them (PROTOCOL.md): unmounts the line with that ID and fingerprint. */
  private umountOutput(orders: string[]): string {
    const out: string[] = [];
    let ok = 0;
    orders.forEach((order, index) => {
      const field = (k: string) => new RegExp(`(?:^| )${k}=(\\S+)`).exec(order)?.[1] ?? "";
      const ns = Number(field("ns"));
      const id = Number(field("id"));
      const mp = order.slice(order.indexOf(" mp=") + 4);
      const pid = Number(field("pids").split("@")[0]);
      const record = this.namespaces().find((n) => n.mntns === ns);
      const line = record?.mountinfo?.find((l) => Number(l.split(" ")[0]) === id);
      const failure = this.umountFailures.get(id);
      const base = { type: "result", index, pid, mountId: id, mountPoint: mp };
      if (failure) {
        out.push(JSON.stringify({ ...base, ok: false, locked: false, ...failure }));
      } else if (!record || !line || mountLineFingerprint(line) !== field("fp")) {
        out.push(
          JSON.stringify({
            ...base,
            ok: false,
            stage: "check",
            errno: "ESTALE",
            message: `mount ${id} is not at ${mp}`,
            locked: false,
          }),
        );
      } else {
        record.mountinfo = (record.mountinfo ?? []).filter((l) => l !== line);
        out.push(JSON.stringify({ ...base, ok: true, verifiedBy: "statx" }));
        ok++;
      }
    });
    out.push(JSON.stringify({ type: "summary", orders: orders.length, ok, failed: orders.length - ok }));
    this.calls.push(`umount ${orders.length}`);
    return out.map((l) => `${l}\n`).join("");
  }
}
