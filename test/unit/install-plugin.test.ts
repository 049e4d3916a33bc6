import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  installPlugin,
  PLUGIN_MARKER,
  packageRoot,
  payloadFor,
  pluginDir,
  renderLauncher,
  SYSTEM_PLUGIN_DIR,
  uninstallPlugin,
} from "../../src/cli/install-plugin.js";
import { type AssetSource, cacheRoots, extractHelpers, HELPER_MANIFEST_ASSET } from "../../src/cli/sea.js";
import { LeakError } from "../../src/errors.js";
import { PLUGIN_METADATA, PLUGIN_VERSION } from "../../src/version.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TEMPLATE = readFileSync(join(REPO, "plugin-metadata", "docker-leak"), "utf8");

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "dlt-unit-install-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function freshDir(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const launcher = (root: string) => ({
  kind: "launcher" as const,
  text: renderLauncher(TEMPLATE, root, "/usr/bin/node"),
});

describe("one version", () => {
  it("package.json, metadata.json and the plugin agree", () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    const metadata = JSON.parse(readFileSync(join(REPO, "plugin-metadata", "metadata.json"), "utf8"));
    assert.equal(metadata.Version, pkg.version);
    assert.equal(PLUGIN_VERSION, pkg.version);
    assert.equal(PLUGIN_METADATA.Version, pkg.version);
  });

  it("the package ships the bundle, launcher, metadata and helpers, and has no install scripts", () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    assert.equal(pkg.bin["docker-leak"], "plugin-metadata/docker-leak");
    for (const f of [
      "dist/docker-leak.cjs",
      "dist/docker-leak-main.cjs",
      "plugin-metadata/",
      "build/helper/docker-leak-helper-linux-amd64",
    ])
      assert.ok(pkg.files.includes(f), f);
    for (const hook of ["preinstall", "install", "postinstall", "prepare"])
      assert.equal(pkg.scripts[hook], undefined);
  });
});

describe("pluginDir", () => {
  it("is <config>/cli-plugins, or the system directory with --system", () => {
    assert.equal(pluginDir({ system: false, configDir: "/home/u/.docker" }), "/home/u/.docker/cli-plugins");
    assert.equal(pluginDir({ system: true, configDir: "/home/u/.docker" }), SYSTEM_PLUGIN_DIR);
  });
});

describe("packageRoot", () => {
  it("finds the directory holding plugin-metadata/docker-leak above the bundle", () => {
    const exists = (p: string) => p === "/opt/pkg/plugin-metadata/docker-leak";
    assert.equal(packageRoot("/opt/pkg/dist/docker-leak.cjs", exists), "/opt/pkg");
    assert.equal(packageRoot("/opt/pkg/src/cli/bin.ts", exists), "/opt/pkg");
    assert.throws(() => packageRoot("/elsewhere/dist/x.cjs", exists), LeakError);
  });
});

describe("renderLauncher", () => {
  it("writes the root and node into the launcher, which then uses them", () => {
    const root = freshDir("it's a root");
    mkdirSync(join(root, "plugin-metadata"));
    writeFileSync(join(root, "plugin-metadata", "metadata.json"), '{"Version":"9.9.9"}\n');
    const node = join(root, "node's");
    writeFileSync(node, '#!/bin/sh\necho "ran $*"\n', { mode: 0o755 });
    const text = renderLauncher(TEMPLATE, root, node);
    assert.doesNotMatch(text, /@DOCKER_LEAK_(ROOT|NODE)@/);
    assert.ok(text.includes(PLUGIN_MARKER));
    const file = join(tmp, "launcher");
    writeFileSync(file, text, { mode: 0o755 });
    assert.equal(
      execFileSync(file, ["docker-cli-plugin-metadata"], { encoding: "utf8" }),
      '{"Version":"9.9.9"}\n',
    );
    assert.equal(
      execFileSync(file, ["scan", "-q"], { encoding: "utf8" }),
      `ran ${root}/dist/docker-leak.cjs scan -q\n`,
    );
  });

  it("refuses a template that is not docker leak's launcher", () => {
    assert.throws(() => renderLauncher("#!/bin/sh\necho hi\n", "/r", "/n"), LeakError);
  });
});

