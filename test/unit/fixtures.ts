/**
 * Loads the leak-model fixtures under test/fixtures/<name>/: info.json (docker info),
 * containers.json (docker inspect), volumes.json (docker volume inspect) and scan.ndjson
 * (helper protocol), recorded by test/fixtures/record.sh. The API JSON goes through the real
 * mappers of the Docker boundary.
 */
import fs, { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path, { join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { type HelperLayer, locateHelperBinary, makeHelperLayer } from "../../src/docker/helper-image.js";
import { mapContainer, mapInfo, mapVolume, withLibpodInfo } from "../../src/docker/map-inspect.js";
import { collectScan, decodeText, type HelperScan } from "../../src/helper/protocol.js";
import type { ContainerInfo, Inventory } from "../../src/model/inventory.js";
import { FakeDocker } from "../support/fake-docker.js";

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");

type Json = Record<string, unknown>;

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"));

export function fixtureText(name: string, file: string): string {
  return fs.readFileSync(path.join(FIXTURES, name, file), "utf8");
}

export function loadInventory(name: string): Inventory {
  const dir = path.join(FIXTURES, name);
  const info = readJson(path.join(dir, "info.json")) as Json;
  // Podman's fixtures carry its own /libpod/info beside the compatible one (run root, rootless).
  const libpod = path.join(dir, "libpod-info.json");
  const daemon = fs.existsSync(libpod)
    ? withLibpodInfo(mapInfo(info), readJson(libpod) as Json)
    : mapInfo(info);
  return {
    daemon,
    containers: (readJson(path.join(dir, "containers.json")) as Json[]).map(mapContainer),
    volumes: (readJson(path.join(dir, "volumes.json")) as Json[]).map(mapVolume),
  };
}

export function loadScan(name: string): HelperScan {
  return collectScan(decodeText(fixtureText(name, "scan.ndjson")));
}

export function loadFixture(name: string): { inventory: Inventory; scan: HelperScan } {
  return { inventory: loadInventory(name), scan: loadScan(name) };
}

/** A container by name in a loaded inventory (throws when absent: a fixture mistake). */
export function containerNamed(inventory: Inventory, name: string): ContainerInfo {
  const c = inventory.containers.find((x) => x.name === name);
  if (!c) throw new Error(`fixture has no container ${name}`);
  return c;
}

/**
 * A hand-written fixture (test/fixtures/handwritten/<name>.json) for layouts that cannot run
 * here: partial inventory objects (defaults filled in) and helper records without the summary,
 * which is computed, so the scan still goes through the real decoder.
 */
export function loadHandwritten(name: string): {
  description: string;
  inventory: Inventory;
  scan: HelperScan;
} {
  const fx = readJson(path.join(FIXTURES, "handwritten", `${name}.json`)) as {
    description: string;
    daemon: Partial<Inventory["daemon"]>;
    containers: Partial<ContainerInfo>[];
    volumes: Partial<Inventory["volumes"][number]>[];
    scan: Json[];
  };
  const daemon: Inventory["daemon"] = {
    id: "TEST:FIXTURE",
    serverVersion: "24.0.7",
    osType: "linux",
    architecture: "x86_64",
    kernelVersion: "6.1.0",
    rootDir: "/var/lib/docker",
    driver: "overlay2",
    cgroupVersion: "2",
    cgroupDriver: "systemd",
    securityOptions: [],
    ...fx.daemon,
  };
  const containers = fx.containers.map(
    (c): ContainerInfo => ({
      id: "",
      name: "",
      image: "",
      imageId: "",
      status: "running",
      pid: 0,
      graphDriver: { name: "overlay2", data: {} },
      ipcMode: "private",
      shmSize: 67108864,
      sandboxKey: "",
      networkMode: "default",
      pidMode: "",
      mounts: [],
      volumesFrom: [],
      labels: {},
      ...c,
    }),
  );
  const volumes = fx.volumes.map((v) => ({
    name: "",
    driver: "local",
    mountpoint: "",
    options: {},
    labels: {},
    ...v,
  }));
  const count = (type: string) => fx.scan.filter((r) => r.type === type).length;
  const records = [
    ...fx.scan,
    {
      type: "summary",
      processes: count("process"),
      namespaces: count("namespace"),
      skipped: count("skipped"),
      pinned: count("pinned"),
      pinnedDropped: 0,
      stalled: 0,
    },
  ];
  const ndjson = records.map((r) => `${JSON.stringify(r)}\n`).join("");
  return {
    description: fx.description,
    inventory: { daemon, containers, volumes },
    scan: collectScan(decodeText(ndjson)),
  };
}

/**
 * For workflows on FakeDocker: a helper directory holding a stand-in binary and the image layer
 * made of it, created before the file's tests and removed after them (call at the top level).
 */
export function fakeHelper(): {
  dir: () => string;
  layer: () => HelperLayer;
  docker: (fixture: string) => FakeDocker;
} {
  let dir = "";
  let layer: HelperLayer | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "dlt-fake-helper-"));
    writeFileSync(join(dir, "docker-leak-helper-linux-amd64"), "not a real helper", { mode: 0o755 });
    layer = await makeHelperLayer(locateHelperBinary(dir, "amd64"), { version: "0.1.0", os: "linux" });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const made = () => {
    if (!layer) throw new Error("fakeHelper: used before its before() hook ran");
    return layer;
  };
  return {
    dir: () => dir,
    layer: made,
    docker: (fixture) => {
      const inv = loadInventory(fixture);
      return new FakeDocker(
        inv.daemon,
        inv.containers,
        inv.volumes,
        fixtureText(fixture, "scan.ndjson"),
        made(),
      );
    },
  };
}
