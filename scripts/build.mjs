#!/usr/bin/env node
// Bundles the plugin into one file (dist/docker-leak.cjs) so each run loads one script, and keeps
// plugin-metadata/metadata.json's Version equal to package.json's.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const metadataPath = join(root, "plugin-metadata", "metadata.json");
const metadata = JSON.parse(readFileSync(metadataPath, "utf8"));
if (metadata.Version !== pkg.version) {
  metadata.Version = pkg.version;
  writeFileSync(metadataPath, `${JSON.stringify(metadata, null, 2)}\n`);
}

// dockerode's BuildKit session (gRPC) and docker-modem's ssh transport are never used: we build
// with the classic builder and reach ssh:// daemons through `docker system dial-stdio`.
const stubs = {
  name: "stub-unused-transports",
  setup(b) {
    b.onResolve({ filter: /^\.\/session$/ }, (args) =>
      args.importer.includes(join("dockerode", "lib")) ? { path: "session", namespace: "stub" } : undefined,
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

const result = await build({
  entryPoints: [join(root, "src/cli/bin.ts")],
  outfile: join(root, "dist/docker-leak.cjs"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: process.argv.includes("--minify"),
  sourcemap: false,
  legalComments: "none",
  plugins: [stubs],
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.error(`built dist/docker-leak.cjs (${(bytes / 1024).toFixed(0)} KiB)`);