describe("installPlugin", () => {
  it("installs, then changes nothing when run again", () => {
    const dir = join(tmp, "a", "cli-plugins");
    const first = installPlugin({ dir, payload: launcher("/opt/pkg"), force: false });
    assert.deepEqual(first, { path: join(dir, "docker-leak"), action: "installed" });
    assert.equal(statSync(first.path).mode & 0o777, 0o755);
    const before = statSync(first.path);
    const second = installPlugin({ dir, payload: launcher("/opt/pkg"), force: false });
    assert.equal(second.action, "unchanged");
    assert.equal(statSync(first.path).ino, before.ino);
  });

  it("updates an older docker leak in place", () => {
    const dir = freshDir("b");
    installPlugin({ dir, payload: launcher("/opt/old"), force: false });
    const r = installPlugin({ dir, payload: launcher("/opt/new"), force: false });
    assert.equal(r.action, "updated");
    assert.match(readFileSync(r.path, "utf8"), /DOCKER_LEAK_ROOT='\/opt\/new'/);
  });

  it("restores the mode of an identical file the CLI could not execute", () => {
    const dir = freshDir("mode");
    const { path } = installPlugin({ dir, payload: launcher("/opt/pkg"), force: false });
    chmodSync(path, 0o644);
    assert.equal(installPlugin({ dir, payload: launcher("/opt/pkg"), force: false }).action, "unchanged");
    assert.equal(statSync(path).mode & 0o777, 0o755);
  });

  it("leaves another plugin of the same name alone unless forced", () => {
    const dir = freshDir("c");
    const path = join(dir, "docker-leak");
    writeFileSync(path, "#!/bin/sh\necho someone else\n", { mode: 0o755 });
    assert.throws(
      () => installPlugin({ dir, payload: launcher("/opt/pkg"), force: false }),
      (err: unknown) =>
        err instanceof LeakError && /not docker leak/.test(err.message) && /--force/.test(err.hint ?? ""),
    );
    assert.equal(readFileSync(path, "utf8"), "#!/bin/sh\necho someone else\n");
    assert.equal(installPlugin({ dir, payload: launcher("/opt/pkg"), force: true }).action, "replaced");
    assert.ok(readFileSync(path, "utf8").includes(PLUGIN_MARKER));
  });

  it("treats a dangling link as someone else's, and replaces the link (not its target) when forced", () => {
    const dir = freshDir("d");
    symlinkSync(join(tmp, "nowhere"), join(dir, "docker-leak"));
    assert.throws(() => installPlugin({ dir, payload: launcher("/opt/pkg"), force: false }), LeakError);
    assert.equal(installPlugin({ dir, payload: launcher("/opt/pkg"), force: true }).action, "replaced");
    assert.ok(statSync(join(dir, "docker-leak")).isFile());
  });

  it("copies an executable payload and recognises the copy as docker leak", () => {
    const dir = freshDir("e");
    const exe = join(tmp, "fake-sea");
    writeFileSync(exe, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from(PLUGIN_MARKER)]));
    const payload = { kind: "executable" as const, source: exe };
    assert.equal(installPlugin({ dir, payload, force: false }).action, "installed");
    assert.deepEqual(readFileSync(join(dir, "docker-leak")), readFileSync(exe));
    assert.equal(installPlugin({ dir, payload, force: false }).action, "unchanged");
    // The launcher may replace the executable, and back: both are docker leak.
    assert.equal(installPlugin({ dir, payload: launcher("/opt/pkg"), force: false }).action, "updated");
    assert.equal(installPlugin({ dir, payload, force: false }).action, "updated");
  });
});

