/**
 * Causes and cures from the kernel's propagation facts (src/model/propagation.ts, explain.ts),
 * over a matrix of hosts, holders, binds, resources and states. Each cell builds the mount
 * tables a real host would have (test/support/kernel-sim.ts: namespaces copied with a
 * propagation, recursive binds with a mode, unmounts that propagate from the parent's peer
 * group), runs the leak model, and checks the finding's facts against the scenario and its
 * words against its facts: a cure never recommends what is already in place, and a cure on the
 * host's side appears exactly when the daemon's side is where the chain is cut.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HelperScan, NamespaceRecord, ProcessRecord } from "../../src/helper/protocol.js";
import { analyze } from "../../src/model/analyze.js";
import type { Finding } from "../../src/model/findings.js";
import type { ContainerInfo, Inventory } from "../../src/model/inventory.js";
import {
  foreignCopyBlocks,
  kernelRelease,
  PeerGroups,
  type PropagationCut,
} from "../../src/model/propagation.js";
import { type BindMode, Kernel, type SimMount, type SimNamespace } from "../support/kernel-sim.js";

const ROOT = "/var/lib/docker";
const VID = "a1".repeat(32);
const HID = "b2".repeat(32);
const KEY = "0123456789ab";
const LAYER = "c3".repeat(32);
const HOST_NS = 4026531840;
const HELPER_NS = 4026532000;
const VICTIM_NS = 4026532100;
const HOLDER_NS = 4026532200;
const INNER_NS = 4026532300;

/**
 * - shared: `/` and `/run` shared, as systemd makes them;
 * - private: no systemd, so both private; Docker makes its data root a shared bind of itself;
 * - private-bare: private, and a data root Docker did not make shared.
 */
type Host = "shared" | "private" | "private-bare";
type Holder =
  | { kind: "process" | "unit"; ns: "private" | "slave" }
  | { kind: "container" | "pod" | "container-process"; source: "/" | "/run"; mode: BindMode | "default" };
type ResourceKind = "shm" | "netns" | "rootfs" | "volume";
type State = "captured" | "leaked";

interface Cell {
  host: Host;
  holder: Holder;
  resource: ResourceKind;
  state: State;
  driver: string;
}

const describeHolder = (h: Holder): string =>
  "ns" in h ? `${h.kind} (${h.ns})` : `${h.kind} bind of ${h.source} ${h.mode}`;

const HOLDERS: Holder[] = [
  { kind: "process", ns: "private" },
  { kind: "process", ns: "slave" },
  { kind: "unit", ns: "private" },
  { kind: "unit", ns: "slave" },
  { kind: "container", source: "/", mode: "default" },
  { kind: "container", source: "/", mode: "rslave" },
  { kind: "container", source: "/", mode: "rprivate" },
  { kind: "container", source: "/", mode: "rshared" },
  { kind: "container", source: "/run", mode: "default" },
  { kind: "container", source: "/run", mode: "rslave" },
  { kind: "container-process", source: "/", mode: "default" },
  { kind: "container-process", source: "/run", mode: "default" },
  { kind: "pod", source: "/", mode: "rslave" },
  { kind: "pod", source: "/run", mode: "default" },
  { kind: "pod", source: "/run", mode: "rslave" },
];

interface Built {
  inventory: Inventory;
  scan: HelperScan;
  /** The holder's copy, when the kernel still shows one */
  copy: SimMount | undefined;
  copyNs: SimNamespace;
  /** The daemon's mount the original is (was) attached on */
  originalParent: SimMount;
  /** The bind's mode as Docker reports it in inspect (null: no container) */
  configured: string | null;
  /** Why Docker would refuse to create the holder, if it would */
  refused: string | null;
}

function proc(pid: number, ppid: number, mntns: number, cgroup: string[], comm = "sleep"): ProcessRecord {
  return {
    type: "process",
    pid,
    ppid,
    start: pid * 7,
    comm,
    cmdline: [comm],
    cmdlineTruncated: false,
    mntns,
    root: "/",
    cgroup,
  };
}

