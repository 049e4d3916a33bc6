/**
 * The answer to the docker CLI's hook: after a command that `docker leak install --hooks` hooked
 * (see docker-config.ts), docker CLI 26.1 and later run `docker-leak leak docker-cli-plugin-hooks
 * REQUEST` when its stdout is a terminal, where REQUEST is the JSON of docker/cli's
 * `HookPluginData` (`hooks.Request` since 29): `RootCmd` (the hooked command that matched,
 * e.g. `volume rm`), `Flags` (the flags set, with the values of boolean ones) and
 * `CommandError` (the command's error message, `""` or absent on success). The plugin answers a
 * `HookMessage` (`{"Type":0,"Template":…}`), whose lines the CLI prints under "What's next:"
 * before the command's own error, or nothing.
 *
 * When removing a container or volume failed with "device or resource busy" (or because a removal
 * is already in progress, as for a container left Dead by such a failure), the answer names the
 * commands that find and release what holds it. The names come from the error itself: Docker's
 * message names each target that failed (`remove NAME:` for volumes, `cannot remove container
 * "NAME":` with what the user typed since Docker 25, the full ID before), and only those; the
 * template's `{{arg . N}}` cannot tell which of several arguments failed, and since docker CLI
 * 29.4 an `arg` beyond the last argument drops the whole message. Only names that Docker's own
 * rules accept (and full IDs) are used, so the text holds no control character, no shell
 * metacharacter and no `{{` for the CLI's template engine; when a failure names nothing usable,
 * the answer says how to look rather than guess.
 *
 * Pure and small: bin.ts loads it before, and instead of, the rest of the plugin. The launcher
 * (plugin-metadata/docker-leak) answers the common case itself, without Node: a command that
 * succeeded, or failed for another reason (its TRIGGERS mirror this module's).
 */
import { isFullId, isValidContainerName, isValidVolumeName } from "../model/names.js";

/** The subcommand the docker CLI runs a plugin's hook with (docker/cli metadata.HookSubcommandName). */
export const HOOK_SUBCOMMAND = "docker-cli-plugin-hooks";

/** What docker/cli passes: HookPluginData (28) / hooks.Request (29+). */
export interface HookRequest {
  RootCmd?: string;
  Flags?: Record<string, string>;
  CommandError?: string;
}

type Kind = "container" | "volume";

/**
 * The hooked commands (the `plugins.leak.hooks` entries) and what they remove. Not the prune
 * commands: the daemon only logs the removals a prune could not make, and the CLI, which reports
 * success, has no error to pass; hooking them would cost every prune two runs for nothing.
 */
export const HOOKED_COMMANDS: Readonly<Record<string, Kind>> = {
  rm: "container",
  "container rm": "container",
  "volume rm": "volume",
};

/**
 * Errors that docker leak can cure. The launcher's `case` patterns are these strings: a failure
 * without one of them is answered there, with nothing.
 */
export const TRIGGERS = ["device or resource busy", "is already in progress"] as const;

/** A container's reference in a failure: a name as typed, an ID prefix, or a full ID. */
const CONTAINER_REF = /^[0-9a-f]{1,64}$/;

/** The target a failed removal's message names, or null when it names none we can use. */
export function failedTarget(kind: Kind, line: string): string | null {
  const valid = (ref: string | undefined) =>
    ref !== undefined &&
    (kind === "volume" ? isValidVolumeName(ref) : isValidContainerName(ref) || CONTAINER_REF.test(ref))
      ? ref
      : null;
  if (kind === "volume") {
    // moby's volume store: `remove NAME: error removing volume path '…': …`.
    return valid(/(?:^|: )remove ([^\s:]+): /.exec(line)?.[1]);
  }
  // Docker 25+: `cannot remove container "NAME": …` (Go's %q of the reference the CLI sent).
  const quoted = /(?:^|: )cannot remove container "([^"\\]*)": /.exec(line)?.[1];
  if (quoted !== undefined) return valid(quoted);
  // `removal of container NAME is already in progress` (every version).
  const inProgress = /(?:^|: )removal of container (\S+) is already in progress/.exec(line)?.[1];
  if (inProgress !== undefined) return valid(inProgress);
  // Before 25: `container ID: driver "overlay2" failed to remove root filesystem: …` and
  // `unable to remove filesystem for ID: …`.
  const id = /(?:^|: )(?:container|unable to remove filesystem for) ([0-9a-f]{64}): /.exec(line)?.[1];
  return id !== undefined && isFullId(id) ? id : null;
}

const list = (names: readonly string[]) => names.join(" ");
const listed = (names: readonly string[]) =>
  names.length === 1 ? names[0]! : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;

/** The lines of the answer for a request, or [] when there is nothing to say. */
export function hookLines(request: HookRequest): string[] {
  const kind = HOOKED_COMMANDS[request.RootCmd ?? ""];
  const error = request.CommandError ?? "";
  if (!kind || !error) return [];
  const failures = error.split("\n").filter((line) => TRIGGERS.some((t) => line.includes(t)));
  if (failures.length === 0) return [];
  const named = failures.map((line) => failedTarget(kind, line));
  const rm = kind === "volume" ? "docker leak volume rm --force-unmount" : "docker leak rm --force-unmount";
  // `docker rm -f` / `-v` mean the same to `docker leak rm`.
  const flags = request.Flags ?? {};
  const extra =
    kind === "container"
      ? `${flags.force === "true" ? " -f" : ""}${flags.volumes === "true" ? " -v" : ""}`
      : "";
  if (named.some((n) => n === null)) {
    const what = kind === "volume" ? "VOLUME" : "CONTAINER";
    return [`Find what keeps it busy: docker leak scan`, `Unmount that and remove it: ${rm}${extra} ${what}`];
  }
  const names = [...new Set(named as string[])];
  const them = names.length === 1 ? names[0]! : "them";
  return [
    `Find what keeps ${listed(names)} busy: docker leak scan ${list(names)}`,
    `Unmount that and remove ${them}: ${rm}${extra} ${list(names)}`,
  ];
}

/** What the hook prints for the request's JSON (as the CLI passed it): a HookMessage, or "". */
export function hookAnswer(requestJson: string | undefined): string {
  let request: unknown;
  try {
    request = JSON.parse(requestJson ?? "");
  } catch {
    return "";
  }
  if (typeof request !== "object" || request === null || Array.isArray(request)) return "";
  const r = request as Record<string, unknown>;
  const flags =
    typeof r.Flags === "object" && r.Flags !== null && !Array.isArray(r.Flags)
      ? Object.fromEntries(Object.entries(r.Flags).filter(([, v]) => typeof v === "string"))
      : {};
  const lines = hookLines({
    RootCmd: typeof r.RootCmd === "string" ? r.RootCmd : undefined,
    Flags: flags,
    CommandError: typeof r.CommandError === "string" ? r.CommandError : undefined,
  });
  return lines.length ? `${JSON.stringify({ Type: 0, Template: lines.join("\n") })}\n` : "";
}

/**
 * The hook's request when `argv` (the plugin's arguments) is a hook invocation: the CLI runs
 * `docker-leak leak docker-cli-plugin-hooks JSON`. Undefined otherwise.
 */
export function hookRequestOf(argv: readonly string[]): { json: string | undefined } | undefined {
  if (argv[0] === "leak" && argv[1] === HOOK_SUBCOMMAND) return { json: argv[2] };
  if (argv[0] === HOOK_SUBCOMMAND) return { json: argv[1] };
  return undefined;
}
