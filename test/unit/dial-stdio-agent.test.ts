/**
 * Requests to a dial-stdio daemon (ssh://) share one kept-alive connection, and a streaming one
 * (an attach) gets one more: a stand-in `ssh` relays each connection to a local HTTP server and
 * records its arguments, so the test counts the connections a burst of requests makes.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DialStdioAgent, isStreamingRequest, sshTarget } from "../../src/docker/connect.js";
import type { Endpoint } from "../../src/docker/endpoint.js";

const endpoint = (host: string): Endpoint => ({
  host,
  context: "x",
  source: "test",
  configDir: "/nonexistent",
});

describe("sshTarget: ssh:// URLs as docker's connection helper takes them", () => {
  it("user, host and port", () => {
    assert.deepEqual(sshTarget(endpoint("ssh://root@10.0.0.1:2222")), {
      user: "root",
      host: "10.0.0.1",
      port: "2222",
    });
    assert.deepEqual(sshTarget(endpoint("ssh://node-1")), { host: "node-1" });
    assert.deepEqual(sshTarget(endpoint("ssh://u@[::1]:22")), { user: "u", host: "::1", port: "22" });
  });
  it("what docker itself would treat specially is left to docker system dial-stdio", () => {
    assert.equal(sshTarget(endpoint("ssh://host/var/run/other.sock")), undefined);
    assert.equal(sshTarget(endpoint("ssh://u:secret@host")), undefined);
    assert.equal(sshTarget(endpoint("unix:///var/run/docker.sock")), undefined);
    assert.equal(sshTarget(endpoint("fd://")), undefined);
  });
});

describe("isStreamingRequest", () => {
  it("attach, wait and events hold their connection; the rest do not", () => {
    assert.ok(isStreamingRequest("/containers/abc/attach?stream=true&stdout=true"));
    assert.ok(isStreamingRequest("/v1.41/containers/abc/wait?condition=removed"));
    assert.ok(isStreamingRequest("/events?filters=x"));
    assert.ok(!isStreamingRequest("/containers/abc/wait?condition=not-running"));
    assert.ok(!isStreamingRequest("/containers/json?all=true"));
    assert.ok(!isStreamingRequest("/containers/attach-me/json"));
    assert.ok(!isStreamingRequest("/info"));
    // The helper's output over dial-stdio: on the shared connection (DockerodeClient).
    assert.ok(!isStreamingRequest("/v1.41/containers/abc/logs?follow=1&stdout=1&stderr=1"));
  });
});

describe("DialStdioAgent", () => {
  let dir: string;
  let server: Server;
  const held: ServerResponse[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "dlt-agent-"));
    const socket = join(dir, "daemon.sock");
    server = createServer((req, res) => {
      if (req.url?.includes("/attach")) {
        held.push(res); // answered when the test says so, like an attach until the container exits
        res.writeHead(200, { "Content-Type": "application/vnd.docker.raw-stream" });
        return;
      }
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ url: req.url }));
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    const ssh = `#!${process.execPath}
require("node:fs").appendFileSync(${JSON.stringify(join(dir, "ssh.log"))}, JSON.stringify(process.argv.slice(2)) + "\\n");
const sock = require("node:net").connect(${JSON.stringify(socket)});
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on("close", () => process.exit(0));
`;
    writeFileSync(join(dir, "ssh"), ssh);
    chmodSync(join(dir, "ssh"), 0o755);
  });
  after(async () => {
    for (const r of held) r.end();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (agent: DialStdioAgent, path: string, method = "GET") =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: "localhost", port: 80, path, method, agent }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });

  // Bounded: a relay that never answers must fail the test, not hold the suite.
  it("a burst of requests and an attach in flight make two connections, ssh'd like docker does", {
    timeout: 60_000,
  }, async () => {
    const agent = new DialStdioAgent({
      rawGlobals: ["--context", "x"],
      endpoint: endpoint("ssh://root@192.0.2.1:2222"),
      sshBinary: join(dir, "ssh"),
    });
    const attach = get(agent, "/containers/abc/attach?stream=true", "POST");
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) => get(agent, `/containers/c${i}/json`)),
    );
    assert.deepEqual(
      burst.map((r) => JSON.parse(r.body).url),
      Array.from({ length: 20 }, (_, i) => `/containers/c${i}/json`),
    );
    // The attach still holds its connection; more requests still go through the shared one.
    assert.equal((await get(agent, "/info")).status, 200);
    for (const r of held.splice(0)) r.end();
    assert.equal((await attach).status, 200);
    assert.equal((await get(agent, "/version")).status, 200);
    agent.destroy();
    assert.equal(agent.dials, 2);
    const calls = readFileSync(join(dir, "ssh.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as string[]);
    assert.equal(calls.length, 2);
    for (const argv of calls) {
      assert.deepEqual(argv.slice(-10), [
        "-T",
        "-l",
        "root",
        "-p",
        "2222",
        "--",
        "192.0.2.1",
        "docker",
        "system",
        "dial-stdio",
      ]);
      assert.ok(argv.includes("ConnectTimeout=30"));
      assert.ok(argv.some((a) => a.startsWith("ControlPath=")));
    }
  });
});