function container(over: Partial<ContainerInfo>): ContainerInfo {
  return {
    id: VID,
    name: "victim",
    image: "busybox",
    imageId: "sha256:00",
    status: "running",
    pid: 200,
    graphDriver: { name: "overlay2", data: { MergedDir: `${ROOT}/overlay2/${LAYER}/merged` } },
    ipcMode: "shareable",
    shmSize: 67108864,
    sandboxKey: `/run/docker/netns/${KEY}`,
    networkMode: "default",
    pidMode: "",
    mounts: [],
    volumesFrom: [],
    labels: {},
    ...over,
  };
}

function build(cell: Cell, kernelVersion = "6.1.0-18-amd64"): Built {
  const k = new Kernel();
  const host = k.namespace(HOST_NS);
  const hostShared = cell.host === "shared";
  const root = k.mount(host, null, "/", { dev: "8:1", fstype: "ext4", source: "/dev/sda1" }, hostShared);
  const run = k.mount(host, root, "/run", { dev: "0:22", fstype: "tmpfs", source: "tmpfs" }, hostShared);
  // Docker (18.09 and later) makes its data root a shared mount when it lies on a private one.
  const data =
    cell.host === "private"
      ? k.mount(host, root, ROOT, { dev: "8:1", root: ROOT, fstype: "ext4", source: "/dev/sda1" }, true)
      : root;
  k.mount(host, data, `${ROOT}/overlay2/${"d4".repeat(32)}/merged`, {
    dev: "0:99",
    fstype: "overlay",
    source: "overlay",
  });
  const originals: Record<ResourceKind, SimMount> = {
    shm: k.mount(host, data, `${ROOT}/containers/${VID}/mounts/shm`, {
      dev: "0:51",
      fstype: "tmpfs",
      source: "shm",
    }),
    netns: k.mount(host, run, `/run/docker/netns/${KEY}`, {
      dev: "0:4",
      root: "net:[4026532999]",
      fstype: "nsfs",
      source: "nsfs",
    }),
    rootfs: k.mount(host, data, `${ROOT}/overlay2/${LAYER}/merged`, {
      dev: "0:52",
      fstype: "overlay",
      source: "overlay",
    }),
    volume: k.mount(host, data, `${ROOT}/volumes/vol/_data`, {
      dev: "0:53",
      fstype: "tmpfs",
      source: "tmpfs",
    }),
  };
  const original = originals[cell.resource];
  const originalParent = host.byId(original.parent);
  assert.ok(originalParent);

  // The holder, made while the victim runs.
  const h = cell.holder;
  let copyNs: SimNamespace;
  let configured: string | null = null;
  let refused: string | null = null;
  const processes: ProcessRecord[] = [
    proc(1, 0, HOST_NS, ["4:pids:/"], "init"),
    proc(50, 1, HOST_NS, ["4:pids:/"], "dockerd"),
    proc(60, 1, HOST_NS, ["4:pids:/"], "containerd-shim"),
    proc(61, 60, HELPER_NS, ["4:pids:/"], "docker-leak-helper"),
    proc(190, 1, HOST_NS, ["4:pids:/"], "containerd-shim"),
  ];
  const containers: ContainerInfo[] = [];
  if ("ns" in h) {
    copyNs = k.copyNamespace(host, HOLDER_NS, h.ns);
    const cg =
      h.kind === "unit"
        ? ["1:name=systemd:/system.slice/app.service", "4:pids:/system.slice/app.service"]
        : ["4:pids:/"];
    processes.push(proc(300, 1, HOLDER_NS, cg));
  } else {
    // Docker (20.10, measured): a bind whose source holds the data root defaults to rslave, made
    // recursively whatever the source is (the parts of a private / stay private, shared
    // submounts become slaves), and any other mode of it is refused ("must use either
    // propagation mode rslave or rshared when mount source is within the daemon root"); other
    // binds default to rprivate. An explicit rslave or rshared of a source that is neither shared
    // nor a slave is refused ("path / is mounted on / but it is not a shared or slave mount").
    const holdsRoot = h.source === "/";
    configured = h.mode === "default" ? (holdsRoot ? "rslave" : "") : h.mode;
    const source = h.source === "/" ? root : run;
    const sourceReceives = source.shared !== null || source.master !== null;
    const effective: BindMode = h.mode === "default" ? (holdsRoot ? "rslave" : "rprivate") : h.mode;
    if (holdsRoot && effective === "rprivate") refused = "a private bind of a path holding the data root";
    else if (!sourceReceives && h.mode !== "default" && h.mode !== "rprivate")
      refused = `${h.mode} bind of a private ${h.source}`;
    const cns = k.namespace(HOLDER_NS);
    const croot = k.mount(cns, null, "/", { dev: "0:60", fstype: "overlay", source: "overlay" }, false);
    const destination = h.source === "/" ? "/rootfs" : "/hostrun";
    if (!refused) k.bind(host, h.source, cns, croot, destination, effective);
    const labels: Record<string, string> =
      h.kind === "pod"
        ? {
            "io.kubernetes.pod.uid": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
            "io.kubernetes.pod.name": "agent-x1",
            "io.kubernetes.pod.namespace": "kube-system",
            "io.kubernetes.container.name": "agent",
          }
        : {};
    containers.push(
      container({
        id: HID,
        name: "holder",
        pid: 400,
        ipcMode: "private",
        sandboxKey: "",
        graphDriver: { name: cell.driver, data: {} },
        mounts: [{ type: "bind", source: h.source, destination, propagation: configured }],
        labels,
      }),
    );
    processes.push(proc(390, 1, HOST_NS, ["4:pids:/"], "containerd-shim"));
    processes.push(proc(400, 390, HOLDER_NS, [`4:pids:/docker/${HID}`]));
    copyNs = cns;
    if (h.kind === "container-process") {
      copyNs = k.copyNamespace(cns, INNER_NS, "private");
      processes.push(proc(410, 400, INNER_NS, [`4:pids:/docker/${HID}`]));
    }
  }

  // The victim: running (captured), or stopped (leaked) the way Docker stops it.
  const running = cell.state === "captured";
  if (!running) {
    for (const m of Object.values(originals)) k.unmount(host, m);
    // Docker's overlay drivers remove the merged directory: the kernel detaches every copy.
    if (/^overlay2?$/.test(cell.driver)) k.detachEverywhere(originals.rootfs);
  } else {
    processes.push(proc(200, 190, VICTIM_NS, [`4:pids:/docker/${VID}`]));
  }
  containers.push(
    container({
      status: running ? "running" : "exited",
      pid: running ? 200 : 0,
      graphDriver: { name: cell.driver, data: { MergedDir: `${ROOT}/overlay2/${LAYER}/merged` } },
      mounts: [
        {
          type: "volume",
          name: "vol",
          source: `${ROOT}/volumes/vol/_data`,
          destination: "/data",
          propagation: "",
        },
      ],
    }),
  );

  const copy = copyNs.mounts.find((m) => m.dev === original.dev && m.root === original.root);
  const nsRecord = (
    ns: SimNamespace | null,
    mntns: number,
    pids: number[],
    full = false,
  ): NamespaceRecord => ({
    type: "namespace",
    mntns,
    pids,
    readVia: pids[0] ?? null,
    mountinfo: ns ? ns.lines() : [`20 1 0:98 / / rw - overlay overlay rw`],
    full,
    dropped: 0,
  });
  const byNs = new Map<number, number[]>();
  for (const p of processes) byNs.set(p.mntns, [...(byNs.get(p.mntns) ?? []), p.pid]);
  const namespaces: NamespaceRecord[] = [...byNs.entries()].map(([mntns, pids]) => {
    const ns = k.namespaces.find((n) => n.inode === mntns) ?? null;
    return nsRecord(ns, mntns, pids, mntns === HOST_NS);
  });
  const scan: HelperScan = {
    self: { type: "self", pid: 61, ppid: 60, mntns: HELPER_NS, rootDev: "0:99" },
    processes,
    namespaces,
    pinned: [],
    layers: [],
    skipped: [],
    summary: {
      type: "summary",
      processes: processes.length,
      namespaces: namespaces.length,
      skipped: 0,
      pinned: 0,
      pinnedDropped: 0,
      stalled: 0,
    },
  };
  const inventory: Inventory = {
    daemon: {
      id: "X",
      serverVersion: "20.10.24",
      osType: "linux",
      architecture: "x86_64",
      kernelVersion,
      rootDir: ROOT,
      driver: cell.driver,
      cgroupVersion: "1",
      cgroupDriver: "cgroupfs",
      securityOptions: [],
    },
    containers,
    volumes: [
      {
        name: "vol",
        driver: "local",
        mountpoint: `${ROOT}/volumes/vol/_data`,
        options: { type: "tmpfs", device: "tmpfs" },
        labels: {},
      },
    ],
  };
  return { inventory, scan, copy, copyNs, originalParent, configured, refused };
}

