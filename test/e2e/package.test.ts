/**
 * The two release forms, installed the way a user installs them and driven through the real
 * docker CLI with a temporary DOCKER_CONFIG against the private daemon:
 *   - the npm tarball, installed with `npm install -g --prefix`, then `docker-leak install`;
 *   - the single executable (built here from the current bundle), run with no node on PATH.
 * Needs the bundle and helpers built (scripts/test.sh builds them first).
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  dockerOk,
  PRIVATE_HOST,
  PRIVATE_ROOT,
  REPO_ROOT,
  requireDaemon,
  Scope,
  TEST_IMAGE,
  uniqueName,
} from "../support/daemon.js";

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
const metadata = JSON.parse(readFileSync(join(REPO_ROOT, "plugin-metadata", "metadata.json"), "utf8"));
const HELPERS = ["amd64", "arm64"].map((a) =>
  join(REPO_ROOT, "build", "helper", `docker-leak-helper-linux-${a}`),
);
const listed = new RegExp(`^\\s+leak\\*?\\s+${metadata.ShortDescription}\\s*$`, "m");

let work: string;
let tarball: string;
let packedFiles: string[];
let prefix: string;
let sea: string;
let seaSeconds: number;
/** A PATH with docker and nothing else: no node. */
let nodelessPath: string;
/** A container of our own to scan: the shared test daemon may hold thousands of others. */
let target: string;
const scope = new Scope();

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The real docker CLI with its own config dir (and so its own cli-plugins). */
function cli(config: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync("docker", args, {
    encoding: "utf8",
    env: {
      ...process.env,
      DOCKER_HOST: PRIVATE_HOST,
      DOCKER_CONTEXT: undefined,
      DOCKER_CONFIG: config,
      NO_COLOR: "1",
      ...env,
    },
    timeout: 300_000,
    // JSON reports of a busy daemon run to megabytes.
    maxBuffer: 256 * 2 ** 20,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** A scan of the target (a created container: nothing of it is mounted anywhere) that ran. */
function assertScanned(r: { code: number; stdout: string; stderr: string }) {
  assert.equal(r.code, 0, `docker leak scan exited ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout);
  assert.equal(report.schemaVersion, 1, r.stdout);
  assert.deepEqual(report.findings, []);
  assert.ok(report.stats.processes > 0 && report.stats.namespaces > 0, "the helper scanned the host");
}

describe("release forms", () => {
  before(async () => {
    requireDaemon();
    target = scope.container(uniqueName("pkg"));
    dockerOk(["create", "--name", target, TEST_IMAGE, "true"]);
    for (const f of [
      join(REPO_ROOT, "dist", "docker-leak.cjs"),
      join(REPO_ROOT, "dist", "docker-leak-main.cjs"),
      ...HELPERS,
    ]) {
      if (!existsSync(f))
        throw new Error(`${f} is missing: run scripts/build-helper.sh && node scripts/build.mjs`);
    }
    work = mkdtempSync(join(tmpdir(), "dlt-package-"));
    // Pack what is built (prepack would rebuild it).
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], {
        cwd: REPO_ROOT,
        encoding: "utf8",
      }),
    )[0];
    tarball = join(work, packed.filename);
    packedFiles = packed.files.map((f: { path: string }) => f.path);
    prefix = join(work, "prefix");
    sea = join(work, "docker-leak-sea");

    const started = Date.now();
    await Promise.all([
      run(
        "npm",
        [
          "install",
          "-g",
          "--prefix",
          prefix,
          "--ignore-scripts",
          "--no-audit",
          "--no-fund",
          "--prefer-offline",
          tarball,
        ],
        { cwd: work },
      ),
      run(process.execPath, [join(REPO_ROOT, "scripts", "build-sea.mjs"), "--out", sea]).then(() => {
        seaSeconds = (Date.now() - started) / 1000;
      }),
    ]);

    const bin = join(work, "bin");
    mkdirSync(bin);
    const dockerPath = execFileSync("sh", ["-c", "command -v docker"], { encoding: "utf8" }).trim();
    symlinkSync(realpathSync(dockerPath), join(bin, "docker"));
    nodelessPath = bin;
  });
  after(() => {
    scope.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe("the npm package", () => {
    let config: string;
    before(() => {
      config = join(work, "npm-config");
    });

    it("holds the bundle, the launcher, plugin-metadata and both helpers, and nothing from tests", () => {
      for (const f of [
        "dist/docker-leak.cjs",
        "dist/docker-leak-main.cjs",
        "plugin-metadata/docker-leak",
        "plugin-metadata/metadata.json",
        "build/helper/docker-leak-helper-linux-amd64",
        "build/helper/docker-leak-helper-linux-arm64",
        "package.json",
      ]) {
        assert.ok(packedFiles.includes(f), `${f} is not in the tarball: ${packedFiles.join(" ")}`);
      }
      const stray = packedFiles.filter((f) => /^(test|src|scripts|\.ci)\/|\.test\.|fixtures/.test(f));
      assert.deepEqual(stray, []);
      const tar = execFileSync("tar", ["tzvf", tarball], { encoding: "utf8" });
      assert.match(tar, /^-rwx.* package\/plugin-metadata\/docker-leak$/m);
      assert.match(tar, /^-rwx.* package\/build\/helper\/docker-leak-helper-linux-amd64$/m);
    });

    it("installs with no side effects and puts docker-leak on the prefix's PATH", () => {
      assert.ok(lstatSync(join(prefix, "bin", "docker-leak")).isSymbolicLink());
      assert.equal(existsSync(config), false);
      const installed = JSON.parse(
        readFileSync(join(prefix, "lib", "node_modules", "docker-leak", "package.json"), "utf8"),
      );
      for (const hook of ["preinstall", "install", "postinstall"])
        assert.equal(installed.scripts?.[hook], undefined);
      // Through npm's bin link, the unsubstituted launcher finds its package.
      const meta = JSON.parse(
        execFileSync(join(prefix, "bin", "docker-leak"), ["docker-cli-plugin-metadata"], {
          encoding: "utf8",
        }),
      );
      assert.equal(meta.Version, pkg.version);
    });

    it("docker-leak install writes the launcher into DOCKER_CONFIG/cli-plugins, idempotently", () => {
      const env = { ...process.env, DOCKER_CONFIG: config };
      const first = execFileSync(join(prefix, "bin", "docker-leak"), ["install"], { encoding: "utf8", env });
      const plugin = join(config, "cli-plugins", "docker-leak");
      assert.equal(first, `installed docker leak ${pkg.version} (launcher) at ${plugin}\n`);
      const text = readFileSync(plugin, "utf8");
      const root = realpathSync(join(prefix, "lib", "node_modules", "docker-leak"));
      assert.ok(text.includes(`DOCKER_LEAK_ROOT='${root}'`), text);
      // The node that ran the install, pinned: the CLI's plugin runs do not depend on PATH.
      const node = /^DOCKER_LEAK_NODE='(\/[^']+)'$/m.exec(text)?.[1];
      assert.ok(node && existsSync(node), text);
      assert.ok(lstatSync(plugin).isFile());
      assert.equal(statSync(plugin).mode & 0o777, 0o755);

      const again = execFileSync(join(prefix, "bin", "docker-leak"), ["install"], { encoding: "utf8", env });
      assert.equal(again, `docker leak ${pkg.version} is already installed at ${plugin}\n`);
      assert.equal(readFileSync(plugin, "utf8"), text);
    });

    it("refuses to overwrite a different plugin without --force", () => {
      const other = join(work, "other-config");
      mkdirSync(join(other, "cli-plugins"), { recursive: true });
      const foreign = join(other, "cli-plugins", "docker-leak");
      writeFileSync(foreign, "#!/bin/sh\necho not ours\n", { mode: 0o755 });
      const env = { ...process.env, DOCKER_CONFIG: other };
      const refused = spawnSync(join(prefix, "bin", "docker-leak"), ["install"], { encoding: "utf8", env });
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /is not docker leak; leaving it\nUse --force/);
      assert.equal(readFileSync(foreign, "utf8"), "#!/bin/sh\necho not ours\n");
      const forced = spawnSync(join(prefix, "bin", "docker-leak"), ["install", "--force"], {
        encoding: "utf8",
        env,
      });
      assert.equal(forced.status, 0, forced.stderr);
      assert.match(forced.stdout, /^replaced docker leak/);
    });

    it("docker --help lists the plugin with its description", () => {
      const r = cli(config, ["--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, listed);
    });

    it("docker leak version works against the private daemon", () => {
      const r = cli(config, ["leak", "version"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^docker leak version ${pkg.version}\\n`));
      assert.match(r.stdout, new RegExp(`Root dir:\\s+${PRIVATE_ROOT}`));
    });

    it("docker leak scan --format json runs against the private daemon", () => {
      assertScanned(cli(config, ["leak", "scan", "--format", "json", target]));
    });

    it("docker-leak uninstall removes it, and again is fine", () => {
      const env = { ...process.env, DOCKER_CONFIG: config };
      const plugin = join(config, "cli-plugins", "docker-leak");
      assert.equal(
        execFileSync(join(prefix, "bin", "docker-leak"), ["uninstall"], { encoding: "utf8", env }),
        `removed ${plugin}\n`,
      );
      assert.equal(existsSync(plugin), false);
      assert.doesNotMatch(cli(config, ["--help"]).stdout, listed);
      assert.match(
        execFileSync(join(prefix, "bin", "docker-leak"), ["uninstall"], { encoding: "utf8", env }),
        /is not installed/,
      );
    });
  });

  describe("the single executable (linux/amd64)", () => {
    let config: string;
    let cache: string;
    /** docker with no node on PATH, helpers cached in our temp dir. */
    const nodeless = (args: string[]) => cli(config, args, { PATH: nodelessPath, XDG_CACHE_HOME: cache });

    before(() => {
      config = join(work, "sea-config");
      cache = join(work, "cache");
    });

    it("is built from the bundle with the helpers inside", (t) => {
      t.diagnostic(
        `SEA built in ${seaSeconds.toFixed(1)} s, ${(statSync(sea).size / 2 ** 20).toFixed(1)} MiB`,
      );
      const which = spawnSync("/bin/sh", ["-c", "command -v node"], {
        encoding: "utf8",
        env: { PATH: nodelessPath },
      });
      assert.notEqual(which.status, 0, `node is on ${nodelessPath}: ${which.stdout}`);
      const meta = JSON.parse(
        execFileSync(sea, ["docker-cli-plugin-metadata"], { encoding: "utf8", env: { PATH: nodelessPath } }),
      );
      assert.deepEqual(meta, metadata);
    });

    it("installs itself into DOCKER_CONFIG/cli-plugins, idempotently", () => {
      const env = { PATH: nodelessPath, DOCKER_CONFIG: config, XDG_CACHE_HOME: cache };
      const plugin = join(config, "cli-plugins", "docker-leak");
      assert.equal(
        execFileSync(sea, ["install"], { encoding: "utf8", env }),
        `installed docker leak ${pkg.version} (executable) at ${plugin}\n`,
      );
      assert.equal(sha256(plugin), sha256(sea));
      assert.match(execFileSync(sea, ["install"], { encoding: "utf8", env }), /is already installed/);
    });

    it("docker --help lists the plugin with its description, with no node on PATH", () => {
      const r = nodeless(["--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, listed);
    });

    it("docker leak version reports the one version, with no node on PATH", () => {
      const r = nodeless(["leak", "version", "--format", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const v = JSON.parse(r.stdout);
      assert.equal(v.plugin.version, pkg.version);
      assert.equal(v.server.rootDir, PRIVATE_ROOT);
      // The helpers came out of the executable byte for byte.
      const [dir] = readdirSync(join(cache, "docker-leak"));
      for (const h of HELPERS) {
        assert.equal(sha256(join(cache, "docker-leak", dir!, h.slice(h.lastIndexOf("/") + 1))), sha256(h));
      }
    });

    it("docker leak scan --format json runs with no node on PATH", () => {
      assertScanned(nodeless(["leak", "scan", "--format", "json", target]));
      // The helper image it used is labelled with the same version and the binary's digest.
      const labels = JSON.parse(
        execFileSync(
          "docker",
          ["image", "inspect", "--format", "{{json .Config.Labels}}", `docker-leak-helper:${pkg.version}`],
          {
            encoding: "utf8",
            env: { ...process.env, DOCKER_HOST: PRIVATE_HOST },
          },
        ),
      );
      assert.equal(labels["io.docker-leak.helper.image"], pkg.version);
      assert.equal(labels["io.docker-leak.helper.sha256"], sha256(HELPERS[0]!));
    });
  });
});
