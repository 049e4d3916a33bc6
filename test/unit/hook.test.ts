/**
 * The answer to the docker CLI's hook (src/cli/hook.ts), and the launcher's own answer for the
 * common case (plugin-metadata/docker-leak), run as a script under the shells it must work in.
 * The requests are what docker CLI 28.2.2 passes (captured from a real run against the test
 * daemon); the error messages are moby's (20.10 and 28), quoted from its source.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { failedTarget, HOOKED_COMMANDS, hookAnswer, hookRequestOf, TRIGGERS } from "../../src/cli/hook.js";
import { renderLauncher } from "../../src/cli/install-plugin.js";
import { UNSAFE_TEXT_CLASS } from "../../src/model/names.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const LAUNCHER_TEMPLATE = readFileSync(join(REPO, "plugin-metadata", "docker-leak"), "utf8");
const ID = "7d63588e88f1a8c0b7d3f0f7e1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

/** As docker CLI 28.2.2 marshals HookPluginData (Go's json: field order, HTML escaping). */
function request(RootCmd: string, CommandError: string, Flags: Record<string, string> = {}): string {
  return JSON.stringify({ RootCmd, Flags, CommandError })
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026");
}

const VOLUME_BUSY = (name: string) =>
  `Error response from daemon: remove ${name}: error removing volume path '/var/lib/docker/volumes/${name}/_data': unlinkat /var/lib/docker/volumes/${name}/_data/sub: device or resource busy`;
const CONTAINER_BUSY_28 = (name: string) =>
  `Error response from daemon: cannot remove container "${name}": unable to remove filesystem: unlinkat /var/lib/docker/containers/${ID}/mounts/shm: device or resource busy`;
const CONTAINER_BUSY_20 = `Error response from daemon: container ${ID}: driver "overlay2" failed to remove root filesystem: unlinkat /var/lib/docker/overlay2/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/merged: device or resource busy`;
const CONTAINER_FS_20 = `Error response from daemon: unable to remove filesystem for ${ID}: unlinkat /var/lib/docker/containers/${ID}/mounts/shm: device or resource busy`;
const IN_PROGRESS = (name: string) =>
  `Error response from daemon: removal of container ${name} is already in progress`;

function template(answer: string): string {
  assert.ok(answer.endsWith("\n"));
  const message = JSON.parse(answer);
  assert.equal(message.Type, 0);
  return message.Template;
}

