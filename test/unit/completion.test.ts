/**
 * Shell completion (src/cli/completion.ts, completion-run.ts): cobra's `__complete` answers for
 * subcommands, flags, flag values and names, from the same command tree as help.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  type CompletionRequest,
  type ContainerEntry,
  formatAnswer,
  namesAnswer,
  parentRequest,
  parseRequest,
} from "../../src/cli/completion.js";
import { answerCompletion, type CompletionIO, type DaemonNames } from "../../src/cli/completion-run.js";
import { completionSpecOfCli } from "../../src/cli/main.js";
import { SUBCOMMANDS } from "../support/commands.js";
import { runMain } from "../support/run-main.js";

const spec = completionSpecOfCli();
const ID_WEB = "a".repeat(64);
const ID_DB = "b".repeat(64);
const containers: ContainerEntry[] = [
  { id: ID_WEB, names: ["/web"], state: "exited" },
  { id: ID_DB, names: ["/db", "/web/db-link"], state: "running" },
  { id: "c".repeat(64), names: ["/dead1"], state: "dead" },
  {
    id: "d".repeat(64),
    names: ["/bad\tname", "/bad\nname", "/x", "/-dash", "/\u001b[31mred"],
    state: "created",
  },
];
const volumes = ["data", "cache", "evil\nvol", "a", "v\u0000l"];

/** The protocol text for a plugin argv, with the fake daemon above. */
async function complete(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; parent?: string[]; daemon?: DaemonNames | "hang" | "fail" } = {},
): Promise<{ text: string; handled: boolean; asked: { globals: unknown; raw: string[] }[] }> {
  let text = "";
  const asked: { globals: unknown; raw: string[] }[] = [];
  const daemon = opts.daemon ?? {
    containers: async () => containers,
    volumes: async () => volumes,
  };
  const io: CompletionIO = {
    env: opts.env ?? {},
    stdout: { write: (t: string) => (text += t) },
    parentArgv: () => opts.parent ?? null,
    spec: async () => spec,
    names: async (globals, raw) => {
      asked.push({ globals, raw });
      if (daemon === "hang") return new Promise(() => {});
      if (daemon === "fail") throw new Error("connect ECONNREFUSED /var/run/docker.sock");
      return daemon;
    },
    timeoutMs: 50,
  };
  const handled = await answerCompletion(argv, io);
  return { text, handled, asked };
}

const lines = (text: string) => text.trimEnd().split("\n");
const values = (text: string) => lines(text).map((l) => l.split("\t")[0]);

describe("parseRequest", () => {
  it("reads docker 26+'s and the legacy script's shapes", () => {
    assert.deepEqual(parseRequest(["__complete", "leak", "rm", "-f", "w"]), {
      descriptions: true,
      words: ["rm", "-f"],
      toComplete: "w",
    } satisfies CompletionRequest);
    assert.deepEqual(parseRequest(["__completeNoDesc", "volume", "rm", ""]), {
      descriptions: false,
      words: ["volume", "rm"],
      toComplete: "",
    });
    assert.deepEqual(parseRequest(["__complete", "leak"]), {
      descriptions: true,
      words: [],
      toComplete: "leak",
    });
    assert.equal(parseRequest(["scan", "__complete"]), null);
  });
});