describe("uninstallPlugin", () => {
  it("removes docker leak, and succeeds when nothing is there", () => {
    const dir = freshDir("f");
    installPlugin({ dir, payload: launcher("/opt/pkg"), force: false });
    assert.equal(uninstallPlugin({ dir, force: false }).action, "removed");
    assert.equal(uninstallPlugin({ dir, force: false }).action, "absent");
  });

  it("leaves another plugin alone unless forced", () => {
    const dir = freshDir("g");
    writeFileSync(join(dir, "docker-leak"), "other");
    assert.throws(() => uninstallPlugin({ dir, force: false }), LeakError);
    assert.equal(readFileSync(join(dir, "docker-leak"), "utf8"), "other");
    assert.equal(uninstallPlugin({ dir, force: true }).action, "removed");
  });
});

describe("payloadFor", () => {
  it("renders this checkout's launcher for the bundle, pinned to the given node", () => {
    const p = payloadFor({
      isSea: false,
      execPath: "/usr/bin/node",
      entry: join(REPO, "src", "cli", "bin.ts"),
    });
    assert.equal(p.kind, "launcher");
    assert.ok(p.kind === "launcher" && p.text.includes(`DOCKER_LEAK_ROOT='${REPO}'`));
    assert.ok(p.kind === "launcher" && p.text.includes("DOCKER_LEAK_NODE='/usr/bin/node'"));
  });

  it("copies the executable itself when running as a single executable", () => {
    const exe = join(tmp, "sea-exe");
    writeFileSync(exe, "x");
    assert.deepEqual(payloadFor({ isSea: true, execPath: exe, entry: exe }), {
      kind: "executable",
      source: exe,
    });
  });
});

