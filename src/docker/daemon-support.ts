/** Daemons docker leak cannot work with are refused up front, with a clear reason, before anything runs. */
import { LeakError } from "../errors.js";
import type { DaemonFacts } from "../model/inventory.js";
import type { Endpoint } from "./endpoint.js";

export function assertSupportedDaemon(daemon: DaemonFacts, endpoint: Endpoint): void {
  if (daemon.osType && daemon.osType !== "linux") {
    throw new LeakError(
      `the daemon at ${endpoint.host} runs ${daemon.osType} containers; docker leak works with Linux daemons only`,
    );
  }
}
