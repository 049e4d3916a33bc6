/**
 * The one boundary to the Docker daemon. Commands and the helper runner talk to a
 * `DockerClient`; `DockerodeClient` implements it, unit tests pass a small hand-written fake.
 */
import type { Readable } from "node:stream";
import type { ContainerInfo, DaemonFacts, VolumeInfo } from "../model/inventory.js";
import type { Endpoint } from "./endpoint.js";

export interface DaemonVersion {
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
}

export interface ImageSummary {
  id: string;
  labels: Record<string, string>;
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

export interface DockerClient {
  readonly endpoint: Endpoint;
  version(): Promise<DaemonVersion>;
  info(): Promise<DaemonFacts>;
  /** Every container in every state, inspected. */
  containers(): Promise<ContainerInfo[]>;
  /** These containers, inspected; those removed meanwhile are left out. */
  inspectContainers(ids: readonly string[]): Promise<ContainerInfo[]>;
  /** Every volume, inspected. */
  volumes(): Promise<VolumeInfo[]>;
  listContainers(filters: Record<string, string[]>): Promise<ContainerSummary[]>;
  inspectImage(ref: string): Promise<ImageSummary | undefined>;
  listImages(filters: Record<string, string[]>): Promise<ImageSummary[]>;
  /** Builds from a tar stream of a build context; `onProgress` gets stream lines. */
  buildImage(context: Readable, tag: string, onProgress?: (line: string) => void): Promise<void>;
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
}
