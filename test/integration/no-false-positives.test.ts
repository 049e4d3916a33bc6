/**
 * Legitimate setups on the private daemon: `docker leak scan` must report nothing about them.
 *
 * Other sessions may use the daemon at the same time, and their private-namespace holders can
 * really capture our running containers. A finding counts against the model here when it is
 * about one of our containers or volumes (or held by one of our containers) and its holder is
 * part of our setup: the daemon's namespace, or a namespace whose processes (by /proc, not by
 * the model's word) belong to one of our containers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Finding } from "../../src/model/findings.js";
import { dockerOk, PRIVATE_ROOT, requireDaemon, Scope, TEST_IMAGE, uniqueName } from "../support/daemon.js";
import { type JsonRun, type ScanJson, scanJson } from "../support/scan.js";

const scope = new Scope();
const made: string[] = [];
function ours(what: string): string {
  const name = uniqueName(what);
  made.push(name);
  return name;
}

/** name → full ID of every container we made */
const ids = new Map<string, string>();
const volumes: string[] = [];

function run(name: string, flags: string[] = []): string {
  scope.container(name);
  ids.set(name, dockerOk(["run", "-d", "--name", name, ...flags, TEST_IMAGE, "sleep", "600"]));
  return name;
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function volume(name: string, opts: string[] = []): string {
  scope.volume(name);
  volumes.push(name);
  dockerOk(["volume", "create", ...opts, name]);
  return name;
}

const idOf = (name: string): string => ids.get(name)!;

function cgroupOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    return "";
  }
}

/** Is this finding's holder part of our setup (see the file's comment)? */
function heldByOurSetup(f: Finding, scan: ScanJson): boolean {
  if (f.holder.namespace === scan.daemon.namespace || f.holder.owner.kind === "daemon") return true;
  const ourIds = [...ids.values()];
  if (f.holder.owner.kind === "container" && ourIds.includes(f.holder.owner.id)) return true;
  return f.holder.pids.some((pid) => ourIds.some((id) => cgroupOf(pid).includes(id)));
}

function concerns(f: Finding, containers: string[], vols: string[]): boolean {
  const t = f.target;
  if (t.kind === "volume") return vols.includes(t.name);
  const containerIds = containers.map(idOf);
  const o = f.holder.owner;
  return containerIds.includes(t.id) || (o.kind === "container" && containerIds.includes(o.id));
}

function brief(list: Finding[]): string {
  return JSON.stringify(
    list.map((f) => ({
      severity: f.severity,
      target: f.target,
      resource: f.resource,
      holder: { namespace: f.holder.namespace, pids: f.holder.pids, owner: f.holder.owner },
      mount: f.mount && {
        mountPoint: f.mount.mountPoint,
        propagation: f.mount.propagation,
        peer: f.mount.peerGroup,
        master: f.mount.masterGroup,
      },
      cause: f.cause.short,
    })),
    null,
    1,
  );
}

/** Findings about these containers/volumes that our own setup holds: there must be none. */
function assertNothingFor(scan: JsonRun, containers: string[], vols: string[] = []): void {
  const about = scan.json.findings.filter((f) => concerns(f, containers, vols));
  const false_ = about.filter((f) => heldByOurSetup(f, scan.json));
  assert.equal(false_.length, 0, `false positives:\n${brief(false_)}`);
}

// Our setups, all made before the first scan.
const plain = ours("nfp-plain");
const paused = ours("nfp-paused");
const exited = ours("nfp-exited");
const created = ours("nfp-created");
const shared = ours("nfp-shared");
const devvol = ours("nfp-devvol");
const share1 = ours("nfp-share1");
const share2 = ours("nfp-share2");
const ipcOwner = ours("nfp-ipcowner");
const ipcUser = ours("nfp-ipcuser");
const netUser = ours("nfp-netuser");
const volFrom = ours("nfp-volfrom");
const rootBind = ours("nfp-rootbind");
const later = ours("nfp-later");
const hostBind = ours("nfp-hostbind");
let bindDir = "";
const all = (): string[] => [...ids.keys()];

let first: JsonRun;
let afterStop: JsonRun;

