/**
 * Turns a resolved Endpoint into dockerode options: unix sockets and tcp (with TLS) natively,
 * everything else (ssh://, fd://, …) through `docker [globals] system dial-stdio`, the way
 * docker/cli's own connection helpers reach such daemons.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, type ClientRequest } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import type Docker from "dockerode";
import { DaemonError } from "../errors.js";
import type { Endpoint } from "./endpoint.js";

export interface ConnectOptions {
  /** Global docker flags to repeat for `docker system dial-stdio` (e.g. --context x). */
  rawGlobals: readonly string[];
  /** The docker CLI binary for dial-stdio. */
  dockerBinary?: string;
  /** The ssh client for ssh:// daemons. */
  sshBinary?: string;
  /** Set by dockerodeOptions: the daemon (an ssh:// one is dialled with ssh directly). */
  endpoint?: Endpoint;
  /** Test override of the ssh target (undefined: from the endpoint). */
  ssh?: SshTarget;
  env?: NodeJS.ProcessEnv;
}

/**
 * Agent options for connections without TLS (a unix socket, a dial-stdio relay): a fixed server
 * name, which only TLS uses. Without one, Node works it out for every request by testing the
 * host against its IPv6 pattern, whose first use compiles a large regular expression (~15 ms of
 * each run here). Otherwise what Node's global agent does: keep-alive, last used socket first.
 */
const LOCAL_AGENT = { keepAlive: true, scheduling: "lifo", timeout: 5000, servername: "docker" } as const;

/** Whether the endpoint is reached through `docker system dial-stdio` (few, costly connections). */
export function usesDialStdio(endpoint: Endpoint): boolean {
  return !/^(unix|tcp|http|https):\/\//.test(endpoint.host);
}

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
    agent: new DialStdioAgent({ endpoint, ...opts }),
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

/**
 * Requests whose response is a stream that holds its connection until the container exits or the
 * daemon closes it. They get a connection of their own, so that they never queue behind, or hold
 * up, the ordinary requests on the shared one.
 */
const STREAMING_PATH = /^(\/v[\d.]+)?\/(containers\/[^/?]+\/(attach|wait)|events)([/?]|$)/;

/**
 * Whether a request (by its path) streams until the daemon ends it. A wait for `not-running` does
 * not: it is asked once the container has exited (DockerodeClient.waitContainer).
 */
export function isStreamingRequest(path: string): boolean {
  return STREAMING_PATH.test(path) && !path.includes("condition=not-running");
}

/**
 * Connections through `docker system dial-stdio` (an ssh:// daemon: one ssh handshake and one
 * remote docker process each, about a second apiece): every ordinary request of the run shares
 * one kept-alive connection (they queue, one at a time, which costs a round trip each rather than
 * a handshake), the helper's output included (DockerodeClient reads it with a logs request rather
 * than an attach). A request that streams until the daemon ends it (events, an attach, a wait)
 * gets one more for its duration. So a scan makes one connection, where Node's pool made one per
 * request in flight.
 */
export class DialStdioAgent extends Agent {
  /** dial-stdio processes started so far (tests and the benchmark read it). */
  dials = 0;
  private readonly streams: Agent;
  private controlDir?: string;

  constructor(private readonly opts: ConnectOptions) {
    super({ ...LOCAL_AGENT, maxSockets: 1, maxFreeSockets: 1 });
    this.streams = new Agent({ ...LOCAL_AGENT, keepAlive: false });
    (this as unknown as { createConnection: () => Socket }).createConnection = () => this.dial();
    (this.streams as unknown as { createConnection: () => Socket }).createConnection = () => this.dial();
  }

  /** Node's ClientRequest hands every request to its agent here; streaming ones go to their own pool. */
  addRequest(req: ClientRequest, options: unknown): void {
    const target = isStreamingRequest(req.path) ? this.streams : undefined;
    if (target) (target as unknown as AddRequest).addRequest(req, options);
    else (Agent.prototype as unknown as AddRequest).addRequest.call(this, req, options);
  }

  override destroy(): void {
    this.streams.destroy();
    super.destroy();
  }

  private dial(): Socket {
    this.dials++;
    const [command, args] = this.command();
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "inherit"],
      env: this.opts.env ?? process.env,
    });
    const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
    child.on("error", (err) => stream.destroy(err));
    stream.on("close", () => child.kill());
    // A request in flight hears its socket's errors itself; a socket the pool closes (an attach's,
    // once done) reports an AbortError nobody needs.
    stream.on("error", () => undefined);
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
  }

  /**
   * An ssh:// daemon is dialled the way docker/cli's connection helper does it (cli/connhelper:
   * `ssh -o ConnectTimeout=30 -T [-l USER] [-p PORT] -- HOST docker system dial-stdio`), without
   * the local `docker` in between: that one costs a process start and makes a second ssh
   * connection of its own (it pings the daemon first). Every connection of the run is a channel of
   * one ssh connection (ControlMaster, in a private directory), so only the first pays the handshake;
   * the master outlives its first user by ControlPersist and then exits by itself.
   */
  private command(): [string, string[]] {
    const ssh = this.opts.ssh ?? sshTarget(this.opts.endpoint);
    if (!ssh) return [this.opts.dockerBinary ?? "docker", [...this.opts.rawGlobals, "system", "dial-stdio"]];
    this.controlDir ??= controlDirectory();
    return [
      this.opts.sshBinary ?? "ssh",
      [
        "-o",
        "ConnectTimeout=30",
        "-o",
        "ControlMaster=auto",
        "-o",
        `ControlPath=${join(this.controlDir, "%C")}`,
        "-o",
        "ControlPersist=5s",
        "-T",
        ...(ssh.user ? ["-l", ssh.user] : []),
        ...(ssh.port ? ["-p", ssh.port] : []),
        "--",
        ssh.host,
        "docker",
        "system",
        "dial-stdio",
      ],
    ];
  }
}

export interface SshTarget {
  user?: string;
  host: string;
  port?: string;
}

/**
 * The parts of an ssh:// URL, as docker/cli's connhelper/ssh takes them; undefined for what it
 * would refuse or treat specially (a path, a query), which is left to `docker system dial-stdio`.
 */
export function sshTarget(endpoint: Endpoint | undefined): SshTarget | undefined {
  if (!endpoint?.host.startsWith("ssh://")) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint.host);
  } catch {
    return undefined;
  }
  if ((url.pathname && url.pathname !== "/") || url.search || url.password || !url.hostname) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host.startsWith("-")) return undefined;
  const target: SshTarget = { host };
  if (url.username) target.user = decodeURIComponent(url.username);
  if (url.port) target.port = url.port;
  return target;
}

/** A private directory for the ssh control sockets of this process, removed when it exits. */
function controlDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), "docker-leak-ssh-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface AddRequest {
  addRequest(req: ClientRequest, options: unknown): void;
}
