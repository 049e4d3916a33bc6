/**
 * `docker leak version` without loading the command-line framework and the Docker client: the
 * common case (a local unix socket that answers) costs Node's start-up plus one round trip.
 * Anything else — other flags, other transports, an error of any kind — returns undefined and the
 * full command runs, with its usual checks and messages.
 */
import { type RequestOptions, request } from "node:http";
import { localFiles, resolveEndpoint } from "../docker/endpoint.js";
import { mapInfo, mapVersion } from "../docker/map-inspect.js";
import { renderVersion } from "../render/version.js";
import { PLUGIN_VERSION } from "../version.js";
import { splitArgv } from "./global-flags.js";

type Json = Record<string, unknown>;

/** The format when `args` is exactly `version [--format|-f table|json]`, else undefined. */
export function plainVersionFormat(args: readonly string[]): "table" | "json" | undefined {
  if (args[0] !== "version") return undefined;
  if (args.length === 1) return "table";
  const [, flag, value] = args;
  let format: string | undefined;
  if (args.length === 3 && (flag === "--format" || flag === "-f")) format = value;
  else if (args.length === 2 && flag?.startsWith("--format=")) format = flag.slice("--format=".length);
  return format === "table" || format === "json" ? format : undefined;
}

export async function fastVersion(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  stdout: NodeJS.WritableStream,
): Promise<number | undefined> {
  try {
    const split = splitArgv(argv);
    const format = plainVersionFormat(split.args);
    if (!format || split.globals.debug) return undefined;
    const endpoint = resolveEndpoint({ globals: split.globals, env, files: localFiles });
    if (!endpoint.host.startsWith("unix://")) return undefined;
    const socketPath = endpoint.host.slice("unix://".length);
    const [version, info] = await Promise.all([
      getJson(socketPath, "/version"),
      getJson(socketPath, "/info"),
    ]);
    const daemon = mapVersion(version);
    stdout.write(renderVersion(format, PLUGIN_VERSION, daemon, mapInfo(info), endpoint));
    return 0;
  } catch {
    return undefined;
  }
}

function getJson(socketPath: string, path: string): Promise<Json> {
  return new Promise((resolve, reject) => {
    // A server name given: no TLS here, and working it out costs ~15 ms (see connect.ts).
    const options: RequestOptions & { servername: string } = {
      socketPath,
      path,
      method: "GET",
      timeout: 5000,
      servername: "docker",
    };
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${path}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}
