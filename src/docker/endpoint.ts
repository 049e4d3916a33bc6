/**
 * Which daemon to talk to, decided the way the docker CLI decides it:
 * `--context` > `-H` > `DOCKER_HOST` > `DOCKER_CONTEXT` > `currentContext` in config.json > the
 * default socket. Contexts are read from the CLI's context store. Pure apart from the file
 * reads, which go through `FileReader` so tests pass a table of files.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { LeakError, UsageError } from "../errors.js";

/** The docker CLI's global flags that choose and reach the daemon (parsed by cli/global-flags.ts). */
export interface GlobalOptions {
  context?: string;
  host?: string[];
  config?: string;
  tls?: boolean;
  tlsVerify?: boolean;
  tlsCaCert?: string;
  tlsCert?: string;
  tlsKey?: string;
  debug?: boolean;
  logLevel?: string;
}

export interface TlsMaterial {
  /** Paths of PEM files; absent ones are not used. */
  ca?: string;
  cert?: string;
  key?: string;
  /** Verify the daemon's certificate (false with --tls alone or SkipTLSVerify). */
  verify: boolean;
}

export interface Endpoint {
  /** unix:///path, tcp://host:port, ssh://user@host, npipe://… */
  host: string;
  /** The context name in effect ("default" when none). */
  context: string;
  /** How the endpoint was chosen, for error messages: "from DOCKER_HOST", "from context \"x\"" … */
  source: string;
  tls?: TlsMaterial;
  /** The docker config dir in effect. */
  configDir: string;
}

export interface FileReader {
  readFile(path: string): string | undefined;
  exists(path: string): boolean;
}

export interface ResolveInput {
  globals: GlobalOptions;
  env: NodeJS.ProcessEnv;
  files: FileReader;
  home?: string;
}

/** The docker config files on this machine. */
export const localFiles: FileReader = {
  readFile: (p) => (existsSync(p) ? readFileSync(p, "utf8") : undefined),
  exists: (p) => existsSync(p),
};

export const DEFAULT_HOST = "unix:///var/run/docker.sock";
export const DEFAULT_CONTEXT = "default";

export function configDirOf(globals: GlobalOptions, env: NodeJS.ProcessEnv, home = homedir()): string {
  return globals.config ?? (env.DOCKER_CONFIG || join(home, ".docker"));
}

interface ContextMeta {
  Name?: string;
  Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
}

export function contextDirName(name: string): string {
  return createHash("sha256").update(name).digest("hex");
}

function readJson<T>(files: FileReader, path: string, what: string): T | undefined {
  const text = files.readFile(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new LeakError(`cannot parse ${what} ${path}: ${(err as Error).message}`);
  }
}

export function resolveEndpoint(input: ResolveInput): Endpoint {
  const { globals, env, files } = input;
  const configDir = configDirOf(globals, env, input.home);
  let contextName: string;
  let contextSource: string;
  if (globals.context) {
    contextName = globals.context;
    contextSource = "--context";
  } else if (globals.host?.length) {
    return defaultEndpoint(globals.host[0]!, "from -H/--host", globals, env, configDir);
  } else if (env.DOCKER_HOST) {
    return defaultEndpoint(env.DOCKER_HOST, "from DOCKER_HOST", globals, env, configDir);
  } else if (env.DOCKER_CONTEXT) {
    contextName = env.DOCKER_CONTEXT;
    contextSource = "DOCKER_CONTEXT";
  } else {
    const config = readJson<{ currentContext?: string }>(
      files,
      join(configDir, "config.json"),
      "config file",
    );
    if (config?.currentContext) {
      contextName = config.currentContext;
      contextSource = `currentContext in ${join(configDir, "config.json")}`;
    } else {
      return defaultEndpoint(DEFAULT_HOST, "the default socket", globals, env, configDir);
    }
  }
  if (contextName === DEFAULT_CONTEXT) {
    const host = env.DOCKER_HOST || DEFAULT_HOST;
    return defaultEndpoint(host, `context "default" (${contextSource})`, globals, env, configDir);
  }
  return contextEndpoint(contextName, contextSource, files, configDir);
}