/**
 * Where the scenario cuts the chain, from how it was built (not from the model's facts): the
 * daemon's side is private for a netns on a private host and for anything on a bare one; a
 * container's bind is private when configured so or when Docker fell back; a namespace made
 * private cuts it itself.
 */
function expectedCut(cell: Cell): PropagationCut | "follows" | "absent" {
  const h = cell.holder;
  // A bind of /run brings in the network namespace files only.
  if (!("ns" in h) && h.source === "/run" && cell.resource !== "netns") return "absent";
  const daemonSidePrivate =
    cell.host === "private-bare" || (cell.host === "private" && cell.resource === "netns");
  if (daemonSidePrivate) return "original";
  if ("ns" in h) return h.ns === "slave" ? "follows" : "namespace";
  if (h.kind === "container-process") return "namespace";
  const privateBind = h.mode === "rprivate" || (h.mode === "default" && h.source === "/run");
  return privateBind ? "bind" : "follows";
}

const receiving = (mode: string) => /^r?(slave|shared)$/.test(mode);

/** The words agree with the facts: nothing recommended that is in place, the host's side only when cut there. */
function checkWords(f: Finding, cell: Cell, label: string): void {
  const facts = f.cause.facts;
  const cure = f.cure.full;
  const cause = f.cause.full;
  const hostFix = /mount --make-rshared \//;
  if (facts.cut === "original") {
    assert.match(cure, hostFix, `${label}: a cut on the daemon's side is cured there`);
    assert.ok(
      cause.includes(
        `${facts.originalParent?.mountPoint} (mount ${facts.originalParent?.mountId}), is private`,
      ),
      `${label}: names the daemon's private mount`,
    );
  }
  const bindSourcePrivate = facts.bind?.sourceMount && facts.bind.sourceMount.propagation === "private";
  if (facts.cut !== "original" && !bindSourcePrivate) {
    assert.doesNotMatch(
      cure,
      hostFix,
      `${label}: the daemon's side is shared; nothing to change on the host`,
    );
  }
  if (facts.bind && receiving(facts.bind.mode)) {
    assert.doesNotMatch(cure, /-v [^ ]+:[^ ]+:rslave/, `${label}: the bind is ${facts.bind.mode} already`);
    assert.doesNotMatch(cure, /HostToContainer/, `${label}: the hostPath is ${facts.bind.mode} already`);
  }
  if (facts.namespaceReceives === true) {
    assert.doesNotMatch(
      cure,
      /--propagation slave|MountFlags=private/,
      `${label}: the namespace is a slave already`,
    );
  }
  if (facts.originalParent?.peerGroup === null) {
    assert.doesNotMatch(cause, /, is shared/, `${label}: the daemon's side is not shared`);
  }
  // Kind-specific cures, where the cut is the holder's.
  if (facts.cut === "namespace" && cell.holder.kind === "unit") assert.match(cure, /MountFlags/, label);
  if (facts.cut === "namespace" && cell.holder.kind === "process")
    assert.match(cure, /--propagation slave/, label);
  if (
    (facts.cut === "bind" || facts.cut === "namespace") &&
    cell.holder.kind === "pod" &&
    !receiving(facts.bind?.mode ?? "")
  ) {
    assert.match(cure, /HostToContainer/, label);
  }
  if (facts.cut === "bind" && cell.holder.kind === "container" && !receiving(facts.bind?.mode ?? "")) {
    assert.match(cure, /-v \/run:\/hostrun:rslave/, label);
  }
  assert.equal(facts.removal?.blocks, "no", `${label}: kernel 6.1 detaches copies on rmdir`);
  assert.match(cause, /does not block docker (volume )?rm/, label);
}