describe("the hook's answer", () => {
  it("a volume that docker volume rm could not remove: its name, from the error", () => {
    const t = template(hookAnswer(request("volume rm", VOLUME_BUSY("data"))));
    assert.equal(
      t,
      "Find what keeps data busy: docker leak scan data\nUnmount that and remove data: docker leak volume rm --force-unmount data",
    );
  });

  it("only the targets that failed, each once, in the order Docker reported them", () => {
    const error = [
      VOLUME_BUSY("logs"),
      "Error response from daemon: get nope: no such volume",
      VOLUME_BUSY("data"),
    ];
    const t = template(hookAnswer(request("volume rm", error.join("\n"))));
    assert.equal(
      t,
      "Find what keeps logs and data busy: docker leak scan logs data\nUnmount that and remove them: docker leak volume rm --force-unmount logs data",
    );
    const three = [VOLUME_BUSY("a1"), VOLUME_BUSY("b2"), VOLUME_BUSY("a1"), VOLUME_BUSY("c3")].join("\n");
    assert.match(
      template(hookAnswer(request("volume rm", three))),
      /keeps a1, b2 and c3 busy: docker leak scan a1 b2 c3\n/,
    );
  });

  it("containers: the name as typed (Docker 25+), the full ID before, and a removal in progress", () => {
    for (const root of ["rm", "container rm"]) {
      assert.match(
        template(hookAnswer(request(root, CONTAINER_BUSY_28("web")))),
        /\nUnmount that and remove web: docker leak rm --force-unmount web$/,
      );
    }
    assert.match(template(hookAnswer(request("rm", CONTAINER_BUSY_28("/web")))), /--force-unmount \/web$/);
    assert.match(template(hookAnswer(request("rm", CONTAINER_BUSY_28("7d6")))), /--force-unmount 7d6$/);
    for (const error of [CONTAINER_BUSY_20, CONTAINER_FS_20]) {
      assert.match(template(hookAnswer(request("rm", error))), new RegExp(`--force-unmount ${ID}$`));
    }
    assert.match(template(hookAnswer(request("rm", IN_PROGRESS("web")))), /--force-unmount web$/);
  });

  it("docker rm's -f and -v carry over; other flags and volume rm's -f do not", () => {
    const busy = CONTAINER_BUSY_28("web");
    const rmWith = (flags: Record<string, string>) =>
      template(hookAnswer(request("rm", busy, flags))).split("\n")[1];
    assert.match(rmWith({ force: "true" })!, /: docker leak rm --force-unmount -f web$/);
    assert.match(rmWith({ force: "true", volumes: "true" })!, /: docker leak rm --force-unmount -f -v web$/);
    assert.match(rmWith({ force: "false", link: "true" })!, /: docker leak rm --force-unmount web$/);
    assert.match(
      template(hookAnswer(request("volume rm", VOLUME_BUSY("data"), { force: "true" }))),
      /: docker leak volume rm --force-unmount data$/,
    );
  });

  it("nothing for a success, an unrelated error, or a command it did not hook", () => {
    assert.equal(hookAnswer(request("rm", "")), "");
    assert.equal(hookAnswer(JSON.stringify({ RootCmd: "rm" })), ""); // docker 29 omits an empty error
    assert.equal(hookAnswer(request("rm", "Error response from daemon: No such container: web")), "");
    assert.equal(
      hookAnswer(request("volume rm", "Error response from daemon: remove data: volume is in use - [0123]")),
      "",
    );
    assert.equal(hookAnswer(request("volume prune", VOLUME_BUSY("data"))), "");
    assert.equal(hookAnswer(request("start", CONTAINER_BUSY_28("web"))), "");
    for (const junk of [undefined, "", "{", "[]", "null", '"rm"', '{"RootCmd":1,"CommandError":"busy"}']) {
      assert.equal(hookAnswer(junk), "", String(junk));
    }
  });

  it("a failure that names nothing usable: how to look, no guessed name", () => {
    for (const [root, error] of [
      ["volume rm", "Error response from daemon: something new: device or resource busy"],
      ["rm", "Error response from daemon: something new: device or resource busy"],
      // A name Docker would not accept is not trusted (it may not even be where the message ends).
      ["volume rm", VOLUME_BUSY("da\u001b]0;x\u0007ta")],
      ["rm", CONTAINER_BUSY_28("we b")],
      ["rm", `Error response from daemon: cannot remove container "a\\x1b[2J": device or resource busy`],
      ["rm", IN_PROGRESS("{{arg . 9}}")],
    ] as const) {
      const t = template(hookAnswer(request(root, error)));
      const what = root === "volume rm" ? "volume rm --force-unmount VOLUME" : "rm --force-unmount CONTAINER";
      assert.equal(
        t,
        `Find what keeps it busy: docker leak scan\nUnmount that and remove it: docker leak ${what}`,
        error,
      );
    }
    // One unusable failure among named ones: still no names (they would not be all).
    assert.match(
      template(
        hookAnswer(request("volume rm", `${VOLUME_BUSY("data")}\nsomething: device or resource busy`)),
      ),
      /VOLUME$/,
    );
  });

  it("whatever the request holds, the answer has no control, bidi or template character", () => {
    const unsafe = new RegExp(`[${UNSAFE_TEXT_CLASS}]|\\{\\{|\\}\\}`);
    const hostile = ["\u001b[2J", "\u202e", "{{arg . 0}}", "a\nb", '"', "\\", "$(id)", "`id`", ";", " "];
    for (const root of Object.keys(HOOKED_COMMANDS)) {
      for (const h of hostile) {
        for (const error of [
          VOLUME_BUSY(`x${h}`),
          CONTAINER_BUSY_28(`x${h}`),
          IN_PROGRESS(`x${h}`),
          `remove ${h}: device or resource busy`,
        ]) {
          const t = template(hookAnswer(request(root, error, { force: "true", [h]: h })));
          assert.doesNotMatch(t.replaceAll("\n", " "), unsafe, JSON.stringify(error));
          assert.doesNotMatch(t, /[$`;\\"']/, JSON.stringify(error));
          assert.equal(t.split("\n").length, 2);
        }
      }
    }
  });

  it("failedTarget reads each message shape", () => {
    assert.equal(failedTarget("volume", VOLUME_BUSY("my-vol.1_x")), "my-vol.1_x");
    assert.equal(
      failedTarget("volume", "remove x: device or resource busy"),
      null,
      "one character: not a volume name",
    );
    assert.equal(failedTarget("container", CONTAINER_BUSY_28("web")), "web");
    assert.equal(failedTarget("container", CONTAINER_BUSY_20), ID);
    assert.equal(failedTarget("container", CONTAINER_FS_20), ID);
    assert.equal(failedTarget("container", `container ${ID.slice(1)}: device or resource busy`), null);
  });
});

describe("which arguments are a hook request", () => {
  it("the CLI's `leak docker-cli-plugin-hooks JSON`, and the bare subcommand", () => {
    assert.deepEqual(hookRequestOf(["leak", "docker-cli-plugin-hooks", "{}"]), { json: "{}" });
    assert.deepEqual(hookRequestOf(["docker-cli-plugin-hooks", "{}"]), { json: "{}" });
    assert.deepEqual(hookRequestOf(["leak", "docker-cli-plugin-hooks"]), { json: undefined });
    assert.equal(hookRequestOf(["leak", "scan", "docker-cli-plugin-hooks"]), undefined);
    assert.equal(hookRequestOf(["scan", "docker-cli-plugin-hooks"]), undefined);
    assert.equal(hookRequestOf(["docker-cli-plugin-metadata"]), undefined);
  });
});

describe("the launcher's answer to the hook", () => {
  let work: string;
  let launcher: string;
  let nodeLog: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), "dlt-unit-hook-"));
    nodeLog = join(work, "node.log");
    // A stand-in for node that records how it was run and answers like the bundle.
    const fakeNode = join(work, "node");
    writeFileSync(
      fakeNode,
      `#!/bin/sh\nprintf '%s\\n' "$@" >>'${nodeLog}'\nprintf '%s\\n' '{"Type":0,"Template":"from node"}'\n`,
    );
    chmodSync(fakeNode, 0o755);
    launcher = join(work, "docker-leak");
    writeFileSync(launcher, renderLauncher(LAUNCHER_TEMPLATE, REPO, fakeNode));
    chmodSync(launcher, 0o755);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /** Each shell's absolute path (the launcher runs with an empty PATH). */
  const shells = ["dash", "bash", "busybox"]
    .map((sh) => spawnSync("sh", ["-c", `command -v ${sh}`], { encoding: "utf8" }).stdout.trim())
    .filter(Boolean);
  const run = (sh: string, json: string) => {
    rmSync(nodeLog, { force: true });
    const argv = [
      ...(sh.endsWith("/busybox") ? ["sh"] : []),
      launcher,
      "leak",
      "docker-cli-plugin-hooks",
      json,
    ];
    const r = spawnSync(sh, argv, { encoding: "utf8", env: { PATH: "/nonexistent" } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, node: existsSync(nodeLog) };
  };

  it("runs under dash, bash and busybox sh", () => {
    assert.ok(
      shells.some((s) => /\/(dash|bash)$/.test(s)),
      `no shell among ${shells}`,
    );
  });

  it("a success or an unrelated error: nothing, without node", () => {
    for (const sh of shells) {
      for (const json of [
        request("rm", ""),
        JSON.stringify({ RootCmd: "rm", Flags: { force: "true" } }),
        request("volume rm", "Error response from daemon: remove data: volume is in use - [0123]"),
        request(
          "rm",
          "Error response from daemon: No such container: web\nError response from daemon: No such container: db",
        ),
        // The words elsewhere than in the error do not count.
        JSON.stringify({ RootCmd: "rm", Flags: { "device or resource busy": "" }, CommandError: "" }),
        "",
        "{",
      ]) {
        const r = run(sh, json);
        assert.deepEqual(r, { code: 0, stdout: "", stderr: "", node: false }, `${sh}: ${json}`);
      }
    }
  });

  it("an error docker leak can cure: handed to node, the request unchanged", () => {
    for (const sh of shells) {
      for (const json of [
        request("volume rm", VOLUME_BUSY("data")),
        request("rm", `Error response from daemon: No such container: a\n${CONTAINER_BUSY_28("web")}`),
        request("rm", IN_PROGRESS("web")),
      ]) {
        const r = run(sh, json);
        assert.equal(r.code, 0, `${sh}: ${r.stderr}`);
        assert.equal(r.stdout, '{"Type":0,"Template":"from node"}\n');
        assert.deepEqual(readFileSync(nodeLog, "utf8").split("\n").slice(0, -1), [
          join(REPO, "dist", "docker-leak.cjs"),
          "leak",
          "docker-cli-plugin-hooks",
          json,
        ]);
      }
    }
  });

  it("its patterns are the module's TRIGGERS", () => {
    const patterns =
      /case \$\{3#\*'"CommandError":"'\} in\n(?:.*\n)*?\s*(\*'.*'\*(?: \| \*'.*'\*)*)\) ;;/.exec(
        LAUNCHER_TEMPLATE,
      )?.[1];
    assert.ok(patterns, "the launcher's hook case");
    assert.deepEqual(
      patterns.split(" | ").map((p) => p.slice(2, -2)),
      [...TRIGGERS],
    );
  });

  it("forks nothing for the common case (strace)", {
    skip: spawnSync("strace", ["-V"]).status !== 0 && "no strace",
  }, () => {
    const log = join(work, "strace.log");
    for (const sh of shells.filter((s) => !s.endsWith("/busybox"))) {
      const r = spawnSync(
        "strace",
        [
          "-f",
          "-qq",
          "-e",
          "trace=execve,clone,clone3,fork,vfork",
          "-o",
          log,
          sh,
          launcher,
          "leak",
          "docker-cli-plugin-hooks",
          request("rm", ""),
        ],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 0, r.stderr);
      const calls = readFileSync(log, "utf8").trim().split("\n");
      assert.equal(calls.length, 1, `${sh}: ${calls.join("\n")}`);
      assert.match(calls[0]!, /execve\(/);
    }
  });

  it("docker-cli-plugin-metadata is answered as before", () => {
    const r = spawnSync(launcher, ["docker-cli-plugin-metadata"], { encoding: "utf8" });
    assert.equal(r.status, 0);
    assert.equal(JSON.parse(r.stdout).SchemaVersion, "0.1.0");
  });
});
