/**
 * What docker leak can do on a daemon, decided from `docker info` before anything runs:
 * unsupported daemons are refused with the reason; unusual ones get the settings they need
 * (see helperHostConfig) or a warning about what cannot be seen.
 */
import { LeakError } from "../errors.js";
import type { DaemonFacts } from "../model/inventory.js";
import type { Endpoint } from "./endpoint.js";

const hasOption = (daemon: DaemonFacts, name: string) =>
  daemon.securityOptions.some((o) => o === `name=${name}` || o.startsWith(`name=${name},`));

export const isRootless = (daemon: DaemonFacts) => hasOption(daemon, "rootless");
export const usesUsernsRemap = (daemon: DaemonFacts) => hasOption(daemon, "userns");
export const hasAppArmor = (daemon: DaemonFacts) => hasOption(daemon, "apparmor");
export const hasSeccomp = (daemon: DaemonFacts) => hasOption(daemon, "seccomp");
export const hasSELinux = (daemon: DaemonFacts) => hasOption(daemon, "selinux");

/** Throws for daemons docker leak cannot work with; returns warnings for partial support. */
export function checkDaemonSupport(daemon: DaemonFacts, endpoint: Endpoint): string[] {
  if (daemon.osType && daemon.osType !== "linux") {
    throw new LeakError(
      `the daemon at ${endpoint.host} runs ${daemon.osType} containers; docker leak works with Linux daemons only`,
    );
  }
  if (daemon.engine === "podman" && (daemon.rootless || isRootless(daemon))) {
    throw new LeakError(
      `the Podman service at ${endpoint.host} runs rootless: its containers live in a user namespace that cannot see the host's processes and mounts, so docker leak cannot scan or release anything there`,
      "Point docker leak at the rootful Podman service (e.g. DOCKER_HOST=unix:///run/podman/podman.sock, as root).",
    );
  }
  const warnings: string[] = [];
  if (isRootless(daemon)) {
    warnings.push(
      "the daemon runs rootless: only processes inside its user namespace can be inspected, so copies held by " +
        "other users' or the host's processes are not seen, and unmounting is limited to mounts that user namespace owns",
    );
  }
  return warnings;
}

/** The same check for callers that only need the refusal. */
export function assertSupportedDaemon(daemon: DaemonFacts, endpoint: Endpoint): void {
  checkDaemonSupport(daemon, endpoint);
}

/** A daemon that refuses what the helper needs (e.g. `PidMode: host` under enhanced container isolation). */
export function explainHelperRefusal(message: string, endpoint: Endpoint): LeakError | null {
  if (
    /pid.*host|host pid|PidMode/i.test(message) &&
    /not allowed|denied|forbidden|refus|not permitted/i.test(message)
  ) {
    return new LeakError(
      `the daemon at ${endpoint.host} refuses to run the helper with the host's PID namespace (${message.trim()})`,
      "docker leak needs --pid=host for its helper; it cannot work where that is forbidden (e.g. Docker Desktop's Enhanced Container Isolation).",
    );
  }
  if (
    /privileg|capabilit|CAP_SYS_ADMIN|SYS_PTRACE/i.test(message) &&
    /not allowed|denied|forbidden|not permitted/i.test(message)
  ) {
    return new LeakError(
      `the daemon at ${endpoint.host} refuses the helper's capabilities (${message.trim()})`,
      "The scan helper needs SYS_PTRACE (and DAC_READ_SEARCH with --deep); the unmount helper SYS_ADMIN, SYS_PTRACE and SYS_CHROOT.",
    );
  }
  return null;
}
