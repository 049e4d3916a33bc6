/**
 * Which engine answers the Docker API (Docker or Podman), from /version and /info responses
 * recorded from Debian's docker.io 20.10 and podman 4.3.1 (test/fixtures/engines), and what
 * follows from it: the version output, the helper's settings, the refusal of rootless Podman.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { checkDaemonSupport } from "../../src/docker/daemon-support.js";
import type { Endpoint } from "../../src/docker/endpoint.js";
import { helperHostConfig } from "../../src/docker/helper-runner.js";
import {
  engineFromInfo,
  engineFromVersion,
  mapInfo,
  mapVersion,
  withLibpodInfo,
} from "../../src/docker/map-inspect.js";
import { busyPathFromError, isBusyError } from "../../src/model/removal.js";
import { renderVersion } from "../../src/render/version.js";
import { FIXTURES } from "./fixtures.js";

type Json = Record<string, unknown>;
const recorded = (file: string): Json =>
  JSON.parse(fs.readFileSync(path.join(FIXTURES, file), "utf8")) as Json;

const endpoint: Endpoint = {
  host: "unix:///run/podman/podman.sock",
  context: "default",
  source: "from DOCKER_HOST",
  configDir: "/x",
};

describe("engine recognition", () => {
  it("names Podman from /version's components, Docker from its Engine component", () => {
    assert.equal(engineFromVersion(recorded("engines/podman-version.json")), "podman");
    assert.equal(engineFromVersion(recorded("engines/docker-version.json")), "docker");
    assert.equal(mapVersion(recorded("engines/podman-version.json")).platform, "linux/amd64/debian-12");
  });

  it("without components, a Podman platform name still says Podman; nothing at all says Docker", () => {
    assert.equal(engineFromVersion({ Platform: { Name: "Podman Engine" } }), "podman");
    assert.equal(engineFromVersion({}), "docker");
    // A component merely mentioning podman in its details is not Podman's engine.
    assert.equal(
      engineFromVersion({ Components: [{ Name: "Engine", Details: { Note: "podman" } }] }),
      "docker",
    );
  });

  it("names Podman from /info (BuildahVersion, Rootless), Docker's /info has neither", () => {
    assert.equal(engineFromInfo(recorded("engines/podman-info.json")), "podman");
    assert.equal(engineFromInfo(recorded("legit/info.json")), "docker");
    assert.equal(mapInfo(recorded("legit/info.json")).engine, "docker");
  });

  it("takes Podman's run root and rootless flag from /libpod/info", () => {
    const facts = withLibpodInfo(
      mapInfo(recorded("engines/podman-info.json")),
      recorded("engines/podman-libpod-info.json"),
    );
    assert.equal(facts.engine, "podman");
    assert.equal(facts.rootDir, "/var/lib/dlt-podman/root");
    assert.equal(facts.runRoot, "/run/dlt-podman/run");
    assert.equal(facts.rootless, false);
    assert.deepEqual(checkDaemonSupport(facts, endpoint), []);
  });

  it("refuses a rootless Podman with the reason", () => {
    const libpod = recorded("engines/podman-libpod-info.json");
    const host = libpod.host as Json;
    const rootless = {
      ...libpod,
      host: { ...host, security: { ...(host.security as Json), rootless: true } },
    };
    const facts = withLibpodInfo(mapInfo(recorded("engines/podman-info.json")), rootless);
    assert.throws(
      () => checkDaemonSupport(facts, endpoint),
      /the Podman service at unix:\/\/\/run\/podman\/podman\.sock runs rootless: .*cannot see the host's processes/,
    );
    // The compatible /info's own flag is enough.
    const compat = mapInfo({ ...recorded("engines/podman-info.json"), Rootless: true });
    assert.throws(() => checkDaemonSupport(compat, endpoint), /runs rootless/);
  });

  it("version shows the engine, in the table and in JSON", () => {
    const info = mapInfo(recorded("engines/podman-info.json"));
    const version = mapVersion(recorded("engines/podman-version.json"));
    const table = renderVersion("table", "0.1.0", version, info, endpoint);
    assert.match(table, /^ Engine: +Podman$/m);
    const json = JSON.parse(renderVersion("json", "0.1.0", version, info, endpoint));
    assert.equal(json.server.engine, "podman");
    const docker = mapVersion(recorded("engines/docker-version.json"));
    const dockerInfo = mapInfo(recorded("legit/info.json"));
    assert.match(renderVersion("table", "0.1.0", docker, dockerInfo, endpoint), /^ Engine: +Docker$/m);
  });
});

describe("the helper on Podman", () => {
  const podman = withLibpodInfo(
    mapInfo(recorded("engines/podman-info.json")),
    recorded("engines/podman-libpod-info.json"),
  );

  it("keeps Podman's default seccomp profile (no inline JSON, which Podman reads as a file name), with no network and no IPC", () => {
    for (const mode of ["scan", "umount"] as const) {
      const hc = helperHostConfig(mode, podman);
      const opts = hc.SecurityOpt as string[];
      assert.ok(!opts.some((o) => o.startsWith("seccomp=")), `${mode}: ${opts.join(" ")}`);
      assert.ok(opts.includes("no-new-privileges"));
      assert.equal(hc.NetworkMode, "none");
      assert.equal(hc.IpcMode, "none");
      assert.equal(hc.PidMode, "host");
      assert.equal(hc.Privileged, undefined);
      assert.deepEqual(hc.CapDrop, ["ALL"]);
    }
    assert.deepEqual(helperHostConfig("scan", podman).CapAdd, ["SYS_PTRACE"]);
    assert.deepEqual(helperHostConfig("umount", podman).CapAdd, ["SYS_ADMIN", "SYS_PTRACE", "SYS_CHROOT"]);
  });

  it("keeps Docker's settings as they were (inline allowlist, host network)", () => {
    const docker = mapInfo(recorded("legit/info.json"));
    const hc = helperHostConfig("scan", docker);
    assert.ok((hc.SecurityOpt as string[]).some((o) => o.startsWith('seccomp={"defaultAction"')));
    assert.equal(hc.NetworkMode, "host");
    assert.equal(hc.IpcMode, undefined);
  });
});

describe("Podman's removal errors (recorded)", () => {
  const errors = recorded("engines/podman-errors.json") as Record<string, { status: number; body: Json }>;
  const message = (k: string) => String(errors[k]?.body.message);

  it("a busy volume or container removal is busy, and names the path to release", () => {
    assert.ok(isBusyError(message("volumeBusy")));
    assert.equal(
      busyPathFromError(message("volumeBusy")),
      "/var/lib/dlt-podman/root/volumes/dlt-busyvol/_data/sub",
    );
    assert.ok(isBusyError(message("containerBusy")));
    assert.equal(
      busyPathFromError(message("containerBusy")),
      "/var/lib/dlt-podman/root/overlay-containers/a962466fc91396b2c490d0d08112ab9b0b238ad1bcd6759bc2c377510d01bf35/userdata/x",
    );
  });

  it("a removal racing another one is answered 404 (no 'in progress' 409 as Docker's), which the removal takes as done", () => {
    assert.equal(errors.concurrentRemoval?.status, 404);
    assert.ok(!isBusyError(message("concurrentRemoval")));
    assert.doesNotMatch(message("concurrentRemoval"), /in progress/);
  });
});
