import pkg from "../package.json" with { type: "json" };
import metadata from "../plugin-metadata/metadata.json" with { type: "json" };

/** The one version: package.json's (metadata.json must agree: scripts/build.mjs checks it). */
export const PLUGIN_VERSION: string = pkg.version;
export const PLUGIN_METADATA = metadata;
