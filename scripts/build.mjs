#!/usr/bin/env node
// Bundles the plugin, with the SHA-256 of each helper binary (build/helper/) built in: the plugin
// uses a helper only when it matches. Build the helpers first (scripts/build-helper.sh). Writes
// under dist/ only; fails when plugin-metadata/metadata.json's Version is not package.json's.
//
//   node scripts/build.mjs                  dist/docker-leak.cjs       the launcher's entry: signals,
//                                                                      the metadata answer and the
//                                                                      common `version` (fast-version.ts)
//                                           dist/docker-leak-main.cjs  everything else (src/cli/full.ts),
//                                                                      required by the entry when a
//                                                                      command runs
//   node scripts/build.mjs --single FILE    one file with all of it (the single executable's main)
//   --require-helpers                       fail unless both helpers are there (without it, a bundle
//                                           missing one refuses to run on that architecture)
//
// Two files because reading and compiling the rest of the plugin (0.7 MB) cost the common
// `docker leak version` about 35 ms it does not need; each run still loads at most two scripts.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const metadata = JSON.parse(readFileSync(join(root, "plugin-metadata", "metadata.json"), "utf8"));
if (metadata.Version !== pkg.version) {
  console.error(
    `build: plugin-metadata/metadata.json says Version ${metadata.Version}, package.json ${pkg.version}; make them agree`,
  );
  process.exit(1);
}

// The bundled dependencies' source is changed only by the version-pinned patches in
// scripts/patches/ (patch-package; it skips a patch already applied and fails on a version it was
// not made for). Applied here rather than by an install script, so that the package has none.
// docker-modem formats every request's options for its debug log even when the log is off; its
// patch makes that lazy. The bundle is refused without it, so that an upgrade cannot drop it
// unnoticed.
const patched = spawnSync(
  join(root, "node_modules", ".bin", "patch-package"),
  ["--patch-dir", "scripts/patches"],
  {
    cwd: root,
    encoding: "utf8",
  },
);
const modem = readFileSync(join(root, "node_modules", "docker-modem", "lib", "modem.js"), "utf8");
if (patched.status !== 0 || !modem.includes("if (debug.enabled) debug('Sending: %s'")) {
  console.error(`build: the patches in scripts/patches/ do not apply:\n${patched.stdout}${patched.stderr}`);
  process.exit(1);
}

// dockerode's BuildKit support (its gRPC session, and protobufjs: a quarter of the bundle, ~10 ms
// of every start) and docker-modem's ssh transport are never used: we build no image (the helper
// image is loaded) and reach ssh:// daemons through `docker system dial-stdio`.
const stubs = {
  name: "stub-unused-transports",
  setup(b) {
    b.onResolve({ filter: /^\.\/(session|buildkit)$/ }, (args) =>
      args.importer.includes(join("dockerode", "lib"))
        ? { path: args.path.slice(2), namespace: "stub" }
        : undefined,
    );
    b.onResolve({ filter: /^\.\/ssh$/ }, (args) =>
      args.importer.includes(join("docker-modem", "lib")) ? { path: "ssh", namespace: "stub" } : undefined,
    );
    // debug's optional `require("supports-color")` is not installed: bundle nothing instead of a
    // runtime require, which the single executable (scripts/build-sea.mjs) would warn about.
    b.onResolve({ filter: /^supports-color$/ }, () => ({ path: "supports-color", namespace: "absent" }));
    b.onLoad({ filter: /.*/, namespace: "absent" }, () => ({
      contents: "module.exports = {};",
      loader: "js",
    }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, (args) => ({
      contents: `module.exports = function () { throw new Error("docker leak: ${args.path} transport is not bundled"); };`,
      loader: "js",
    }));
  },
};

const args = process.argv.slice(2);
const single = args[0] === "--single" ? args[1] : undefined;
if (args[0] === "--single" && !single) {
  console.error("build: --single needs an output file");
  process.exit(2);
}

// The helpers' digests, built in (src/docker/helper-image.ts: DOCKER_LEAK_HELPER_DIGESTS).
const helperDigests = {};
for (const arch of ["amd64", "arm64"]) {
  const path = join(root, "build", "helper", `docker-leak-helper-linux-${arch}`);
  if (existsSync(path)) {
    helperDigests[arch] = createHash("sha256").update(readFileSync(path)).digest("hex");
  } else if (args.includes("--require-helpers")) {
    console.error(`build: ${path} is missing; run scripts/build-helper.sh first`);
    process.exit(1);
  } else {
    console.error(`build: no helper for linux/${arch}: this bundle will refuse to run on such daemons`);
  }
}

// The layer each helper makes (binary SHA-256 -> diff_id: DOCKER_LEAK_HELPER_LAYERS), computed by
// the plugin's own makeHelperLayer, so that a run knows its image's ID without packing the layer.
const helperLayers = {};
const present = Object.keys(helperDigests);
if (present.length) {
  const script = `
    import { locateHelperBinary, makeHelperLayer } from ${JSON.stringify(pathToFileURL(join(root, "src", "docker", "helper-image.ts")).href)};
    const out = {};
    for (const arch of ${JSON.stringify(present)}) {
      const binary = locateHelperBinary(${JSON.stringify(join(root, "build", "helper"))}, arch, undefined);
      out[binary.sha256] = (await makeHelperLayer(binary, { version: "build" }, {})).diffId;
    }
    process.stdout.write(JSON.stringify(out));`;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: root,
    encoding: "utf8",
  });
  if (run.status !== 0) {
    console.error(`build: computing the helper layers failed:\n${run.stderr}`);
    process.exit(1);
  }
  Object.assign(helperLayers, JSON.parse(run.stdout));
}