describe("docker leak scan reports nothing for legitimate setups", () => {
  before(async () => {
    requireDaemon();
    bindDir = mkdtempSync(join(tmpdir(), "dlt-nfp-bind-"));
    scope.defer(() => rmSync(bindDir, { recursive: true, force: true }));

    // The root bind first: it then has (rslave) copies of everything made after it.
    run(rootBind, ["-v", `${PRIVATE_ROOT}:/x`]);
    run(plain);
    run(paused, ["--ipc", "shareable"]);
    dockerOk(["pause", paused]);
    scope.defer(() => dockerOk(["unpause", paused]));
    scope.container(exited);
    dockerOk(["run", "--name", exited, TEST_IMAGE, "true"]);
    ids.set(exited, dockerOk(["inspect", "-f", "{{.Id}}", exited]));
    scope.container(created);
    ids.set(created, dockerOk(["create", "--name", created, TEST_IMAGE, "true"]));
    volume(shared);
    volume(devvol, ["--opt", "type=tmpfs", "--opt", "device=tmpfs"]);
    run(share1, ["-v", `${shared}:/data`, "-v", `${devvol}:/dev1`]);
    run(share2, ["-v", `${shared}:/data`, "-v", `${devvol}:/dev1:ro`]);
    run(ipcOwner, ["--ipc", "shareable"]);
    run(ipcUser, ["--ipc", `container:${ipcOwner}`]);
    run(netUser, ["--network", `container:${ipcOwner}`]);
    run(volFrom, ["--volumes-from", share1]);
    run(hostBind, ["-v", `${bindDir}:/x`]);
    run(later, ["--ipc", "shareable", "-v", `${devvol}:/d`]);

    first = scanJson([]);
    // A container stops while the root bind holds (slave) copies of its mounts.
    dockerOk(["stop", "-t", "0", later]);
    await waitFor(
      "the daemon to unmount the stopped container's shm",
      () => !readFileSync("/proc/self/mountinfo", "utf8").includes(`/containers/${idOf(later)}/mounts/`),
    );
    afterStop = scanJson([...all(), ...volumes]);
  });
  after(() => scope.cleanup());

  it("the root bind really has Docker's rslave propagation", () => {
    const mounts = JSON.parse(dockerOk(["inspect", "-f", "{{json .Mounts}}", rootBind]));
    assert.equal(mounts[0].Propagation, "rslave");
  });

  it("running, paused, exited and created containers on their own", () => {
    for (const scan of [first, afterStop]) assertNothingFor(scan, [plain, paused, exited, created]);
  });

  it("two containers sharing a named volume and a device-backed volume", () => {
    for (const scan of [first, afterStop]) assertNothingFor(scan, [share1, share2], [shared, devvol]);
  });

  it("--ipc container:X and --network container:X", () => {
    for (const scan of [first, afterStop]) assertNothingFor(scan, [ipcOwner, ipcUser, netUser]);
  });

  it("--volumes-from", () => {
    for (const scan of [first, afterStop]) assertNothingFor(scan, [volFrom, share1], [shared, devvol]);
  });

  it("a bind of the daemon's root (rslave) while containers run", () => {
    assertNothingFor(first, [rootBind, later]);
  });

  it("a bind of the daemon's root (rslave) after another container stopped", () => {
    assertNothingFor(afterStop, [rootBind, later], [devvol]);
  });

  it("a plain bind of a host directory", () => {
    for (const scan of [first, afterStop]) assertNothingFor(scan, [hostBind]);
  });

  it("the daemon's own mounts of running containers are no finding", () => {
    for (const scan of [first, afterStop]) {
      const daemonHeld = scan.json.findings.filter(
        (f) => f.holder.owner.kind === "daemon" && concerns(f, all(), volumes),
      );
      assert.equal(daemonHeld.length, 0, brief(daemonHeld));
    }
    assert.ok(first.json.daemon.namespace !== null && first.json.daemon.pid !== null, "daemon located");
  });

  it("scanning only our targets finds nothing at all and exits 0", () => {
    // afterStop names our containers and volumes: anything it reports is a finding about them. A
    // process outside this test that made a private copy of their mounts would be a real capture,
    // and is reported as such here (by name, in the message) rather than skipped.
    assert.deepEqual(afterStop.json.findings, [], brief(afterStop.json.findings));
    assert.equal(afterStop.code, 0, afterStop.stderr);
    assert.match(afterStop.stderr, /No leaked mounts/);
  });
});

// Every scope has been cleaned up by now: nothing this file made may remain.
after(() => {
  const containers = new Set(dockerOk(["ps", "-a", "--format", "{{.Names}}"]).split("\n"));
  const vols = new Set(dockerOk(["volume", "ls", "-q"]).split("\n"));
  assert.deepEqual(
    made.filter((n) => containers.has(n) || vols.has(n)),
    [],
    "containers or volumes left behind",
  );
  const mounts = readFileSync("/proc/self/mountinfo", "utf8");
  assert.deepEqual(
    made.filter((n) => mounts.includes(`/${n}/`)),
    [],
    "mounts left behind",
  );
});