describe("subcommands, flags and values (no daemon)", () => {
  it("lists the subcommands with descriptions, and help", async () => {
    const { text, asked } = await complete(["__complete", "leak", ""]);
    assert.deepEqual(values(text), [...SUBCOMMANDS, ":4"]);
    assert.ok(lines(text).includes("scan\tFind leaked mounts of containers and volumes, and who holds them"));
    assert.equal(asked.length, 0);
  });

  it("filters by the prefix, completes groups and `help CMD`", async () => {
    assert.equal(
      (await complete(["__complete", "leak", "v"])).text.replace(/\t.*/g, ""),
      "version\nvolume\n:4\n",
    );
    assert.deepEqual(values((await complete(["__complete", "leak", "volume", ""])).text), ["rm", ":4"]);
    assert.deepEqual(values((await complete(["__complete", "leak", "help", "s"])).text), ["scan", ":4"]);
    assert.deepEqual(values((await complete(["__complete", "leak", "help", "scan", ""])).text), [":4"]);
    assert.deepEqual(values((await complete(["__complete", "leak", "bogus", ""])).text), [":4"]);
  });

  it("lists flags with descriptions, short forms only for `-`, not the ones already given", async () => {
    const scan = await complete(["__complete", "leak", "scan", "--"]);
    assert.deepEqual(values(scan.text), [
      "--format",
      "--quiet",
      "--no-trunc",
      "--deep",
      "--timeout",
      "--progress",
      "--context",
      "--all-contexts",
      "--parallel",
      "--swarm",
      "--node-host",
      "--help",
      ":4",
    ]);
    assert.ok(lines(scan.text).includes("--format\tFormat output using a custom template:"));
    const rm = await complete(["__complete", "leak", "rm", "-f", "--dry-run", "-"]);
    const rmValues = values(rm.text);
    assert.ok(rmValues.includes("-v") && rmValues.includes("--volumes") && rmValues.includes("-h"));
    assert.ok(!rmValues.includes("-f") && !rmValues.includes("--force") && !rmValues.includes("--dry-run"));
    assert.deepEqual(values((await complete(["__complete", "leak", "scan", "--de"])).text), ["--deep", ":4"]);
  });

  it("--context offers the local store's contexts and default, never a name docker would refuse", async (t) => {
    const config = mkdtempSync(join(tmpdir(), "dlt-completion-"));
    t.after(() => rmSync(config, { recursive: true, force: true }));
    for (const name of ["prod-1", "prod-2", "staging", "evil\nname", "default"]) {
      const dir = join(config, "contexts", "meta", createHash("sha256").update(name).digest("hex"));
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, "meta.json"),
        JSON.stringify({ Name: name, Endpoints: { docker: { Host: "unix:///x" } } }),
      );
    }
    const env = { DOCKER_CONFIG: config };
    assert.deepEqual(
      values((await complete(["__complete", "leak", "scan", "--context", ""], { env })).text),
      ["default", "prod-1", "prod-2", "staging", ":4"],
    );
    assert.deepEqual(values((await complete(["__complete", "leak", "scan", "--context=pr"], { env })).text), [
      "prod-1",
      "prod-2",
      ":4",
    ]);
    // A path: the shell's own file completion (directive 0).
    assert.deepEqual(values((await complete(["__complete", "leak", "watch", "--metrics-file", ""])).text), [
      ":0",
    ]);
  });

  it("offers the values of --format and --progress, in both flag forms", async () => {
    assert.deepEqual(values((await complete(["__complete", "leak", "scan", "--format", ""])).text), [
      "table",
      "json",
      ":4",
    ]);
    assert.deepEqual(values((await complete(["__complete", "leak", "version", "-f", "j"])).text), [
      "json",
      ":4",
    ]);
    assert.deepEqual(values((await complete(["__complete", "leak", "rm", "--progress", ""])).text), [
      "auto",
      "plain",
      "tty",
      "quiet",
      ":4",
    ]);
    assert.deepEqual(values((await complete(["__complete", "leak", "scan", "--progress=t"])).text), [
      "tty",
      ":4",
    ]);
    // A value without a fixed set: nothing, and no file names either.
    assert.deepEqual(values((await complete(["__complete", "leak", "scan", "--timeout", ""])).text), [":4"]);
  });

  it("drops descriptions for __completeNoDesc and DOCKER_COMPLETION_DESCRIPTIONS=false", async () => {
    for (const { text } of [
      await complete(["__completeNoDesc", "scan", "--"]),
      await complete(["__complete", "leak", "scan", "--"], {
        env: { DOCKER_COMPLETION_DESCRIPTIONS: "false" },
      }),
      // docker turns `docker __completeNoDesc leak …` into `__complete leak …`; its command line says.
      await complete(["__complete", "leak", "scan", "--"], {
        parent: ["docker", "__completeNoDesc", "leak", "scan", "--"],
      }),
    ]) {
      assert.ok(!text.includes("\t"), text);
      assert.ok(text.includes("--format\n"), text);
    }
  });

  it("is not a completion request when __complete is an argument of a command", async () => {
    assert.equal((await complete(["leak", "scan", "__complete"])).handled, false);
  });
});