// From the command definitions, in one run of the sources: the command tree for shell completion,
// built into the entry (src/cli/completion-run.ts), so that completing a subcommand or flag loads
// neither clipanion nor the commands; and what help and the argument checks read of the
// definitions (src/cli/main.ts), so that a run does not format every command's usage to find its
// own.
const commandsRun = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--input-type=module",
    "-e",
    `import { buildCli, completionSpecOfCli, helpDefinitions } from ${JSON.stringify(pathToFileURL(join(root, "src", "cli", "main.ts")).href)};
    process.stdout.write(JSON.stringify({ completionSpec: completionSpecOfCli(), helpDefinitions: helpDefinitions(buildCli(false)) }));`,
  ],
  { cwd: root, encoding: "utf8" },
);
if (commandsRun.status !== 0) {
  console.error(`build: computing the command tree failed:\n${commandsRun.stderr}`);
  process.exit(1);
}
const { completionSpec, helpDefinitions } = JSON.parse(commandsRun.stdout);

// The entry's `import("./full.js")` becomes a require of the second bundle, next to it.
const MAIN_BUNDLE = "docker-leak-main.cjs";
const split = {
  name: "split-main",
  setup(b) {
    b.onResolve({ filter: /^\.\/full\.js$/ }, (args) =>
      args.importer.endsWith(join("src", "cli", "bin.ts"))
        ? { path: `./${MAIN_BUNDLE}`, external: true }
        : undefined,
    );
  },
};

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: args.includes("--minify"),
  sourcemap: false,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
  // import() of the second bundle as a plain require: no ES module loader for a CommonJS file.
  supported: { "dynamic-import": false },
  define: {
    DOCKER_LEAK_HELPER_DIGESTS: JSON.stringify(helperDigests),
    DOCKER_LEAK_HELPER_LAYERS: JSON.stringify(helperLayers),
    DOCKER_LEAK_COMPLETION_SPEC: JSON.stringify(completionSpec),
    DOCKER_LEAK_HELP_DEFINITIONS: JSON.stringify(helpDefinitions),
  },
};
// What is done to the bundled dependencies, the same in both forms. (Their source is changed only
// by the version-pinned patches in scripts/patches/, applied by `npm ci` through patch-package.)
const dependencyFixes = [stubs];
const builds = single
  ? [{ entryPoints: [join(root, "src/cli/bin.ts")], outfile: single, plugins: dependencyFixes }]
  : [
      {
        entryPoints: [join(root, "src/cli/bin.ts")],
        outfile: join(root, "dist/docker-leak.cjs"),
        plugins: [split],
        define: { ...common.define, DOCKER_LEAK_MAIN_BUNDLE: JSON.stringify(MAIN_BUNDLE) },
      },
      {
        entryPoints: [join(root, "src/cli/full.ts")],
        outfile: join(root, "dist", MAIN_BUNDLE),
        plugins: dependencyFixes,
      },
    ];
for (const options of builds) {
  const result = await build({ ...common, ...options });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  console.error(`built ${options.outfile.replace(`${root}/`, "")} (${(bytes / 1024).toFixed(0)} KiB)`);
}
