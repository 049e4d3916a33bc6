/**
 * The dockerode boundary against a stand-in daemon on a unix socket: how it reads the answers
 * of a daemon whose containers come and go while it asks.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiError } from "../../src/docker/client.js";
import { DockerodeClient } from "../../src/docker/dockerode-client.js";

describe("DockerodeClient.containers while containers are removed", () => {
  let dir: string;
  let server: Server;
  let client: DockerodeClient;
  /** What the first (unfiltered) list answers, and what a list filtered by ID finds later. */
  let listed: string[] = [];
  let remaining: string[] = [];
  /** Inspect answers: 200 with a body, or an error status with Podman's body. */
  let inspect: Record<string, number> = {};
  const requests: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "dlt-client-"));
    const socket = join(dir, "daemon.sock");
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://d");
      requests.push(`${url.pathname}${url.search}`);
      res.setHeader("Content-Type", "application/json");
      const path = url.pathname.replace(/^\/v[\d.]+/, "");
      if (path === "/containers/json") {
        const filters = JSON.parse(url.searchParams.get("filters") ?? "{}") as { id?: string[] };
        const ids = filters.id ? remaining.filter((id) => filters.id?.includes(id)) : listed;
        res.end(JSON.stringify(ids.map((Id) => ({ Id, Names: [`/${Id}`] }))));
        return;
      }
      const m = /^\/containers\/([^/]+)\/json$/.exec(path);
      const id = m?.[1] ?? "";
      const status = inspect[id] ?? 404;
      res.statusCode = status;
      if (status === 200) {
        res.end(JSON.stringify({ Id: id, Name: `/${id}`, State: { Status: "running", Pid: 1 } }));
        return;
      }
      const cause = "no such container";
      res.end(
        JSON.stringify({
          cause,
          message: `container ${id} does not exist in database: ${cause}`,
          response: status,
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    client = new DockerodeClient(
      { host: `unix://${socket}`, context: "default", source: "test", configDir: "/nonexistent" },
      { rawGlobals: [] },
    );
  });
  after(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("a container the daemon no longer lists after a 500 (Podman mid-removal) is gone, not an error", async () => {
    listed = ["kept", "going"];
    remaining = ["kept"];
    inspect = { kept: 200, going: 500 };
    const got = await client.containers();
    assert.deepEqual(
      got.map((c) => c.id),
      ["kept"],
    );
    assert.ok(
      requests.some((r) => r.includes("/containers/json") && r.includes("going")),
      requests.join("\n"),
    );
  });

  it("a 500 for a container still listed is the daemon's error, named", async () => {
    listed = ["kept", "broken"];
    remaining = listed;
    inspect = { kept: 200, broken: 500 };
    await assert.rejects(client.containers(), (err: unknown) => {
      assert.ok(err instanceof ApiError, String(err));
      assert.match(err.message, /inspect container broken/);
      return true;
    });
  });

  it("a 404 is gone without asking again", async () => {
    listed = ["kept", "gone"];
    remaining = ["kept"];
    inspect = { kept: 200 };
    requests.length = 0;
    const got = await client.containers();
    assert.deepEqual(
      got.map((c) => c.id),
      ["kept"],
    );
    assert.equal(requests.filter((r) => r.includes("/containers/json")).length, 1, requests.join("\n"));
  });
});
