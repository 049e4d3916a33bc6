/**
 * Names on the command line resolved the way docker resolves them: a full ID, an exact name,
 * then a unique ID prefix. Unknown and ambiguous arguments are errors that name the argument.
 */
import { LeakError } from "../errors.js";
import type { ContainerInfo, VolumeInfo } from "./inventory.js";

export class TargetError extends LeakError {
  override name = "TargetError";
}

type Match<T> = { found: T } | { ambiguous: T[] } | { none: true };

/** What naming a container needs: its ID and name (from an inspect, or the container list). */
export type ContainerRef = Pick<ContainerInfo, "id" | "name">;

function matchContainer<C extends ContainerRef>(arg: string, containers: readonly C[]): Match<C> {
  const byId = containers.find((c) => c.id === arg);
  if (byId) return { found: byId };
  const name = arg.replace(/^\//, "");
  const byName = containers.find((c) => c.name === name);
  if (byName) return { found: byName };
  if (!/^[0-9a-f]+$/.test(arg)) return { none: true };
  const byPrefix = containers.filter((c) => c.id.startsWith(arg));
  if (byPrefix.length === 1) return { found: byPrefix[0]! };
  return byPrefix.length > 1 ? { ambiguous: byPrefix } : { none: true };
}

function ambiguity(arg: string, matches: readonly ContainerRef[]): TargetError {
  const ids = matches.map((c) => `${c.id.slice(0, 12)} (${c.name})`).join(", ");
  return new TargetError(`"${arg}" is ambiguous: it is a prefix of ${matches.length} container IDs: ${ids}`);
}

/** A container for `rm`: exactly one, or an error naming the argument. */
export function resolveContainer(arg: string, containers: readonly ContainerInfo[]): ContainerInfo {
  const m = matchContainer(arg, containers);
  if ("found" in m) return m.found;
  if ("ambiguous" in m) throw ambiguity(arg, m.ambiguous);
  throw new TargetError(`No such container: ${arg}`);
}

/** A volume for `volume rm`: by exact name, like docker. */
export function resolveVolume(arg: string, volumes: readonly VolumeInfo[]): VolumeInfo {
  const v = volumes.find((x) => x.name === arg);
  if (!v) throw new TargetError(`No such volume: ${arg}`);
  return v;
}

export interface TargetSelection {
  containerIds: Set<string>;
  volumeNames: Set<string>;
  /** ID prefixes that match no current container: they may name a removed one still held somewhere */
  removedPrefixes: string[];
}

/** Scan targets: containers (ID, name, prefix) or volumes (name); a name may be both. */
export function resolveScanTargets(
  args: readonly string[],
  inventory: { containers: readonly ContainerRef[]; volumes: readonly VolumeInfo[] },
): TargetSelection | null {
  if (args.length === 0) return null;
  const selection: TargetSelection = { containerIds: new Set(), volumeNames: new Set(), removedPrefixes: [] };
  for (const arg of args) {
    const m = matchContainer(arg, inventory.containers);
    if ("ambiguous" in m) throw ambiguity(arg, m.ambiguous);
    const volume = inventory.volumes.find((v) => v.name === arg);
    if ("found" in m) selection.containerIds.add(m.found.id);
    if (volume) selection.volumeNames.add(volume.name);
    if ("none" in m && !volume) {
      if (/^[0-9a-f]{6,64}$/.test(arg)) selection.removedPrefixes.push(arg);
      else throw new TargetError(`No such container or volume: ${arg}`);
    }
  }
  return selection;
}
