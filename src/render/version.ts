/**
 * `docker leak version`: the plugin's version, the daemon's, and how the daemon was chosen. The
 * daemon's strings are escaped: for the terminal in the table, escapeJsonText in JSON.
 */
import type { DaemonFacts } from "../model/inventory.js";
import { escapeForTerminal, escapeJsonText } from "./escape.js";

/** The daemon's answer to /version, as much of it as is shown. */
export interface ShownVersion {
  /** "docker" or "podman" (absent: docker) */
  engine?: string;
  version: string;
  apiVersion: string;
  minApiVersion: string;
  os: string;
  arch: string;
  kernelVersion: string;
}

/** The endpoint and how it was chosen. */
export interface ShownEndpoint {
  host: string;
  context: string;
  source: string;
}

const ENGINE_NAMES: Record<string, string> = { docker: "Docker", podman: "Podman" };

/** The engine /version names, else the one /info suggests. */
export function engineOf(version: ShownVersion, info: DaemonFacts): string {
  return version.engine ?? info.engine ?? "docker";
}

export function renderVersion(
  format: "table" | "json",
  pluginVersion: string,
  version: ShownVersion,
  info: DaemonFacts,
  endpoint: ShownEndpoint,
): string {
  if (format === "json") {
    return `${escapeJsonText(
      JSON.stringify({
        plugin: { version: pluginVersion },
        server: {
          engine: engineOf(version, info),
          version: version.version,
          apiVersion: version.apiVersion,
          minApiVersion: version.minApiVersion,
          os: version.os,
          arch: version.arch,
          kernelVersion: version.kernelVersion,
          rootDir: info.rootDir,
          driver: info.driver,
        },
        endpoint: { host: endpoint.host, context: endpoint.context, source: endpoint.source },
      }),
    )}\n`;
  }
  const rows: [string, string][] = [
    ["Engine", ENGINE_NAMES[engineOf(version, info)] ?? engineOf(version, info)],
    ["Version", version.version],
    ["API version", `${version.apiVersion} (minimum version ${version.minApiVersion})`],
    ["OS/Arch", `${version.os}/${version.arch}`],
    ["Kernel", version.kernelVersion],
    ["Root dir", info.rootDir],
    ["Storage driver", info.driver],
    ["Endpoint", `${endpoint.host} (${endpoint.source})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  let out = `docker leak version ${pluginVersion}\n\nServer:\n`;
  for (const [k, v] of rows) out += ` ${`${k}:`.padEnd(width)}${escapeForTerminal(v)}\n`;
  return out;
}
