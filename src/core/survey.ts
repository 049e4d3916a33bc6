/**
 * What the daemon says before anything runs: its facts, its volumes and its container list —
 * enough to check the user's names and to start the helper — with the containers' inspects
 * already under way.
 */
import type { ContainerSummary, DockerClient } from "../docker/client.js";
import { checkDaemonSupport } from "../docker/daemon-support.js";
import type { ContainerInfo, DaemonFacts, Inventory, VolumeInfo } from "../model/inventory.js";
import type { ContainerRef } from "../model/targets.js";

export interface Survey {
  daemon: DaemonFacts;
  volumes: VolumeInfo[];
  /** Every container as listed (ID and primary name), for checking the user's names. */
  listed: ContainerRef[];
  /** Every listed container, inspected (those removed meanwhile are left out). */
  containers: Promise<ContainerInfo[]>;
  /** What docker leak cannot fully see on this daemon (e.g. rootless). */
  warnings: string[];
}

/** Refuses daemons docker leak cannot work with (Windows containers). */
export async function takeSurvey(docker: DockerClient): Promise<Survey> {
  const [daemon, listed, volumes] = await Promise.all([
    docker.info(),
    docker.listContainers({}),
    docker.volumes(),
  ]);
  const warnings = checkDaemonSupport(daemon, docker.endpoint);
  const containers = docker.inspectContainers(listed.map((c) => c.id));
  containers.catch(() => undefined); // awaited by whoever uses the survey, unless it failed first
  return {
    daemon,
    volumes,
    containers,
    warnings,
    listed: listed.map((c) => ({ id: c.id, name: primaryName(c) })),
  };
}

export async function takeInventory(docker: DockerClient): Promise<Inventory & { warnings: string[] }> {
  const { daemon, volumes, containers, warnings } = await takeSurvey(docker);
  return { daemon, volumes, containers: await containers, warnings };
}

/** A listed container's own name: links add `/other/alias` names to the list, never to inspect. */
export function primaryName(c: ContainerSummary): string {
  return c.names.find((n) => !n.includes("/")) ?? c.names[0] ?? "";
}
