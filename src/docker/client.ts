/**
 * The one boundary to the Docker daemon. Commands and the helper runner talk to a
 * `DockerClient`; `DockerodeClient` implements it, unit tests pass a small hand-written fake.
 */
import type { Readable } from "node:stream";
import { LeakError } from "../errors.js";
import type { ContainerInfo, DaemonFacts, Engine, VolumeInfo } from "../model/inventory.js";
import type { Endpoint } from "./endpoint.js";

/**
 * An error the daemon's API answered with (as opposed to a failed connection): the boundary's
 * own error type, whatever implements it.
 */
export class ApiError extends LeakError {
  override name = "ApiError";
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

export interface DaemonVersion {
  /** Recognised from /version's Components (and Platform.Name) */
  engine: Engine;
  /** Platform.Name ("Docker Engine - Community", Podman: "linux/amd64/debian-12"), "" when absent */
  platform: string;
  version: string;
  apiVersion: string;
  minApiVersion: string;
  os: string;
  arch: string;
  kernelVersion: string;
}

export interface ContainerSummary {
  id: string;
  names: string[];
  state: string;
  /** Unix seconds */
  created: number;
  labels: Record<string, string>;
  /** The ID of the image it was created from (not the name it was asked for). */
  imageId: string;
}

export interface ImageSummary {
  id: string;
  labels: Record<string, string>;
}

/** An inspected image: what decides whether it is the helper's (see helper-image.ts). */
export interface ImageDetails extends ImageSummary {
  repoTags: string[];
  /** Architecture and Os, as in the image config. */
  architecture: string;
  os: string;
  /** RootFS.Layers: the layers' diff_ids, bottom first. */
  layers: string[];
  /** Config's fields a container inherits, as the daemon reports them (null and absent become []/""). */
  config: {
    entrypoint: string[];
    cmd: string[];
    env: string[];
    user: string;
    workingDir: string;
    volumes: string[];
    exposedPorts: string[];
    healthcheck: string[];
    onBuild: string[];
    stopSignal: string;
  };
}

/** A container create request, in the API's own shape (POST /containers/create body). */
export interface ContainerSpec {
  name?: string;
  Image: string;
  Cmd: string[];
  Labels: Record<string, string>;
  HostConfig: Record<string, unknown>;
  [key: string]: unknown;
}

export interface AttachedStreams {
  stdout: Readable;
  stderr: Readable;
  /** Resolves when the attach stream ends. */
  ended: Promise<void>;
}

/** One record of the daemon's event stream (GET /events), as docker events shows it. */
export interface DaemonEvent {
  /** "container", "volume", "daemon", … */
  type: string;
  /** "die", "stop", "destroy", "unmount", "reload", … */
  action: string;
  /** Actor.ID: a container's full ID, a volume's name, the daemon's ID */
  id: string;
  /** Actor.Attributes: for containers their labels and `name`, for volumes `driver` … */
  attributes: Record<string, string>;
  /** When the daemon says it happened (ms since the epoch) */
  timeMs: number;
}

/** The daemon's event stream from now on; ends (or throws) when the connection breaks. */
export interface EventStream extends AsyncIterable<DaemonEvent> {
  /** Ends the stream (idempotent). */
  close(): void;
}

/** A node of a Swarm, as its manager lists it (`docker node ls`). */
export interface SwarmNode {
  id: string;
  hostname: string;
  /** The address the node is reached at by the manager (Status.Addr). */
  addr: string;
  /** ready, down, unknown, disconnected */
  state: string;
  role: string;
  availability: string;
}

export interface DockerClient {
  readonly endpoint: Endpoint;
  /** The nodes of the Swarm this daemon manages (GET /nodes); fails on a daemon that is not a manager. */
  swarmNodes?(): Promise<SwarmNode[]>;
  version(): Promise<DaemonVersion>;
  info(): Promise<DaemonFacts>;
  /** Every container in every state, inspected. */
  containers(): Promise<ContainerInfo[]>;
  /** These containers, inspected; those removed meanwhile are left out. */
  inspectContainers(ids: readonly string[]): Promise<ContainerInfo[]>;
  /** Every volume, inspected. */
  volumes(): Promise<VolumeInfo[]>;
  listContainers(filters: Record<string, string[]>): Promise<ContainerSummary[]>;
  inspectImage(ref: string): Promise<ImageDetails | undefined>;
  listImages(filters: Record<string, string[]>): Promise<ImageSummary[]>;
  /** Loads a docker-archive (POST /images/load, `docker load`); fails with the daemon's error. */
  loadImage(archive: Readable): Promise<void>;
  /** Removes an image, never forced: an image in use or with other tags is refused (409). */
  removeImage(ref: string): Promise<void>;
  createContainer(spec: ContainerSpec): Promise<string>;
  attachContainer(id: string): Promise<AttachedStreams>;
  startContainer(id: string): Promise<void>;
  /** Resolves with the exit status; `removed` also waits for an AutoRemove container to be gone. */
  waitContainer(id: string, condition?: "next-exit" | "removed"): Promise<number>;
  stopContainer(id: string, timeoutSeconds?: number): Promise<void>;
  restartContainer(id: string, timeoutSeconds?: number): Promise<void>;
  removeContainer(id: string, opts?: { force?: boolean; volumes?: boolean }): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /**
   * Subscribes to the daemon's events matching `filters` (as `docker events --filter`);
   * resolves once the daemon answered, fails like any call when it cannot be reached.
   */
  events(filters: Record<string, string[]>): Promise<EventStream>;
}