const HOLDER_KIND = {
  process: "process",
  unit: "unit",
  container: "container",
  "container-process": "container-process",
  pod: "pod",
} as const;

describe("causes and cures over the propagation matrix", () => {
  const hosts: Host[] = ["shared", "private", "private-bare"];
  const resources: ResourceKind[] = ["shm", "netns", "volume", "rootfs"];
  let cells = 0;
  let withFinding = 0;
  for (const host of hosts) {
    for (const holder of HOLDERS) {
      for (const resource of resources) {
        for (const driver of resource === "rootfs" ? ["overlay2", "fuse-overlayfs"] : ["overlay2"]) {
          for (const state of ["captured", "leaked"] as const) {
            const cell: Cell = { host, holder, resource, state, driver };
            const label = `${host} / ${describeHolder(holder)} / ${resource}${resource === "rootfs" ? ` (${driver})` : ""} / ${state}`;
            it(label, () => {
              const b = build(cell);
              if (b.refused) {
                // Docker refuses to create it: nothing to explain.
                assert.ok(
                  host !== "shared" ||
                    ("source" in holder && holder.source === "/" && holder.mode === "rprivate"),
                  b.refused,
                );
                return;
              }
              cells++;
              const r = analyze({ inventory: b.inventory, scan: b.scan });
              const mine = r.findings.filter(
                (f) => f.holder.namespace === b.copyNs.inode && f.resource.kind === resource,
              );
              const cut = expectedCut(cell);
              const detached = resource === "rootfs" && driver === "overlay2";
              if (cut === "absent") {
                assert.equal(b.copy, undefined);
                assert.deepEqual(mine, []);
                return;
              }
              if (cut === "follows" || detached) {
                assert.deepEqual(
                  mine.map((f) => `${f.severity} ${f.resource.kind} ${f.cause.facts.cut}`),
                  [],
                  "the copy follows Docker's unmount (or is detached with the merged directory)",
                );
                if (state === "leaked") assert.equal(b.copy, undefined, "and the kernel shows no copy");
                return;
              }
              assert.ok(b.copy, "the kernel keeps the copy");
              assert.equal(mine.length, 1, mine.map((f) => f.cause.short).join("\n"));
              const f = mine[0]!;
              withFinding++;
              const facts = f.cause.facts;
              assert.equal(f.severity, state);
              assert.equal(facts.cut, cut);
              assert.equal(facts.receivesUnmounts, false);
              assert.equal(facts.holder, HOLDER_KIND[holder.kind]);
              assert.equal(facts.resource, resource);
              assert.equal(facts.copy?.mountId, b.copy.id);
              assert.equal(facts.copyParent?.mountId, b.copy.parent);
              assert.equal(facts.originalParent?.mountId, b.originalParent.id);
              assert.equal(facts.originalParent?.peerGroup, b.originalParent.shared);
              assert.equal(
                facts.original === null,
                state === "leaked",
                "the original is mounted while it runs",
              );
              assert.equal(facts.daemonInHostNamespace, true);
              if (b.configured !== null) {
                assert.equal(facts.bind?.mode, b.configured);
                const destination = "source" in holder && holder.source === "/run" ? "/hostrun" : "/rootfs";
                assert.equal(facts.bind?.destination, destination);
                assert.equal(facts.bind?.mount?.mountPoint, destination);
              } else {
                assert.equal(facts.bind, null);
              }
              checkWords(f, cell, label);
              if (process.env.SHOW_WORDS && label.includes(process.env.SHOW_WORDS)) {
                console.log(
                  `\n## ${label}\n${f.cause.short}\n${f.cause.full}\n-- ${f.cure.short}\n${f.cure.full}`,
                );
              }
            });
          }
        }
      }
    }
  }
  it("covered every kind of cut", () => {
    assert.ok(cells > 200, `${cells} cells ran`);
    assert.ok(withFinding > 60, `${withFinding} cells had a finding`);
  });
});