describe("extractHelpers", () => {
  const amd64 = Buffer.from("\x7fELF amd64 helper");
  const arm64 = Buffer.from("\x7fELF arm64 helper");
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  function assets(files: Record<string, Buffer>, manifest = files): AssetSource & { reads: string[] } {
    const all: Record<string, Buffer> = {
      ...files,
      [HELPER_MANIFEST_ASSET]: Buffer.from(
        JSON.stringify({ files: Object.fromEntries(Object.entries(manifest).map(([k, v]) => [k, sha(v)])) }),
      ),
    };
    const reads: string[] = [];
    return {
      reads,
      getAsset(key) {
        reads.push(key);
        const b = all[key];
        if (!b) throw new Error(`no asset ${key}`);
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
      },
    };
  }
  const files = { "docker-leak-helper-linux-amd64": amd64, "docker-leak-helper-linux-arm64": arm64 };

  it("writes the helpers once into a directory named after their digests", () => {
    const root = join(tmp, "cache1");
    const dir = extractHelpers(assets(files), [root]);
    assert.match(dir, /\/cache1\/helpers-[0-9a-f]{16}$/);
    assert.deepEqual(readFileSync(join(dir, "docker-leak-helper-linux-amd64")), amd64);
    assert.equal(statSync(join(dir, "docker-leak-helper-linux-arm64")).mode & 0o777, 0o755);
    assert.equal(statSync(root).mode & 0o777, 0o700, "a private cache root");
    assert.equal(statSync(dir).mode & 0o777, 0o700, "a private helper directory");
    const ino = statSync(join(dir, "docker-leak-helper-linux-amd64")).ino;
    assert.equal(extractHelpers(assets(files), [root]), dir);
    assert.equal(statSync(join(dir, "docker-leak-helper-linux-amd64")).ino, ino, "not rewritten");
  });

  it("checks each file's SHA-256 on every use: a tampered file of the same size is replaced", () => {
    const root = join(tmp, "cache-tampered");
    const dir = extractHelpers(assets(files), [root]);
    const path = join(dir, "docker-leak-helper-linux-amd64");
    const evil = Buffer.from(amd64);
    evil[evil.length - 1] = (evil[evil.length - 1] ?? 0) ^ 0xff;
    writeFileSync(path, evil);
    assert.equal(statSync(path).size, amd64.length, "same size");
    assert.equal(extractHelpers(assets(files), [root]), dir);
    assert.deepEqual(readFileSync(path), amd64, "the asset's bytes again");
    // A symlink in its place is replaced, not followed.
    const target = join(tmp, "symlink-target");
    writeFileSync(target, amd64);
    rmSync(path);
    symlinkSync(target, path);
    extractHelpers(assets(files), [root]);
    assert.ok(lstatSync(path).isFile(), "a regular file again");
  });

  it("refuses a cache root that is a symlink, and falls back to the next", () => {
    const real = freshDir("real-cache");
    const link = join(tmp, "link-cache");
    symlinkSync(real, link);
    const dir = extractHelpers(assets(files), [link, join(tmp, "cache-after-link")]);
    assert.ok(dir.startsWith(join(tmp, "cache-after-link")), dir);
    assert.deepEqual(readdirSync(real), [], "nothing written through the link");
  });

  it("refuses a helper directory that is a symlink inside a good root", () => {
    const root = join(tmp, "cache-inner-link");
    const first = extractHelpers(assets(files), [root]);
    rmSync(first, { recursive: true });
    const elsewhere = freshDir("inner-elsewhere");
    symlinkSync(elsewhere, first);
    const dir = extractHelpers(assets(files), [root, join(tmp, "cache-after-inner-link")]);
    assert.ok(dir.startsWith(join(tmp, "cache-after-inner-link")), dir);
    assert.deepEqual(readdirSync(elsewhere), []);
  });

  it("refuses a cache root owned by someone else, or writable by others", () => {
    const foreign = freshDir("foreign-cache");
    const open = freshDir("open-cache");
    chmodSync(open, 0o777);
    const uid = process.getuid?.() ?? 0;
    // Owned by another user: as root, really; otherwise by asking for another uid.
    if (uid === 0) chownSync(foreign, 65534, 65534);
    const other = uid === 0 ? 0 : uid + 1;
    const dir = extractHelpers(assets(files), [foreign, join(tmp, "cache-after-foreign")], {
      ...(uid === 0 ? {} : { uid: other }),
    });
    if (uid === 0) assert.ok(dir.startsWith(join(tmp, "cache-after-foreign")), dir);
    else assert.ok(!dir.startsWith(foreign), dir);
    assert.deepEqual(readdirSync(foreign), []);
    const dir2 = extractHelpers(assets(files), [open, join(tmp, "cache-after-open")]);
    assert.ok(dir2.startsWith(join(tmp, "cache-after-open")), dir2);
    assert.deepEqual(readdirSync(open), []);
  });

  it("with no usable root, a fresh private temporary directory each run (not a predictable one)", () => {
    const blocked = join(tmp, "blocked");
    writeFileSync(blocked, "a file where a directory should be");
    const a = extractHelpers(assets(files), [join(blocked, "docker-leak")]);
    const b = extractHelpers(assets(files), []);
    assert.notEqual(a, b);
    for (const dir of [a, b]) {
      assert.ok(dir.startsWith(join(tmpdir(), "docker-leak-helpers-")), dir);
      const st = lstatSync(dir);
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o777, 0o700);
      assert.equal(st.uid, process.getuid?.());
      assert.deepEqual(readFileSync(join(dir, "docker-leak-helper-linux-arm64")), arm64);
      rmSync(dir, { recursive: true }); // else removed at exit
    }
  });

  it("refuses an embedded helper that does not match its digest", () => {
    const bad = assets(files, { ...files, "docker-leak-helper-linux-amd64": Buffer.from("other") });
    assert.throws(() => extractHelpers(bad, [join(tmp, "cache3")]), /does not match/);
  });

  it("caches under $XDG_CACHE_HOME, else ~/.cache; no shared temporary directory", () => {
    assert.deepEqual(cacheRoots({ XDG_CACHE_HOME: "/x" }, "/home/u"), ["/x/docker-leak"]);
    assert.deepEqual(cacheRoots({}, "/home/u"), ["/home/u/.cache/docker-leak"]);
    assert.deepEqual(cacheRoots({}, undefined), []);
  });
});
