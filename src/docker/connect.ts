/**
 * Turns a resolved Endpoint into dockerode options: unix sockets and tcp (with TLS) natively,
 * everything else (ssh://, fd://, …) through `docker [globals] system dial-stdio`, the way
 * docker/cli's own connection helpers reach such daemons.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent } from "node:http";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type Docker from "dockerode";
import { DaemonError } from "../errors.js";
import type { Endpoint } from "./endpoint.js";

export interface ConnectOptions {
  /** Global docker flags to repeat for `docker system dial-stdio` (e.g. --context x). */
  rawGlobals: readonly string[];
  /** The docker CLI binary for dial-stdio. */
  dockerBinary?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Agent options for connections without TLS (a unix socket, a dial-stdio relay): a fixed server
 * name, which only TLS uses. Without one, Node works it out for every request by testing the
 * host against its IPv6 pattern, whose first use compiles a large regular expression (~15 ms of
 * each run here). Otherwise what Node's global agent does: keep-alive, last used socket first.
 */
const LOCAL_AGENT = { keepAlive: true, scheduling: "lifo", timeout: 5000, servername: "docker" } as const;

export function dockerodeOptions(endpoint: Endpoint, opts: ConnectOptions): Docker.DockerOptions {
  const url = endpoint.host;
  if (url.startsWith("unix://")) {
    return { socketPath: url.slice("unix://".length), agent: new Agent(LOCAL_AGENT) } as Docker.DockerOptions;
  }
  if (url.startsWith("tcp://") || url.startsWith("http://") || url.startsWith("https://")) {
    const parsed = new URL(url.replace(/^tcp:/, "http:"));
    const tls = endpoint.tls;
    const options: Docker.DockerOptions = {
      host: parsed.hostname,
      port: parsed.port || (tls ? 2376 : 2375),
      protocol: tls || url.startsWith("https://") ? "https" : "http",
    };
    if (tls) {
      if (tls.ca) options.ca = readPem(tls.ca, endpoint);
      if (tls.cert) options.cert = readPem(tls.cert, endpoint);
      if (tls.key) options.key = readPem(tls.key, endpoint);
      if (!tls.verify) (options as Record<string, unknown>).checkServerIdentity = () => undefined;
    }
    return options;
  }
  return {
    host: "localhost",
    port: 80,
    protocol: "http",
    agent: dialStdioAgent(opts),
  } as Docker.DockerOptions;
}

function readPem(path: string, endpoint: Endpoint): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new DaemonError(
      `could not read TLS material ${path} for ${endpoint.host} (${endpoint.source}): ${(err as Error).message}`,
    );
  }
}

/** An http.Agent whose every connection is a `docker system dial-stdio` child process. */
function dialStdioAgent(opts: ConnectOptions): Agent {
  const agent = new Agent({ ...LOCAL_AGENT, maxSockets: 4 });
  const docker = opts.dockerBinary ?? "docker";
  (agent as unknown as { createConnection: () => Socket }).createConnection = () => {
    const child = spawn(docker, [...opts.rawGlobals, "system", "dial-stdio"], {
      stdio: ["pipe", "pipe", "inherit"],
      env: opts.env ?? process.env,
    });
    const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
    child.on("error", (err) => stream.destroy(err));
    stream.on("close", () => child.kill());
    // An idle relay must not keep the plugin alive.
    child.unref();
    // http.Agent expects net.Socket methods it calls opportunistically.
    const socket = stream as unknown as Socket;
    socket.setKeepAlive ??= () => socket;
    socket.setNoDelay ??= () => socket;
    socket.setTimeout ??= () => socket;
    socket.ref ??= () => socket;
    socket.unref ??= () => socket;
    return socket;
  };
  return agent;
}
