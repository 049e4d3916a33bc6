#!/usr/bin/env node
// Builds the single executable (Node SEA) of docker leak for linux/amd64: the whole plugin in one
// bundle (scripts/build.mjs --single) with a V8 code cache, and the static helpers (build/helper/)
// as assets.
// Run scripts/build-helper.sh first (scripts/package.sh does all of it).
//
//   node scripts/build-sea.mjs [--out FILE] [--node NODE_BINARY] [--no-strip]
//
// The executable is a copy of NODE_BINARY (default: the node running this script, which must be
// the same version that made the code cache) with the blob injected by postject. Only linux/amd64
// is built here: a SEA is made from a node binary of the target platform, and its code cache
// from that same binary, so arm64 and macOS clients need a node of that platform.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
// Keep in step with src/cli/sea.ts (HELPER_MANIFEST_ASSET).
const MANIFEST_ASSET = "helpers.json";
const ARCHS = ["amd64", "arm64"];

function die(message) {
  console.error(`build-sea: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
let out = join(root, "dist", `docker-leak-${pkg.version}-linux-amd64`);
let node = process.execPath;
let strip = true;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--out") out = resolve(args[++i] ?? die("--out needs a file"));
  else if (a === "--node") node = resolve(args[++i] ?? die("--node needs a node binary"));
  else if (a === "--no-strip") strip = false;
  else if (a === "-h" || a === "--help") {
    console.error(
      readFileSync(fileURLToPath(import.meta.url), "utf8")
        .split("\n")
        .slice(1, 11)
        .join("\n"),
    );
    process.exit(0);
  } else die(`unknown argument ${a}`);
}

if (process.platform !== "linux" || process.arch !== "x64") {
  die(`only linux/amd64 single executables are built here (this is ${process.platform}/${process.arch})`);
}
const nodeVersion = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
const [major, minor] = nodeVersion.slice(1).split(".").map(Number);
if (major < 20 || (major === 20 && minor < 12))
  die(`${node} is ${nodeVersion}; SEA assets need Node >= 20.12`);
if (!readFileSync(node).includes(SENTINEL_FUSE)) die(`${node} was built without single executable support`);

const helpers = ARCHS.map((arch) => join(root, "build", "helper", `docker-leak-helper-linux-${arch}`));
for (const h of helpers) if (!existsSync(h)) die(`${h} is missing; run scripts/build-helper.sh`);

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), "docker-leak-sea-"));
try {
  const files = {};
  const assets = {};
  for (const h of helpers) {
    const name = h.slice(h.lastIndexOf("/") + 1);
    files[name] = createHash("sha256").update(readFileSync(h)).digest("hex");
    assets[name] = h;
  }
  writeFileSync(join(work, MANIFEST_ASSET), JSON.stringify({ files }));
  assets[MANIFEST_ASSET] = join(work, MANIFEST_ASSET);
  // A SEA runs one script: the plugin as one bundle, not the launcher's entry + main split. Built
  // after the helpers were hashed: the bundle's built-in digests must be the assets' digests.
  const bundle = join(work, "docker-leak.cjs");
  execFileSync(
    process.execPath,
    [join(root, "scripts", "build.mjs"), "--single", bundle, "--require-helpers"],
    {
      stdio: "pipe",
    },
  );
  const bundled = readFileSync(bundle, "utf8");
  for (const [name, sha256] of Object.entries(files)) {
    if (!bundled.includes(sha256)) die(`${name} changed while the executable was being built; build again`);
  }
  const blob = join(work, "sea.blob");
  writeFileSync(
    join(work, "sea-config.json"),
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      assets,
    }),
  );
  // The code cache is made by, and only valid for, this very node binary.
  execFileSync(node, ["--experimental-sea-config", join(work, "sea-config.json")], { stdio: "pipe" });

  const exe = join(work, "docker-leak");
  copyFileSync(node, exe);
  chmodSync(exe, 0o755);
  // Debug symbols are a seventh of node's size; strip them before the blob goes in.
  if (strip) {
    try {
      execFileSync("strip", [exe], { stdio: "pipe" });
    } catch (err) {
      console.error(`build-sea: strip failed (${err.message.split("\n")[0]}); keeping symbols`);
    }
  }
  const postject = join(root, "node_modules", "postject", "dist", "cli.js");
  if (!existsSync(postject)) die("postject is missing; run npm ci");
  // postject's ELF library warns about unnamed note sections of node; only a failure matters.
  execFileSync(node, [postject, exe, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SENTINEL_FUSE], {
    stdio: "pipe",
  });

  const meta = JSON.parse(execFileSync(exe, ["docker-cli-plugin-metadata"], { encoding: "utf8" }));
  if (meta.Version !== pkg.version) die(`the executable reports version ${meta.Version}, not ${pkg.version}`);

  mkdirSync(dirname(out), { recursive: true });
  // Copied then renamed: the work dir may be on another filesystem, and `out` is never half written.
  copyFileSync(exe, `${out}.partial`);
  chmodSync(`${out}.partial`, 0o755);
  renameSync(`${out}.partial`, out);
  const mib = (statSync(out).size / 1024 / 1024).toFixed(1);
  console.error(
    `built ${out} (${mib} MiB, node ${nodeVersion}, docker leak ${pkg.version}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