function contextEndpoint(name: string, source: string, files: FileReader, configDir: string): Endpoint {
  const id = contextDirName(name);
  const metaPath = join(configDir, "contexts", "meta", id, "meta.json");
  const meta = readJson<ContextMeta>(files, metaPath, "context metadata");
  if (!meta) {
    throw new LeakError(
      `context "${name}" does not exist (set by ${source})`,
      "List contexts with 'docker context ls'.",
    );
  }
  const docker = meta.Endpoints?.docker;
  if (!docker?.Host) throw new LeakError(`context "${name}" has no docker endpoint (${metaPath})`);
  const tlsDir = join(configDir, "contexts", "tls", id, "docker");
  const tls = pemFiles(tlsDir, files);
  const endpoint: Endpoint = {
    host: docker.Host,
    context: name,
    source: `from context "${name}" (${source})`,
    configDir,
  };
  if (tls.ca || tls.cert || tls.key || docker.SkipTLSVerify) {
    endpoint.tls = { ...tls, verify: !docker.SkipTLSVerify };
  }
  return endpoint;
}

function pemFiles(dir: string, files: FileReader): Omit<TlsMaterial, "verify"> {
  const out: Omit<TlsMaterial, "verify"> = {};
  for (const [key, file] of [
    ["ca", "ca.pem"],
    ["cert", "cert.pem"],
    ["key", "key.pem"],
  ] as const) {
    const path = join(dir, file);
    if (files.exists(path)) out[key] = path;
  }
  return out;
}

function defaultEndpoint(
  host: string,
  source: string,
  globals: GlobalOptions,
  env: NodeJS.ProcessEnv,
  configDir: string,
): Endpoint {
  const endpoint: Endpoint = { host: normalizeHost(host), context: DEFAULT_CONTEXT, source, configDir };
  // The CLI: --tlsverify (or DOCKER_TLS_VERIFY) implies --tls; certs default to DOCKER_CERT_PATH or the config dir.
  const verify = globals.tlsVerify ?? (env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== "");
  const useTls = verify || globals.tls === true;
  if (useTls) {
    const certDir = env.DOCKER_CERT_PATH || configDir;
    endpoint.tls = {
      ca: globals.tlsCaCert ?? join(certDir, "ca.pem"),
      cert: globals.tlsCert ?? join(certDir, "cert.pem"),
      key: globals.tlsKey ?? join(certDir, "key.pem"),
      verify,
    };
  }
  return endpoint;
}

/** `-H /path.sock`, `-H :2375`, `-H tcp://h` … into the canonical URL form the CLI accepts. */
export function normalizeHost(host: string): string {
  const h = host.trim();
  if (h.startsWith("/")) return `unix://${h}`;
  if (h.startsWith(":")) return `tcp://127.0.0.1${h}`;
  if (/^(unix|tcp|ssh|npipe|fd|http|https):\/\//.test(h)) return h;
  if (/^[\w.-]+:\d+$/.test(h)) return `tcp://${h}`;
  throw new UsageError(`invalid host "${host}": use unix://, tcp:// or ssh://`);
}

/**
 * The names of every context in the store, as `docker context ls` lists them: `default` first,
 * then the store's, sorted. A context whose metadata cannot be read is left out.
 */
export function listContextNames(
  configDir: string,
  listDir: (dir: string) => string[] = (dir) => (existsSync(dir) ? readdirSync(dir) : []),
  files: FileReader = localFiles,
): string[] {
  const names = new Set<string>();
  const metaDir = join(configDir, "contexts", "meta");
  for (const id of listDir(metaDir)) {
    try {
      const meta = readJson<ContextMeta>(files, join(metaDir, id, "meta.json"), "context metadata");
      if (meta?.Name && contextDirName(meta.Name) === id) names.add(meta.Name);
    } catch {
      // unreadable: `docker context ls` would fail on it; here it is simply not a context
    }
  }
  names.delete(DEFAULT_CONTEXT);
  return [DEFAULT_CONTEXT, ...[...names].sort()];
}
