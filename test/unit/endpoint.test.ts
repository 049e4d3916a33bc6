import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GlobalOptions } from "../../src/cli/global-flags.js";
import {
  contextDirName,
  type FileReader,
  normalizeHost,
  resolveEndpoint,
} from "../../src/docker/endpoint.js";
import { LeakError, UsageError } from "../../src/errors.js";

const HOME = "/home/u";
const CFG = "/home/u/.docker";

function store(files: Record<string, string>): FileReader {
  return { readFile: (p) => files[p], exists: (p) => p in files };
}

function contextFiles(
  configDir: string,
  name: string,
  host: string,
  opts: { tls?: boolean; skip?: boolean } = {},
) {
  const id = contextDirName(name);
  const files: Record<string, string> = {
    [`${configDir}/contexts/meta/${id}/meta.json`]: JSON.stringify({
      Name: name,
      Metadata: {},
      Endpoints: { docker: { Host: host, SkipTLSVerify: opts.skip ?? false } },
    }),
  };
  if (opts.tls) {
    for (const f of ["ca.pem", "cert.pem", "key.pem"])
      files[`${configDir}/contexts/tls/${id}/docker/${f}`] = "PEM";
  }
  return files;
}

function resolve(globals: GlobalOptions, env: NodeJS.ProcessEnv, files: Record<string, string> = {}) {
  return resolveEndpoint({ globals, env, files: store(files), home: HOME });
}

describe("resolveEndpoint (the docker CLI's precedence)", () => {
  const both = {
    ...contextFiles(CFG, "ctx-flag", "unix:///flag.sock"),
    ...contextFiles(CFG, "ctx-env", "unix:///env.sock"),
    ...contextFiles(CFG, "ctx-config", "unix:///config.sock"),
    [`${CFG}/config.json`]: JSON.stringify({ currentContext: "ctx-config" }),
  };
  const table: [string, GlobalOptions, NodeJS.ProcessEnv, string, string][] = [
    [
      "--context beats everything",
      { context: "ctx-flag" },
      { DOCKER_HOST: "unix:///h.sock", DOCKER_CONTEXT: "ctx-env" },
      "unix:///flag.sock",
      "ctx-flag",
    ],
    [
      "-H beats DOCKER_HOST and contexts",
      { host: ["unix:///H.sock"] },
      { DOCKER_HOST: "unix:///h.sock", DOCKER_CONTEXT: "ctx-env" },
      "unix:///H.sock",
      "default",
    ],
    [
      "DOCKER_HOST beats DOCKER_CONTEXT",
      {},
      { DOCKER_HOST: "unix:///h.sock", DOCKER_CONTEXT: "ctx-env" },
      "unix:///h.sock",
      "default",
    ],
    ["DOCKER_CONTEXT beats currentContext", {}, { DOCKER_CONTEXT: "ctx-env" }, "unix:///env.sock", "ctx-env"],
    ["currentContext from config.json", {}, {}, "unix:///config.sock", "ctx-config"],
    [
      "context named default uses DOCKER_HOST or the socket",
      { context: "default" },
      {},
      "unix:///var/run/docker.sock",
      "default",
    ],
  ];
  for (const [name, globals, env, host, context] of table) {
    it(name, () => {
      const e = resolve(globals, env, both);
      assert.equal(e.host, host);
      assert.equal(e.context, context);
    });
  }

  it("falls back to the default socket", () => {
    const e = resolve({}, {});
    assert.equal(e.host, "unix:///var/run/docker.sock");
    assert.match(e.source, /default socket/);
  });

  it("reads config.json from --config and DOCKER_CONFIG", () => {
    const files = {
      ...contextFiles("/alt", "alt", "tcp://alt:2375"),
      "/alt/config.json": JSON.stringify({ currentContext: "alt" }),
    };
    assert.equal(resolve({ config: "/alt" }, {}, files).host, "tcp://alt:2375");
    assert.equal(resolve({}, { DOCKER_CONFIG: "/alt" }, files).host, "tcp://alt:2375");
    assert.equal(resolve({}, {}, files).host, "unix:///var/run/docker.sock");
  });

  it("takes TLS material from the context store", () => {
    const e = resolve({ context: "secure" }, {}, contextFiles(CFG, "secure", "tcp://h:2376", { tls: true }));
    const id = contextDirName("secure");
    assert.deepEqual(e.tls, {
      ca: `${CFG}/contexts/tls/${id}/docker/ca.pem`,
      cert: `${CFG}/contexts/tls/${id}/docker/cert.pem`,
      key: `${CFG}/contexts/tls/${id}/docker/key.pem`,
      verify: true,
    });
  });

  it("honours SkipTLSVerify", () => {
    const e = resolve(
      { context: "s" },
      {},
      contextFiles(CFG, "s", "tcp://h:2376", { tls: true, skip: true }),
    );
    assert.equal(e.tls?.verify, false);
  });

  it("a context without TLS files has no TLS", () => {
    assert.equal(resolve({ context: "p" }, {}, contextFiles(CFG, "p", "tcp://h:2375")).tls, undefined);
  });

  it("--tlsverify with -H uses DOCKER_CERT_PATH files", () => {
    const e = resolve({ host: ["tcp://h:2376"], tlsVerify: true }, { DOCKER_CERT_PATH: "/certs" });
    assert.deepEqual(e.tls, {
      ca: "/certs/ca.pem",
      cert: "/certs/cert.pem",
      key: "/certs/key.pem",
      verify: true,
    });
  });

  it("DOCKER_TLS_VERIFY and explicit cert flags", () => {
    const e = resolve({ tlsCaCert: "/x/ca.pem" }, { DOCKER_HOST: "tcp://h:2376", DOCKER_TLS_VERIFY: "1" });
    assert.equal(e.tls?.ca, "/x/ca.pem");
    assert.equal(e.tls?.cert, `${CFG}/cert.pem`);
    assert.equal(e.tls?.verify, true);
  });

  it("--tls alone encrypts without verifying", () => {
    assert.equal(resolve({ host: ["tcp://h:2376"], tls: true }, {}).tls?.verify, false);
  });

  it("an unknown context is a clear error naming it and its source", () => {
    assert.throws(
      () => resolve({ context: "nope" }, {}),
      (err: unknown) => {
        assert.ok(err instanceof LeakError);
        assert.match(err.message, /context "nope" does not exist \(set by --context\)/);
        return true;
      },
    );
    assert.throws(
      () => resolve({}, { DOCKER_CONTEXT: "gone" }),
      /context "gone" does not exist \(set by DOCKER_CONTEXT\)/,
    );
  });

  it("a broken config.json is a clear error", () => {
    assert.throws(() => resolve({}, {}, { [`${CFG}/config.json`]: "{" }), /cannot parse config file/);
  });

  it("says how the endpoint was chosen", () => {
    assert.match(resolve({}, { DOCKER_HOST: "unix:///h.sock" }).source, /DOCKER_HOST/);
    assert.match(resolve({ host: ["unix:///h.sock"] }, {}).source, /-H/);
  });
});

describe("normalizeHost", () => {
  it("accepts the CLI's forms", () => {
    assert.equal(normalizeHost("/var/run/x.sock"), "unix:///var/run/x.sock");
    assert.equal(normalizeHost(":2375"), "tcp://127.0.0.1:2375");
    assert.equal(normalizeHost("host:2376"), "tcp://host:2376");
    assert.equal(normalizeHost("ssh://me@box"), "ssh://me@box");
  });
  it("rejects nonsense", () => {
    assert.throws(() => normalizeHost("what is this"), UsageError);
  });
});