describe("names from the daemon", () => {
  it("rm: containers that are not running, by name; with -f all of them", async () => {
    const { text } = await complete(["__complete", "leak", "rm", ""]);
    assert.deepEqual(lines(text), ["web\tcontainer, exited", "dead1\tcontainer, dead", ":4"]);
    assert.deepEqual(values((await complete(["__complete", "leak", "rm", "-f", ""])).text), [
      "web",
      "db",
      "dead1",
      ":4",
    ]);
  });

  it("scan: every container and volume; names already given are not offered again", async () => {
    const { text } = await complete(["__complete", "leak", "scan", "--deep", "web", ""]);
    assert.deepEqual(lines(text), [
      "db\tcontainer, running",
      "dead1\tcontainer, dead",
      "data\tvolume",
      "cache\tvolume",
      ":4",
    ]);
    assert.deepEqual(values((await complete(["__complete", "leak", "volume", "rm", "c"])).text), [
      "cache",
      ":4",
    ]);
  });

  it("offers IDs when the word is the start of one, or with DOCKER_COMPLETION_SHOW_CONTAINER_IDS=yes", async () => {
    assert.deepEqual(values((await complete(["__complete", "leak", "rm", "aaa"])).text), [ID_WEB, ":4"]);
    const all = values(
      (
        await complete(["__complete", "leak", "scan", ""], {
          env: { DOCKER_COMPLETION_SHOW_CONTAINER_IDS: "yes" },
        })
      ).text,
    );
    assert.ok(all.includes(ID_WEB) && all.includes(ID_DB) && all.includes("web"));
  });

  it("drops names Docker would not accept: control characters, tabs, newlines, links", () => {
    const answer = namesAnswer(
      { containers: "all", volumes: true, exclude: [], toComplete: "" },
      containers,
      volumes,
    );
    const text = formatAnswer(answer, true);
    assert.deepEqual(values(text), ["web", "db", "dead1", "data", "cache", ":4"]);
    assert.doesNotMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f]/);
  });

  it("answers the directive alone when the daemon fails or does not answer in time", async () => {
    assert.equal((await complete(["__complete", "leak", "rm", ""], { daemon: "fail" })).text, ":4\n");
    assert.equal((await complete(["__complete", "leak", "rm", ""], { daemon: "hang" })).text, ":4\n");
  });

  it("asks the daemon the docker command line's global flags select", async () => {
    const { asked } = await complete(["__complete", "leak", "rm", ""], {
      parent: ["/usr/bin/docker", "-c", "remote", "__complete", "leak", "rm", ""],
    });
    assert.deepEqual(asked, [{ globals: { context: "remote" }, raw: ["-c", "remote"] }]);
    // Run directly with the flags: those.
    const direct = await complete(["-H", "unix:///x.sock", "__complete", "leak", "scan", ""]);
    assert.deepEqual(direct.asked, [
      { globals: { host: ["unix:///x.sock"] }, raw: ["-H", "unix:///x.sock"] },
    ]);
  });
});

describe("parentRequest", () => {
  it("takes docker's globals before or after __complete, only when the tail is ours", () => {
    assert.deepEqual(
      parentRequest(["docker", "-H", "tcp://h:2375", "__complete", "leak", "rm", ""], ["leak", "rm", ""]),
      {
        globals: ["-H", "tcp://h:2375"],
        descriptions: true,
      },
    );
    assert.deepEqual(parentRequest(["docker", "__completeNoDesc", "--context=x", "leak", ""], ["leak", ""]), {
      globals: ["--context=x"],
      descriptions: false,
    });
    assert.equal(parentRequest(["bash", "__complete", "leak", ""], ["leak", ""]), null);
    assert.equal(parentRequest(["docker", "__complete", "leak", "other", ""], ["leak", "rm", ""]), null);
    assert.equal(parentRequest(["docker", "leak", "rm", ""], ["leak", "rm", ""]), null);
  });
});

describe("through main()", () => {
  it("answers in-process too, without a daemon for subcommands", async () => {
    const r = await runMain(["__complete", "leak", "volume", ""]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^rm\tRemove volumes[^\n]*\n:4\n$/);
    assert.equal(r.stderr, "");
  });

  it("answers only the directive, without a stack trace, when the daemon is unreachable", async () => {
    const r = await runMain(["__complete", "leak", "rm", ""]);
    assert.equal(r.stdout, ":4\n");
    assert.equal(r.stderr, "");
  });
});
