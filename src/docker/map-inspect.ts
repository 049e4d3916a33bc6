/**
 * Pure mappers from the Docker API's JSON (as dockerode returns it) to the model's types.
 * Unit-tested on recorded `docker inspect` output.
 */
import type { ContainerInfo, ContainerStatus, DaemonFacts, Engine, VolumeInfo } from "../model/inventory.js";
import type { DaemonVersion } from "./client.js";

type Json = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const num = (v: unknown, fallback = 0): number => (typeof v === "number" ? v : fallback);
const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v))) if (typeof val === "string") out[k] = val;
  return out;
};

const statuses: readonly ContainerStatus[] = [
  "created",
  "running",
  "paused",
  "restarting",
  "removing",
  "exited",
  "dead",
];

export function mapContainer(inspect: Json): ContainerInfo {
  const state = obj(inspect.State);
  const status = str(state.Status) as ContainerStatus;
  const hostConfig = obj(inspect.HostConfig);
  const config = obj(inspect.Config);
  const graph = obj(inspect.GraphDriver);
  const net = obj(inspect.NetworkSettings);
  return {
    id: str(inspect.Id),
    name: str(inspect.Name).replace(/^\//, ""),
    image: str(config.Image),
    imageId: str(inspect.Image),
    status: statuses.includes(status) ? status : "dead",
    pid: num(state.Pid),
    graphDriver: { name: str(graph.Name), data: strMap(graph.Data) },
    ipcMode: str(hostConfig.IpcMode),
    shmSize: num(hostConfig.ShmSize),
    sandboxKey: str(net.SandboxKey),
    networkMode: str(hostConfig.NetworkMode),
    pidMode: str(hostConfig.PidMode),
    cgroupParent: str(hostConfig.CgroupParent),
    mounts: arr(inspect.Mounts).map((m) => {
      const mount = obj(m);
      const out: ContainerInfo["mounts"][number] = {
        type: str(mount.Type),
        source: str(mount.Source),
        destination: str(mount.Destination),
        propagation: str(mount.Propagation),
      };
      if (typeof mount.Name === "string" && mount.Name) out.name = mount.Name;
      if (typeof mount.Driver === "string" && mount.Driver) out.driver = mount.Driver;
      return out;
    }),
    volumesFrom: arr(hostConfig.VolumesFrom).filter((v): v is string => typeof v === "string"),
    labels: strMap(config.Labels),
    hostsPath: str(inspect.HostsPath),
    resolvConfPath: str(inspect.ResolvConfPath),
    hostnamePath: str(inspect.HostnamePath),
  };
}

export function mapVolume(inspect: Json): VolumeInfo {
  return {
    name: str(inspect.Name),
    driver: str(inspect.Driver),
    mountpoint: str(inspect.Mountpoint),
    options: strMap(inspect.Options),
    labels: strMap(inspect.Labels),
  };
}

/**
 * Podman's compatible /info: it alone carries BuildahVersion (Podman builds with Buildah) and a
 * top-level Rootless; Docker's has neither.
 */
export function engineFromInfo(info: Json): Engine {
  return typeof info.BuildahVersion === "string" || typeof info.Rootless === "boolean" ? "podman" : "docker";
}

/**
 * The engine named by /version: Podman lists a "Podman Engine" component (Docker an "Engine"
 * one, Docker Desktop too); without components, a platform name that says Podman.
 */
export function engineFromVersion(v: Json): Engine {
  const names = arr(v.Components).map((c) => str(obj(c).Name));
  if (names.some((n) => /^podman\b/i.test(n))) return "podman";
  if (names.length === 0 && /podman/i.test(str(obj(v.Platform).Name))) return "podman";
  return "docker";
}

export function mapInfo(info: Json): DaemonFacts {
  const security = arr(info.SecurityOptions).filter((s): s is string => typeof s === "string");
  const engine = engineFromInfo(info);
  return {
    engine,
    ...(engine === "podman"
      ? { rootless: info.Rootless === true || security.some((o) => o === "name=rootless") }
      : {}),
    id: str(info.ID),
    serverVersion: str(info.ServerVersion),
    osType: str(info.OSType),
    architecture: str(info.Architecture),
    kernelVersion: str(info.KernelVersion),
    rootDir: str(info.DockerRootDir),
    driver: str(info.Driver),
    cgroupVersion: str(info.CgroupVersion) === "2" ? "2" : "1",
    cgroupDriver: str(info.CgroupDriver),
    securityOptions: security,
  };
}

/** Facts only Podman's own /libpod/info gives: its run directory, and whether it runs rootless. */
export function withLibpodInfo(facts: DaemonFacts, libpod: Json): DaemonFacts {
  const store = obj(libpod.store);
  const security = obj(obj(libpod.host).security);
  const runRoot = str(store.runRoot);
  return {
    ...facts,
    ...(runRoot ? { runRoot } : {}),
    rootless: facts.rootless === true || security.rootless === true,
  };
}

export function mapVersion(v: Json): DaemonVersion {
  return {
    engine: engineFromVersion(v),
    platform: str(obj(v.Platform).Name),
    version: str(v.Version),
    apiVersion: str(v.ApiVersion),
    minApiVersion: str(v.MinAPIVersion),
    os: str(v.Os),
    arch: str(v.Arch),
    kernelVersion: str(v.KernelVersion),
  };
}