describe("propagation facts", () => {
  it("peer groups: a slave of a slave receives; another group does not", () => {
    const g = new PeerGroups();
    g.learn({ shared: 7, master: 3 }); // group 7 is a slave of group 3
    assert.equal(g.reaches(3, { peerGroup: null, masterGroup: 7 }), true);
    assert.equal(g.reaches(3, { peerGroup: 3, masterGroup: null }), true);
    assert.equal(g.reaches(3, { peerGroup: 9, masterGroup: null }), false);
    assert.equal(
      g.reaches(7, { peerGroup: null, masterGroup: 3 }),
      false,
      "a master does not receive from its slave",
    );
    g.learn({ shared: 3, master: 7 }); // a loop cannot come from the kernel; it ends anyway
    assert.equal(g.reaches(1, { peerGroup: null, masterGroup: 7 }), false);
  });

  it("whether a held copy blocks a removal, by kernel release", () => {
    assert.deepEqual(kernelRelease("6.18.44-fc-v1045"), [6, 18]);
    assert.equal(foreignCopyBlocks("6.1.0-18-amd64"), "no");
    assert.equal(foreignCopyBlocks("3.18.0"), "no");
    assert.equal(foreignCopyBlocks("3.16.0-6-amd64"), "yes");
    assert.equal(
      foreignCopyBlocks("3.10.0-1160.el7.x86_64"),
      "unknown",
      "RHEL 7: fs.may_detach_mounts decides",
    );
    assert.equal(foreignCopyBlocks("weird"), "unknown");
  });

  it("on an old kernel the finding says docker rm fails while the copy is held", () => {
    const b = build(
      {
        host: "shared",
        holder: { kind: "process", ns: "private" },
        resource: "shm",
        state: "leaked",
        driver: "overlay2",
      },
      "3.16.0-6-amd64",
    );
    const f = analyze({ inventory: b.inventory, scan: b.scan }).findings.find(
      (x) => x.holder.namespace === HOLDER_NS,
    );
    assert.equal(f?.cause.facts.removal?.blocks, "yes");
    assert.match(f?.cause.full ?? "", /docker rm victim fails with "device or resource busy"/);
  });

  it("the daemon's own namespace: a stale mount below a volume blocks docker volume rm; a container's does not block docker rm", () => {
    const b = build({
      host: "shared",
      holder: { kind: "process", ns: "slave" },
      resource: "shm",
      state: "captured",
      driver: "overlay2",
    });
    const host = b.scan.namespaces.find((n) => n.mntns === HOST_NS);
    assert.ok(host?.mountinfo);
    // Something mounted below the volume's data in the daemon's namespace.
    host.mountinfo.push(
      `900 ${host.mountinfo.find((l) => l.includes("/volumes/vol/_data"))?.split(" ")[0]} 0:70 / ${ROOT}/volumes/vol/_data/sub rw - tmpfs tmpfs rw`,
    );
    // And the victim stopped with its shm left mounted in the daemon's namespace.
    const victim = b.inventory.containers.find((c) => c.id === VID);
    assert.ok(victim);
    victim.status = "exited";
    victim.pid = 0;
    const r = analyze({ inventory: b.inventory, scan: b.scan });
    const sub = r.findings.find((f) => f.resource.kind === "volume-submount");
    assert.equal(sub?.severity, "stale");
    assert.deepEqual(sub?.cause.facts.removal, {
      command: "docker volume rm",
      blocks: "yes",
      kernel: "6.1.0-18-amd64",
    });
    const shm = r.findings.find((f) => f.resource.kind === "shm" && f.severity === "stale");
    assert.deepEqual(shm?.cause.facts.removal, {
      command: "docker rm",
      blocks: "no",
      kernel: "6.1.0-18-amd64",
    });
    assert.equal(shm?.cause.facts.copy, null);
    assert.equal(shm?.cause.facts.original?.mountPoint, `${ROOT}/containers/${VID}/mounts/shm`);
  });
});
