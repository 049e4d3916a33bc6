/**
 * Daemons the plugin cannot dial itself (ssh://, …) are reached through
 * `docker [globals] system dial-stdio`, like the docker CLI's own connection helpers. A stand-in
 * `docker` on PATH records its arguments and relays stdio to the private daemon's socket.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BUNDLE, PRIVATE_ROOT, PRIVATE_SOCKET, requireDaemon } from "../support/daemon.js";

let dir: string;

describe("ssh:// and other schemes through docker system dial-stdio", () => {
  before(() => {
    requireDaemon();
    dir = mkdtempSync(join(tmpdir(), "dlt-dial-"));
    const relay = `#!${process.execPath}
const fs = require("node:fs");
fs.appendFileSync(${JSON.stringify(join(dir, "argv.log"))}, JSON.stringify(process.argv.slice(2)) + "\\n");
const args = process.argv.slice(2);
if (args.slice(-2).join(" ") !== "system dial-stdio") { process.stderr.write("unexpected: " + args.join(" ")); process.exit(2); }
const sock = require("node:net").connect(${JSON.stringify(PRIVATE_SOCKET)});
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on("close", () => process.exit(0));
`;
    writeFileSync(join(dir, "docker"), relay);
    chmodSync(join(dir, "docker"), 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("docker -H ssh://… leak version goes through dial-stdio with the same globals", () => {
    const r = spawnSync(
      process.execPath,
      [BUNDLE, "-H", "ssh://dlt@example.invalid", "leak", "version", "--format", "json"],
      {
        encoding: "utf8",
        env: {
          ...process.env,
          PATH: `${dir}:${process.env.PATH}`,
          DOCKER_HOST: undefined,
          DOCKER_CONTEXT: undefined,
        },
        timeout: 60_000,
      },
    );
    assert.equal(
      r.status,
      0,
      `stderr: ${r.stderr} stdout: ${r.stdout} log: ${readFileSync(join(dir, "argv.log"), "utf8")}`,
    );
    const v = JSON.parse(r.stdout);
    assert.equal(v.server.rootDir, PRIVATE_ROOT);
    assert.equal(v.endpoint.host, "ssh://dlt@example.invalid");
    const calls = readFileSync(join(dir, "argv.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(calls.length >= 1);
    for (const argv of calls)
      assert.deepEqual(argv, ["-H", "ssh://dlt@example.invalid", "system", "dial-stdio"]);
  });
});
