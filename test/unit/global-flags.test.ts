import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { splitArgv } from "../../src/cli/global-flags.js";
import { UsageError } from "../../src/errors.js";

describe("splitArgv", () => {
  const cases: [string, string[], ReturnType<typeof splitArgv>["globals"], string[]][] = [
    ["direct run", ["scan"], {}, ["scan"]],
    ["via the CLI, no globals", ["leak", "scan", "-q"], {}, ["scan", "-q"]],
    ["--context value", ["--context", "prod", "leak", "version"], { context: "prod" }, ["version"]],
    ["--context=value", ["--context=prod", "leak", "version"], { context: "prod" }, ["version"]],
    ["-c value", ["-c", "prod", "leak", "version"], { context: "prod" }, ["version"]],
    ["-H value", ["-H", "unix:///x.sock", "leak", "scan"], { host: ["unix:///x.sock"] }, ["scan"]],
    ["--host=value", ["--host=tcp://h:2376", "leak"], { host: ["tcp://h:2376"] }, []],
    ["-Hvalue", ["-Hunix:///y.sock", "leak", "scan"], { host: ["unix:///y.sock"] }, ["scan"]],
    ["--config", ["--config", "/cfg", "leak", "scan"], { config: "/cfg" }, ["scan"]],
    [
      "tls flags",
      [
        "--tlsverify",
        "--tlscacert",
        "/c/ca.pem",
        "--tlscert=/c/cert.pem",
        "--tlskey",
        "/c/key.pem",
        "leak",
        "version",
      ],
      { tlsVerify: true, tlsCaCert: "/c/ca.pem", tlsCert: "/c/cert.pem", tlsKey: "/c/key.pem" },
      ["version"],
    ],
    ["--tls", ["--tls", "leak", "version"], { tls: true }, ["version"]],
    ["--tlsverify=false", ["--tlsverify=false", "leak"], { tlsVerify: false }, []],
    [
      "debug and log level",
      ["-D", "-l", "debug", "leak", "scan"],
      { debug: true, logLevel: "debug" },
      ["scan"],
    ],
    ["--log-level=warn", ["--log-level=warn", "--debug", "leak"], { logLevel: "warn", debug: true }, []],
    ["plugin flags stay", ["leak", "--help"], {}, ["--help"]],
    ["direct --help", ["--help"], {}, ["--help"]],
    ["globals stop at the command", ["leak", "scan", "-H", "x"], {}, ["scan", "-H", "x"]],
    ["a second leak word is an argument", ["leak", "leak"], {}, ["leak"]],
    ["-- ends globals", ["-D", "--", "leak", "scan"], { debug: true }, ["scan"]],
  ];
  for (const [name, argv, globals, args] of cases) {
    it(name, () => {
      const out = splitArgv(argv);
      assert.deepEqual(out.globals, globals);
      assert.deepEqual(out.args, args);
    });
  }

  it("keeps the raw globals for dial-stdio", () => {
    assert.deepEqual(splitArgv(["-c", "x", "--config=/d", "leak", "scan"]).rawGlobals, [
      "-c",
      "x",
      "--config=/d",
    ]);
  });

  it("rejects --context with -H, as the CLI does", () => {
    assert.throws(() => splitArgv(["--context", "a", "-H", "unix:///s", "leak"]), UsageError);
  });
  it("rejects a value flag without its value", () => {
    assert.throws(() => splitArgv(["--context"]), /flag needs an argument: --context/);
  });
  it("rejects a bad boolean", () => {
    assert.throws(() => splitArgv(["--tlsverify=maybe", "leak"]), /invalid argument "maybe"/);
  });
});
