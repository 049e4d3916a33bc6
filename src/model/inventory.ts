/**
 * What the daemon tells us, mapped from the Docker API into plain data (src/docker/map-inspect.ts
 * does the mapping). The leak model works on these types only, so it can be unit-tested on
 * recorded fixtures without a daemon.
 */

/** The engine behind the Docker API: Docker's dockerd, or Podman's compatible API. */
export type Engine = "docker" | "podman";

export interface DaemonFacts {
  /** Which engine answers (absent in old fixtures: docker) */
  engine?: Engine;
  /**
   * Podman's RunRoot (containers/storage's run directory, from /libpod/info): where it keeps each
   * container's hosts, hostname and resolv.conf (`<runRoot>/<driver>-containers/<id>/userdata/`).
   */
  runRoot?: string;
  /** Podman runs rootless (/info Rootless, or libpod's host.security.rootless) */
  rootless?: boolean;
  /** `docker info` .ID */
  id: string;
  serverVersion: string;
  osType: string; // "linux" | "windows"
  architecture: string; // "x86_64" | "aarch64" …
  kernelVersion: string;
  /** DockerRootDir, e.g. /var/lib/docker */
  rootDir: string;
  /** Storage driver: overlay2, devicemapper, btrfs, zfs, vfs, fuse-overlayfs … */
  driver: string;
  cgroupVersion: "1" | "2";
  cgroupDriver: string; // cgroupfs | systemd
  /** Raw SecurityOptions entries, e.g. "name=seccomp,profile=default", "name=userns", "name=rootless" */
  securityOptions: string[];
}

export type ContainerStatus =
  | "created"
  | "running"
  | "paused"
  | "restarting"
  | "removing"
  | "exited"
  | "dead";

export interface ContainerMount {
  type: string; // bind | volume | tmpfs | npipe
  /** Volume name for type=volume */
  name?: string;
  /** Host path (for volumes, the volume's _data) */
  source: string;
  destination: string;
  propagation: string; // "" | rprivate | rslave | rshared | …
  driver?: string;
}

export interface ContainerInfo {
  id: string; // full 64-hex ID
  name: string; // without the leading "/"
  image: string; // image reference as configured (Config.Image)
  imageId: string;
  status: ContainerStatus;
  /** State.Pid while running, else 0 */
  pid: number;
  /** GraphDriver.Name and .Data (overlay2: UpperDir/MergedDir/WorkDir/LowerDir; devicemapper: DeviceName …) */
  graphDriver: { name: string; data: Record<string, string> };
  /** HostConfig.IpcMode: "", "private", "shareable", "host", "none", "container:<id|name>" */
  ipcMode: string;
  shmSize: number;
  /** NetworkSettings.SandboxKey, e.g. /var/run/docker/netns/abc123 ("" when none) */
  sandboxKey: string;
  /** HostConfig.NetworkMode */
  networkMode: string;
  /** HostConfig.PidMode */
  pidMode: string;
  /** HostConfig.CgroupParent ("" for the daemon's default) */
  cgroupParent?: string;
  mounts: ContainerMount[];
  /** HostConfig.VolumesFrom entries: "name-or-id[:ro|rw]" */
  volumesFrom: string[];
  /** Container labels (compose, kubernetes …) */
  labels: Record<string, string>;
  /**
   * .HostsPath, .ResolvConfPath, .HostnamePath (optional; "" or absent when unknown). With
   * `--network container:X` they point into X's directory, so the leak model accepts those
   * binds of X's files in this container's namespace.
   */
  hostsPath?: string;
  resolvConfPath?: string;
  hostnamePath?: string;
  /** Config.Hostname etc. are not needed */
}

export interface VolumeInfo {
  name: string;
  driver: string;
  /** e.g. /var/lib/docker/volumes/<name>/_data */
  mountpoint: string;
  /** Driver options: type, device, o … */
  options: Record<string, string>;
  labels: Record<string, string>;
}

export interface Inventory {
  daemon: DaemonFacts;
  containers: ContainerInfo[];
  volumes: VolumeInfo[];
}
