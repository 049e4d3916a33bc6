/**
 * /proc/PID/cgroup lines and who they say a process belongs to. Layouts recognised:
 *
 *   cgroup v1, cgroupfs driver      4:memory:/docker/<id>
 *   systemd driver (v1 and v2)      0::/system.slice/docker-<id>.scope
 *   rootless, systemd driver        0::/user.slice/user-1000.slice/user@1000.service/user.slice/docker-<id>.scope
 *   Kubernetes, cgroupfs            /kubepods/burstable/pod<uid>/<id>, /kubepods/pod<uid>/<id>
 *   Kubernetes, systemd             /kubepods.slice/kubepods-burstable.slice/
 *                                     kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
 *                                   (also crio-<id>.scope, docker-<id>.scope, and containerd's
 *                                   "<slice>:cri-containerd:<id>" form)
 *   Podman                          libpod-<id>.scope
 *   systemd units                   /system.slice/foo.service,
 *                                   /user.slice/user-1000.slice/user@1000.service/app.slice/x.service
 *
 * Anything else (/, init.scope, session-3.scope, a custom path) belongs to no one in
 * particular: the process is reported as a plain host process.
 */

export interface CgroupLine {
  hierarchyId: number;
  /** v1 controllers ("memory", "name=systemd"); empty for the v2 unified line */
  controllers: string[];
  path: string;
}

/** Parses "hierarchy-ID:controller-list:cgroup-path"; the path may itself contain colons. */
export function parseCgroupLine(line: string): CgroupLine | null {
  const first = line.indexOf(":");
  const second = first === -1 ? -1 : line.indexOf(":", first + 1);
  if (second === -1) return null;
  const id = line.slice(0, first);
  if (!/^\d+$/.test(id)) return null;
  const controllers = line.slice(first + 1, second);
  const path = line.slice(second + 1);
  if (!path.startsWith("/")) return null;
  return { hierarchyId: Number(id), controllers: controllers === "" ? [] : controllers.split(","), path };
}

export type ContainerRuntime = "docker" | "containerd" | "cri-o" | "podman" | "unknown";

export type CgroupOwner =
  | {
      kind: "container";
      /** The outermost container ID on the path */
      containerId: string;
      /** Every container ID on the path, outermost first (Docker-in-Docker nests them) */
      containerIds: string[];
      runtime: ContainerRuntime;
      /** Kubernetes pod UID (with dashes) when the container runs in a pod */
      podUid: string | null;
    }
  | { kind: "pod"; podUid: string }
  | { kind: "unit"; unit: string; manager: "system" | "user" }
  | { kind: "none" };

const HEX64 = "[0-9a-f]{64}";
const SCOPED: ReadonlyArray<[RegExp, ContainerRuntime]> = [
  [new RegExp(`^docker-(${HEX64})\\.scope$`), "docker"],
  [new RegExp(`^cri-containerd-(${HEX64})\\.scope$`), "containerd"],
  [new RegExp(`^crio-(?:conmon-)?(${HEX64})\\.scope$`), "cri-o"],
  [new RegExp(`^libpod-(?:conmon-)?(${HEX64})(?:\\.scope)?$`), "podman"],
];
const SLICE_FORM = new RegExp(`^([^:]+)\\.slice:(docker|cri-containerd|crio):(${HEX64})$`);
const BARE_ID = new RegExp(`^${HEX64}$`);
/** pod<uid> (cgroupfs) or kubepods[-qos]-pod<uid_with_underscores>.slice (systemd) */
const POD =
  /^(?:pod|kubepods(?:-[a-z]+)?-pod)([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
const SERVICE = /^.+\.service$/;
const USER_MANAGER = /^user@\d+\.service$/;

const SLICE_RUNTIME: Record<string, ContainerRuntime> = {
  docker: "docker",
  "cri-containerd": "containerd",
  crio: "cri-o",
};

/** What one cgroup path says about its process. */
export function classifyCgroupPath(path: string): CgroupOwner {
  const segments = path.split("/").filter((s) => s !== "");
  const ids: string[] = [];
  let runtime: ContainerRuntime | null = null;
  let podUid: string | null = null;
  let unit: string | null = null;
  let manager: "system" | "user" = "system";
  let underKubepods = false;
  for (const [i, segment] of segments.entries()) {
    if (segment === "kubepods" || segment.startsWith("kubepods.") || segment.startsWith("kubepods-"))
      underKubepods = true;
    const pod = POD.exec(segment);
    if (pod?.[1] && (underKubepods || segment.startsWith("pod"))) {
      podUid = pod[1].replaceAll("_", "-");
      continue;
    }
    const scoped = SCOPED.map(([pattern, rt]) => [pattern.exec(segment)?.[1], rt] as const).find(
      ([id]) => id,
    );
    if (scoped?.[0]) {
      ids.push(scoped[0]);
      runtime ??= scoped[1];
      continue;
    }
    const sliceForm = SLICE_FORM.exec(segment);
    if (sliceForm?.[1] && sliceForm[2] && sliceForm[3]) {
      ids.push(sliceForm[3]);
      runtime ??= SLICE_RUNTIME[sliceForm[2]] ?? "unknown";
      const pod = POD.exec(sliceForm[1]);
      if (pod?.[1]) podUid = pod[1].replaceAll("_", "-");
      continue;
    }
    if (BARE_ID.test(segment)) {
      ids.push(segment);
      runtime ??= segments[i - 1] === "docker" ? "docker" : "unknown";
      continue;
    }
    if (SERVICE.test(segment)) {
      if (USER_MANAGER.test(segment)) manager = "user";
      unit = segment;
    }
  }
  const [first] = ids;
  if (first !== undefined)
    return {
      kind: "container",
      containerId: first,
      containerIds: ids,
      runtime: runtime ?? "unknown",
      podUid,
    };
  if (podUid !== null) return { kind: "pod", podUid };
  if (unit !== null) return { kind: "unit", unit, manager: USER_MANAGER.test(unit) ? "system" : manager };
  return { kind: "none" };
}

const RANK: Record<CgroupOwner["kind"], number> = { container: 3, pod: 2, unit: 1, none: 0 };

/**
 * The owner named by a process's cgroup lines: the most specific one (a container beats a pod,
 * a pod beats a systemd unit). On a tie the v2 unified line wins, then name=systemd, then the
 * first line, because those are the hierarchies the container managers and systemd maintain.
 */
export function ownerFromCgroup(lines: readonly string[]): CgroupOwner {
  let best: { owner: CgroupOwner; preference: number } = { owner: { kind: "none" }, preference: -1 };
  for (const text of lines) {
    const line = parseCgroupLine(text);
    if (!line) continue;
    const owner = classifyCgroupPath(line.path);
    const preference = line.controllers.length === 0 ? 2 : line.controllers.includes("name=systemd") ? 1 : 0;
    const better =
      RANK[owner.kind] > RANK[best.owner.kind] ||
      (RANK[owner.kind] === RANK[best.owner.kind] && preference > best.preference && owner.kind !== "none");
    if (better || best.preference === -1) best = { owner, preference };
  }
  return best.owner;
}
