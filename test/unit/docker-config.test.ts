/**
 * `docker leak install --hooks` / `uninstall`: the edits of the docker CLI's config.json
 * (src/cli/docker-config.ts), on files in a temporary directory, and through the commands.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import {
  type ConfigDocument,
  environmentOverride,
  FEATURES_BEFORE_KEY,
  formatConfig,
  HOOKED_BEFORE_KEY,
  parseConfig,
  planHooks,
  readConfig,
  withHooks,
  withoutHooks,
} from "../../src/cli/docker-config.js";
import { main } from "../../src/cli/main.js";
import { LeakError } from "../../src/errors.js";

/** As docker CLI 28 writes it (json.MarshalIndent with a tab, no final newline), with a login. */
const DOCKER_WRITTEN = `{
	"auths": {
		"registry.example.com:5000": {
			"auth": "dXNlcjpwYXNz"
		}
	},
	"credsStore": "pass",
	"currentContext": "remote",
	"features": {
		"containerd-snapshotter": "true"
	},
	"plugins": {
		"compose": {
			"hooks": "compose up"
		}
	},
	"psFormat": "table {{.Names}}\\t{{.Status}} \\u003c\\u003e"
}`;

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "dlt-unit-config-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function configDir(text?: string): string {
  const dir = join(tmp, `c${n++}`);
  if (text !== undefined) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), text, { mode: 0o600 });
  }
  return dir;
}
const read = (dir: string) => readFileSync(join(dir, "config.json"), "utf8");

async function run(argv: string[], dir: string, env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = { stdout: "", stderr: "" };
  stdout.on("data", (c: Buffer) => {
    out.stdout += c.toString();
  });
  stderr.on("data", (c: Buffer) => {
    out.stderr += c.toString();
  });
  const code = await main(argv, {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env: { DOCKER_CONFIG: dir, DOCKER_HOST: "unix:///nonexistent/docker.sock", NO_COLOR: "1", ...env },
    interrupts: { signal: new AbortController().signal, interrupted: false },
    helperDir: "/nonexistent",
  });
  return { code, ...out };
}

const install = (dir: string) => run(["install", "--hooks"], dir);

describe("editing config.json", () => {
  it("a docker-written file reads back to the same bytes (the layout is kept)", () => {
    const file = readConfig(configDir(DOCKER_WRITTEN));
    assert.equal(file.indent, "\t");
    assert.equal(file.finalNewline, false);
    // Go escapes < and > in strings; JSON.stringify does not: the same value, other bytes.
    assert.equal(formatConfig(file, file.doc), DOCKER_WRITTEN.replace("\\u003c\\u003e", "<>"));
  });

  it("install adds features.hooks and plugins.leak.hooks, keeping every other key, value and their order", async () => {
    const dir = configDir(DOCKER_WRITTEN);
    const r = await install(dir);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(read(dir));
    const before = JSON.parse(DOCKER_WRITTEN);
    assert.deepEqual(doc, {
      ...before,
      features: { "containerd-snapshotter": "true", hooks: "true" },
      plugins: {
        compose: { hooks: "compose up" },
        leak: {
          hooks: "rm,container rm,volume rm",
          [FEATURES_BEFORE_KEY]: "",
          [HOOKED_BEFORE_KEY]: "compose",
        },
      },
    });
    assert.deepEqual(Object.keys(doc), Object.keys(before));
    assert.match(read(dir), /^\{\n\t"auths": \{\n\t\t"registry/);
    assert.ok(!read(dir).endsWith("\n"));
    assert.equal(statSync(join(dir, "config.json")).mode & 0o777, 0o600);
    assert.match(r.stdout, /^installed docker leak .* at .*cli-plugins\/docker-leak\n/);
    assert.equal(
      r.stdout.split("\n").slice(1).join("\n"),
      `hints after a failed docker rm, docker container rm or docker volume rm: enabled in ${dir}/config.json (plugins.leak.hooks: rm,container rm,volume rm; features.hooks: true)
note: features.hooks also turns on the hooks configured for compose
`,
    );
  });

  it("install is idempotent: the second run writes nothing", async () => {
    const dir = configDir(DOCKER_WRITTEN);
    assert.equal((await install(dir)).code, 0);
    const once = read(dir);
    utimesSync(join(dir, "config.json"), new Date(0), new Date(0));
    const again = await install(dir);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(read(dir), once);
    assert.equal(statSync(join(dir, "config.json")).mtimeMs, 0, "not rewritten");
    assert.match(again.stdout, /: already enabled in /);
  });

  it("uninstall removes only what install added: the file is as it was", async () => {
    for (const text of [DOCKER_WRITTEN, "{}", '{\n  "auths": {}\n}\n', '{"features":{"hooks":"false"}}']) {
      const dir = configDir(text);
      assert.equal((await install(dir)).code, 0);
      assert.notEqual(read(dir), text);
      const r = await run(["uninstall"], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^removed .*docker-leak\nhints after .*: removed from .*config\.json \(/);
      assert.deepEqual(JSON.parse(read(dir)), JSON.parse(text), text);
      // Byte for byte where JSON.stringify writes what the file had.
      if (!text.includes("\\u003c") && text !== '{"features":{"hooks":"false"}}')
        assert.equal(read(dir), text);
    }
  });

  it("a file made by install is removed back to an empty object; `uninstall --hooks` keeps the plugin", async () => {
    const dir = configDir();
    assert.equal((await install(dir)).code, 0);
    const st = statSync(join(dir, "config.json"));
    assert.equal(st.mode & 0o777, 0o600);
    assert.match(
      read(dir),
      /^\{\n\t"features": \{\n\t\t"hooks": "true"\n\t\},\n\t"plugins"/,
      "a tab, like docker",
    );
    const r = await run(["uninstall", "--hooks"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(read(dir), "{}");
    assert.ok(existsSync(join(dir, "cli-plugins", "docker-leak")), "the plugin stays");
    const again = await run(["uninstall", "--hooks"], dir);
    assert.match(again.stdout, /: not enabled in /);
    const plain = await run(["uninstall"], dir);
    assert.equal(plain.stdout.split("\n").length, 2, "nothing about hints when there are none");
  });

  it("a 2-space file with a final newline stays one", async () => {
    const dir = configDir('{\n  "auths": {},\n  "features": {\n    "hooks": "true"\n  }\n}\n');
    assert.equal((await install(dir)).code, 0);
    assert.equal(
      read(dir),
      '{\n  "auths": {},\n  "features": {\n    "hooks": "true"\n  },\n  "plugins": {\n    "leak": {\n      "hooks": "rm,container rm,volume rm"\n    }\n  }\n}\n',
    );
  });

  it("features.hooks: kept when already true, restored when it was false, left on for hooks that came since", () => {
    const on = withHooks({ features: { hooks: "1" } });
    assert.deepEqual(on.doc, {
      features: { hooks: "1" },
      plugins: { leak: { hooks: "rm,container rm,volume rm" } },
    });
    assert.deepEqual(withoutHooks(on.doc).doc, { features: { hooks: "1" } });

    const off = withHooks({ features: { hooks: "false" } });
    assert.equal((off.doc.features as Record<string, string>).hooks, "true");
    assert.deepEqual(withoutHooks(off.doc).doc, { features: { hooks: "false" } });

    // Configured before (and off then): off again.
    const compose = { compose: { hooks: "compose up" } };
    const withCompose = withHooks({ plugins: compose });
    assert.deepEqual(withCompose.notes, ["features.hooks also turns on the hooks configured for compose"]);
    assert.deepEqual(withoutHooks(withCompose.doc).doc, { plugins: compose });

    // Another plugin got hooks since: the feature stays on, and the user is told why.
    const shared = withHooks({}).doc;
    (shared.plugins as Record<string, unknown>).compose = { "error-hooks": "compose up" };
    const undone = withoutHooks(shared);
    assert.deepEqual(undone.doc, {
      features: { hooks: "true" },
      plugins: { compose: { "error-hooks": "compose up" } },
    });
    assert.deepEqual(undone.notes, ["features.hooks stays true: the hooks of compose came since"]);

    // The user turned it off since: theirs.
    const changed = withHooks({}).doc;
    (changed.features as Record<string, string>).hooks = "false";
    assert.deepEqual(withoutHooks(changed).doc, { features: { hooks: "false" } });
  });

  it("the user's own entries in plugins.leak stay, through install and uninstall", () => {
    const mine: ConfigDocument = { plugins: { leak: { hooks: "start,rm", note: "mine" } } };
    const on = withHooks(mine);
    assert.deepEqual((on.doc.plugins as Record<string, Record<string, string>>).leak, {
      hooks: "start,rm,container rm,volume rm",
      note: "mine",
      [FEATURES_BEFORE_KEY]: "",
      [HOOKED_BEFORE_KEY]: "leak",
    });
    assert.deepEqual(mine, { plugins: { leak: { hooks: "start,rm", note: "mine" } } }, "input untouched");
    assert.deepEqual(withoutHooks(on.doc).doc, { plugins: { leak: { hooks: "start", note: "mine" } } });
    // A second install after a first does not take its own "true" for the value before.
    const twice = withHooks(withHooks({}).doc);
    assert.deepEqual(twice.changes, []);
    assert.deepEqual(withoutHooks(twice.doc).doc, {});
  });

  it("a malformed config.json is a clear error and nothing changes: not the file, not the plugin directory", async () => {
    for (const [text, what] of [
      ['{"auths": {}', /not valid JSON/],
      ["[]", /not a JSON object/],
      ['"x"', /not a JSON object/],
      ['{"features": ["hooks"]}', /features is not an object/],
      ['{"features": {"hooks": true}}', /features\.hooks is not a string/],
      ['{"plugins": {"leak": "rm"}}', /plugins\.leak is not an object/],
      ['{"plugins": []}', /plugins is not an object/],
    ] as const) {
      const dir = configDir(text);
      const r = await install(dir);
      assert.equal(r.code, 1, text);
      assert.match(r.stderr, what);
      assert.match(r.stderr, new RegExp(`^docker leak: ${dir}/config\\.json: .*; leaving it as it is\\n`));
      assert.equal(r.stdout, "");
      assert.equal(read(dir), text);
      assert.ok(!existsSync(join(dir, "cli-plugins")), "the plugin is not installed either");
      const u = await run(["uninstall", "--hooks"], dir);
      assert.equal(u.code, 1);
      assert.equal(read(dir), text);
      assert.throws(() => planHooks(dir, true), LeakError);
    }
  });

  it("plain uninstall with a malformed config.json still removes the plugin, and says why hooks were not checked", async () => {
    const dir = configDir();
    assert.equal((await run(["install"], dir)).code, 0);
    writeFileSync(join(dir, "config.json"), "{oops");
    const r = await run(["uninstall"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^docker leak: warning: hooks not checked: .*not valid JSON/);
    assert.ok(!existsSync(join(dir, "cli-plugins", "docker-leak")));
    assert.equal(read(dir), "{oops");
  });

  it("an empty file is an empty configuration (as the CLI reads it)", () => {
    assert.deepEqual(parseConfig("", "x"), {});
    assert.deepEqual(parseConfig(" \n", "x"), {});
  });

  it("a linked config.json: the link stays, its target is edited", async () => {
    const target = configDir("{}");
    const dir = configDir();
    mkdirSync(dir);
    symlinkSync(join(target, "config.json"), join(dir, "config.json"));
    assert.equal((await install(dir)).code, 0);
    assert.ok(readFileSync(join(target, "config.json"), "utf8").includes('"hooks": "true"'));
    assert.ok(
      statSync(join(dir, "config.json")).isFile() &&
        readFileSync(join(dir, "config.json"), "utf8") === readFileSync(join(target, "config.json"), "utf8"),
    );
  });

  it("the environment's DOCKER_CLI_HOOKS, which wins over features.hooks, is named when it turns hooks off", async () => {
    assert.equal(environmentOverride({}), undefined);
    assert.equal(environmentOverride({ DOCKER_CLI_HOOKS: "true" }), undefined);
    assert.equal(environmentOverride({ DOCKER_CLI_HOOKS: "1", DOCKER_CLI_HINTS: "false" }), undefined);
    assert.equal(
      environmentOverride({ DOCKER_CLI_HINTS: "0" }),
      "DOCKER_CLI_HINTS=0 in the environment turns hooks off",
    );
    assert.equal(
      environmentOverride({ DOCKER_CLI_HOOKS: "no\u001b" }),
      "DOCKER_CLI_HOOKS=no\\x1b in the environment turns hooks off",
    );
    const r = await run(["install", "--hooks"], configDir(), { DOCKER_CLI_HOOKS: "false" });
    assert.equal(r.code, 0);
    assert.equal(
      r.stderr,
      "docker leak: warning: DOCKER_CLI_HOOKS=false in the environment turns hooks off\n",
    );
  });
});
