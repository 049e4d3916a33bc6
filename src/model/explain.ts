/**
 * Cause and cure of a finding, in words: a short form for the table and a full one for JSON.
 * Every sentence is made from the finding's facts (propagation.ts): where the chain from
 * Docker's unmount to the copy is cut says which side to fix, and nothing already in place is
 * recommended. The cure also names the command that releases the copy now.
 */
import type { DaemonLocation } from "./daemon.js";
import type { Cause, Cure, Explanation, MountRef, PinnedFile, Severity } from "./findings.js";
import type { Holder } from "./holders.js";
import { leakCommand } from "./names.js";
import type { CauseFacts, MountPropagation } from "./propagation.js";
import type { Resource, Target } from "./resources.js";

export interface ExplainContext {
  severity: Severity;
  target: Target;
  resource: Resource;
  holder: Holder;
  mount: MountRef | null;
  pinned: readonly PinnedFile[];
  daemon: DaemonLocation;
  /** Names of containers that bind this volume with (r)shared propagation */
  sharedBinders: readonly string[];
  facts: CauseFacts;
}

export const shortId = (id: string): string => id.slice(0, 12);

export function targetName(t: Target): string {
  return t.kind === "volume" ? t.name : (t.name ?? shortId(t.id));
}

function targetPhrase(t: Target): string {
  if (t.kind === "volume") return `volume ${t.name}`;
  return t.status === "removed" ? `removed container ${shortId(t.id)}` : `container ${targetName(t)}`;
}

function resourcePhrase(r: Resource, t: Target): string {
  // Phrases start with a word that may be capitalised (never with a name).
  const of = `of ${targetName(t)}`;
  switch (r.kind) {
    case "rootfs":
      return `the root filesystem ${of} (${r.path})`;
    case "shm":
      return `the /dev/shm ${of} (tmpfs at ${r.path})`;
    case "container-mount":
      return `the mount ${of} at ${r.path}`;
    case "container-file":
      return `the ${r.path.slice(r.path.lastIndexOf("/") + 1)} file ${of} (${r.path})`;
    case "netns":
      return `the network namespace file ${of} (${r.path})`;
    case "volume":
      return `volume ${r.volumeName} (${r.path})`;
    case "volume-submount":
      return `a mount below volume ${r.volumeName}'s data (${r.path})`;
  }
}

const commOf = (h: Holder): string => (h.leader ? ` (${h.leader.comm})` : "");

/** "PID 4711 (sleep)", "container web", "pod default/nginx", "foo.service (PID 88, foo)" … */
export function holderPhrase(h: Holder): string {
  const leaderPid = h.leader?.pid ?? h.pids[0];
  const proc = leaderPid === undefined ? "an uninspectable process" : `PID ${leaderPid}${commOf(h)}`;
  const o = h.owner;
  switch (o.kind) {
    case "daemon":
      // The leader is the process found as the daemon (never by its name alone, see daemon.ts).
      if (h.leader?.comm === "podman")
        return `the Podman service${o.pid === null ? "" : ` (podman PID ${o.pid})`}`;
      return `the Docker daemon${o.pid === null ? "" : ` (dockerd PID ${o.pid})`}`;
    case "process":
      return proc;
    case "unit":
      return `${o.manager === "user" ? "user unit" : "unit"} ${o.unit} (${leaderPid === undefined ? "no PID" : `PID ${leaderPid}${h.leader ? `, ${h.leader.comm}` : ""}`})`;
    case "container": {
      const name = o.name ?? shortId(o.id);
      const what = o.known
        ? `container ${name}`
        : `${o.runtime === "unknown" ? "a" : `a ${o.runtime}`} container ${name} not managed by this daemon`;
      return o.mainNamespace === false ? `${proc} inside ${what}` : what;
    }
    case "pod": {
      const pod = o.name ? `pod ${o.namespace ?? "default"}/${o.name}` : `pod ${o.uid}`;
      return o.containerName ? `container ${o.containerName} of ${pod}` : pod;
    }
  }
}

function daemonPhrase(d: DaemonLocation): string {
  const ns = d.namespace === null ? "" : ` ${d.namespace}`;
  return d.pid === null
    ? `the daemon's mount namespace${ns}`
    : `the daemon's mount namespace${ns} (${d.service ?? "dockerd"} PID ${d.pid})`;
}

/**
 * A finding's cause and cure, put in words when they are read rather than when the finding is
 * made. The sentences are a kilobyte or two per finding; a large host has tens of thousands of
 * findings, and words made with them would be carried through every garbage collection of the
 * analysis only to be written once at the end. Made on reading, they are garbage as soon as the
 * JSON piece or table row that uses them is written (on a host of 12,800 findings, analysis and
 * JSON 7-9 % cheaper, BENCHMARKS.md). The words last made are kept for the next read of the same
 * finding (JSON reads short, full and immediate in a row); a finding read again after another
 * one has its words made again.
 */
export function explain(ctx: ExplainContext): { cause: Cause; cure: Cure } {
  return { cause: new CauseWords(ctx), cure: new CureWords(ctx) };
}

/** `make`, keeping its result for the last context only: one finding's words are read in a row. */
function lastOnly<T>(make: (ctx: ExplainContext) => T): (ctx: ExplainContext) => T {
  let last: { ctx: ExplainContext; words: T } | null = null;
  return (ctx) => {
    if (last?.ctx !== ctx) last = { ctx, words: make(ctx) };
    return last.words;
  };
}

const causeOf = lastOnly(cause);
const cureOf = lastOnly(cure);

/** A finding's cause: its facts, and its words made from them when read. Its JSON is the same as a plain object's. */
class CauseWords implements Cause {
  readonly #ctx: ExplainContext;
  constructor(ctx: ExplainContext) {
    this.#ctx = ctx;
  }
  get short(): string {
    return causeOf(this.#ctx).short;
  }
  get full(): string {
    return causeOf(this.#ctx).full;
  }
  get facts(): CauseFacts {
    return this.#ctx.facts;
  }
  toJSON(): Cause {
    return { short: this.short, full: this.full, facts: this.facts };
  }
}

/** A finding's cure, in words made when read. Its JSON is the same as a plain object's. */
class CureWords implements Cure {
  readonly #ctx: ExplainContext;
  constructor(ctx: ExplainContext) {
    this.#ctx = ctx;
  }
  get short(): string {
    return cureOf(this.#ctx).short;
  }
  get full(): string {
    return cureOf(this.#ctx).full;
  }
  get immediate(): string | null {
    return cureOf(this.#ctx).immediate;
  }
  toJSON(): Cure {
    return { short: this.short, full: this.full, immediate: this.immediate };
  }
}

/** The engine whose unmounts the texts speak of. */
const engineOf = (ctx: ExplainContext): string => (ctx.daemon.service === "podman" ? "Podman" : "Docker");

function cause(ctx: ExplainContext): Explanation {
  const { severity, target, resource, holder } = ctx;
  const what = resourcePhrase(resource, target);
  const who = holderPhrase(holder);
  const owner = targetPhrase(target);

  if (ctx.pinned.length > 0) {
    const files = ctx.pinned.map((f) => `${f.kind === "fd" ? `fd ${f.fd}` : f.kind} ${f.path}`).join(", ");
    const first = ctx.pinned[0];
    const how = first ? ` (${first.kind === "fd" ? `fd ${first.fd}` : first.kind})` : "";
    const dev = `device ${first?.dev ?? "?"}`;
    if (severity === "captured") {
      return {
        short: `detached copy kept open${how}; stays alive after ${target.kind === "volume" ? "release" : "stop"}`,
        full:
          `${who} uses files of ${what} through a mount that is no longer attached anywhere (${dev}): ${files}. ` +
          `While ${owner} ${target.kind === "volume" ? "is in use" : "runs"} its own mount keeps the filesystem alive anyway; ` +
          "afterwards these files alone will keep it alive, with nothing left to unmount.",
      };
    }
    return {
      short: `detached, kept alive by open files${how}`,
      full:
        `${capitalize(what)} is no longer mounted in any namespace, but the filesystem (${dev}) ` +
        `stays alive because ${who} still uses it: ${files}. Its memory, disk space or block device is not released ` +
        "until those files are closed.",
    };
  }

  if (severity === "stale") {
    if (resource.kind === "volume-submount") {
      const binders = ctx.sharedBinders.length
        ? ` ${ctx.sharedBinders.map((n) => `Container ${n}`).join(", ")} bind${ctx.sharedBinders.length === 1 ? "s" : ""} the volume with shared propagation: what is mounted inside the volume there appears here too.`
        : " It was mounted in the daemon's namespace itself or propagated from a shared bind of the volume (none of this daemon's containers binds it shared now).";
      return {
        short: `below _data in ${ctx.daemon.service ?? "dockerd"}'s namespace; blocks volume rm`,
        full:
          `${capitalize(what)} is mounted in ${daemonPhrase(ctx.daemon)}.${binders} ` +
          `docker volume rm ${resource.volumeName} fails with "device or resource busy" until it is unmounted.`,
      };
    }
    const status = target.kind === "container" ? target.status : "gone";
    return {
      short: `left mounted in ${ctx.daemon.service ?? "dockerd"}'s namespace`,
      full:
        `${capitalize(what)} is still mounted in ${daemonPhrase(ctx.daemon)} although ${owner} is ${status}. ` +
        `${engineOf(ctx)} unmounts it when the container stops; that unmount failed or did not happen (look for ` +
        `"device or resource busy" in the daemon log).${
          ctx.facts.removal?.blocks === "no"
            ? " docker rm unmounts it before it removes the container."
            : " On this kernel docker rm may fail while another namespace holds a copy of it."
        }`,
    };
  }

  return copyCause(ctx, what, who, owner);
}

/** Whether the daemon's mount holding a bind's source can be the master of an rslave bind. */
const sourceReceives = (bind: NonNullable<CauseFacts["bind"]>): boolean =>
  bind.sourceMount === null ||
  bind.sourceMount.propagation === "shared" ||
  bind.sourceMount.propagation === "slave";

/** Where `mount --make-rshared /` must run: the host's namespace, or the daemon's own. */
function hostWhere(ctx: ExplainContext): string {
  // "On the host" only when the daemon's namespace is known to be PID 1's.
  return ctx.facts.daemonInHostNamespace === true
    ? "on the host"
    : `in the daemon's mount namespace (nsenter -t ${ctx.daemon.pid ?? "DOCKERD_PID"} -m mount --make-rshared /)`;
}

/** Whether a configured bind mode lets the bind receive the host's events. */
const receivingMode = (mode: string): boolean => /^r?(slave|shared)$/.test(mode);

const groupTag = (m: MountPropagation): string =>
  [
    m.peerGroup !== null ? `shared:${m.peerGroup}` : "",
    m.masterGroup !== null ? `master:${m.masterGroup}` : "",
  ]
    .filter(Boolean)
    .join(" ") || "private";

const mountPhrase = (m: MountPropagation): string => `${m.mountPoint} (mount ${m.mountId})`;
const taggedPhrase = (m: MountPropagation): string => `${m.mountPoint} (mount ${m.mountId}, ${groupTag(m)})`;
const sharedState = (m: MountPropagation | null): string =>
  m?.peerGroup != null ? `shared (peer group ${m.peerGroup})` : "shared";

/** What a held copy keeps, by the resource's kind. */
function keeps(kind: CauseFacts["resource"]): string {
  switch (kind) {
    case "shm":
      return "the tmpfs and the memory of its files";
    case "netns":
      return "the network namespace with its interfaces";
    case "rootfs":
      return "the container's filesystem";
    case "volume":
      return "the volume's filesystem (its device or network mount)";
    default:
      return "the mounted filesystem";
  }
}

/** One sentence on what this does to docker rm / docker volume rm on the daemon's kernel. */
function removalSentence(facts: CauseFacts, target: Target): string {
  const r = facts.removal;
  if (!r) return "";
  const cmd = `${r.command} ${targetName(target)}`;
  switch (r.blocks) {
    case "no":
      return ` It does not block ${cmd} on this kernel (${r.kernel}): removing the directory detaches the copy; until then it keeps ${keeps(facts.resource)}.`;
    case "yes":
      return ` On this kernel (${r.kernel}) ${cmd} fails with "device or resource busy" while the copy is held.`;
    case "unknown":
      return ` Whether ${cmd} fails while the copy is held depends on this kernel (${r.kernel}) and its fs.may_detach_mounts setting.`;
  }
}

function copyCause(ctx: ExplainContext, what: string, who: string, owner: string): Explanation {
  const { severity, target, holder, mount, facts } = ctx;
  const isVolume = target.kind === "volume";
  const op = facts.originalParent;
  const cp = facts.copyParent;
  const was = facts.original ? "is" : "was";
  const ns = `mount namespace ${holder.namespace}`;

  let reason: string;
  let shortWhy: string;
  switch (facts.cut) {
    case "original": {
      const state =
        op?.propagation === "slave" ? `only a slave (master:${op.masterGroup}), not shared` : "private";
      const bind = facts.bind;
      const bindNote =
        bind && receivingMode(bind.mode)
          ? ` Its bind of ${bind.source} at ${bind.destination} being ${bind.mode} does not help: a copy of a private mount has no master to follow.`
          : "";
      reason =
        ` The daemon's mount it ${was} attached on, ${op ? mountPhrase(op) : "?"}, is ${state}, so ${engineOf(ctx)}'s unmounts there ` +
        `propagate to no other namespace and every copy stays.${bindNote}`;
      shortWhy = `${op?.mountPoint ?? "the daemon's side"} is not shared`;
      break;
    }
    case "bind": {
      const bind = facts.bind;
      const src = bind?.sourceMount;
      const configured =
        bind?.mode === "" || bind?.mode === undefined
          ? `${engineOf(ctx)}'s default (rprivate)`
          : receivingMode(bind.mode)
            ? src && !sourceReceives(bind)
              ? `private in the kernel: it is configured ${bind.mode}, but its source lies on ${mountPhrase(src)}, which is neither shared nor a slave, and ${engineOf(ctx)} fell back to private propagation`
              : `private in the kernel: it is configured ${bind.mode}, but was made while its source was not shared`
            : bind.mode;
      reason =
        ` The daemon's mount it ${was} attached on, ${op ? mountPhrase(op) : "?"}, is ${sharedState(op)}, but the container's bind of ` +
        `${bind?.source} at ${bind?.destination}${bind?.mount ? ` (mount ${bind.mount.mountId})` : ""} is ${configured}. ` +
        `${engineOf(ctx)}'s unmounts stop there.`;
      shortWhy = `private bind of ${bind?.source}`;
      break;
    }
    case "namespace":
      reason =
        ` The daemon's mount it ${was} attached on, ${op ? mountPhrase(op) : "?"}, is ${sharedState(op)}, but in this namespace the copy's ` +
        `parent, ${cp ? mountPhrase(cp) : "?"}, is private: ${privateWhy(ctx)}, so ${engineOf(ctx)}'s unmounts do not reach it.`;
      shortWhy = "private namespace";
      break;
    case "group":
      reason =
        ` The copy's parent, ${cp ? taggedPhrase(cp) : "?"}, follows a peer group that does not receive from the daemon's ` +
        `mount ${op ? taggedPhrase(op) : "?"}: the namespace was copied from another one, or before the daemon's side was shared.`;
      shortWhy = "follows another peer group";
      break;
    case "none":
      reason =
        ` The copy's parent, ${cp ? taggedPhrase(cp) : "?"}, receives the unmounts of the daemon's ${op ? taggedPhrase(op) : "mount"}, ` +
        "yet the copy stayed: the kernel does not propagate an unmount to a copy that has mounts on or below it, or that a " +
        "user namespace locked.";
      shortWhy = "mounted over, or locked";
      break;
    default:
      reason = ` Why it did not follow ${engineOf(ctx)}'s unmount is unknown: the daemon's namespace or the copy's parent could not be seen.`;
      shortWhy = "";
  }

  // The table's other columns name the target, its state, the holder and its namespace: the
  // short cause says only when the copy leaks and why.
  const when =
    severity === "captured"
      ? `leaks at ${isVolume ? "release" : "stop"}`
      : `kept after ${isVolume ? "release" : target.status === "removed" ? "removal" : "stop"}`;
  const short = shortWhy ? `${when}: ${shortWhy}` : when;
  const made = `${capitalize(ns)} of ${who} has its own copy of ${what}${mount ? `: mount ${mount.mountId} at ${mount.mountPoint}` : ""}.`;
  const outcome =
    severity === "captured"
      ? ` When ${isVolume ? `the last container using ${owner}` : owner} stops, the copy will stay.`
      : ` ${engineOf(ctx)} unmounted the original when ${isVolume ? `the last container using ${owner}` : owner} stopped; the copy did not follow.`;
  return { short, full: `${made}${reason}${outcome}${removalSentence(facts, target)}` };
}

/** Why the holder's namespace is private at the copy's parent, by how it was made. */
function privateWhy(ctx: ExplainContext): string {
  const h = ctx.holder;
  const o = h.owner;
  const pid = h.leader?.pid ?? h.pids[0];
  switch (o.kind) {
    case "process":
      return `PID ${pid} made its namespace private (unshare -m does by default, as does mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL))`;
    case "unit":
      return `unit ${o.unit}'s namespace is private there (systemd makes it so for MountFlags=private; its PrivateTmp=/PrivateMounts= namespaces are slaves otherwise)`;
    case "container":
      return o.mainNamespace === false
        ? `PID ${pid} made its own private namespace inside container ${o.name ?? shortId(o.id)}`
        : `the container's runtime made that part of its namespace private`;
    case "pod":
      return "the pod's hostPath is mounted without HostToContainer (mountPropagation: None)";
    case "daemon":
      return "it is the daemon's own namespace";
  }
}

function cure(ctx: ExplainContext): Cure {
  const { severity, target, resource, holder } = ctx;
  const name = targetName(target);
  // Names come from the daemon; the command is quoted anyway, so that it is safe to paste.
  const command = leakCommand(target.kind === "volume" ? "volume rm" : "rm", target);
  const immediate =
    severity === "pinned" || severity === "captured"
      ? null
      : target.kind === "container" && target.status === "removed"
        ? null
        : command;

  if (ctx.pinned.length > 0) {
    const who = holderPhrase(holder);
    // Advice on propagation only when its namespace is private: a slave's copy that was busy
    // when Docker's unmount reached it is detached and kept alive the same way.
    const durable = ctx.facts.namespaceReceives === false ? ` ${holderDurable(ctx)}` : "";
    return {
      short: `restart ${who}`,
      full: `Stop or restart ${who}, or make it close those files and leave that directory; nothing is mounted, so unmounting cannot help.${durable}`,
      immediate,
    };
  }

  if (severity === "stale") {
    if (resource.kind === "volume-submount") {
      return {
        short: ctx.sharedBinders.length ? `${command}; bind it rslave` : command,
        full:
          `Run \`${command}\` (or unmount ${resource.path} in the daemon's namespace). ` +
          (ctx.sharedBinders.length
            ? `For good, recreate ${ctx.sharedBinders.map((n) => `container ${n}`).join(", ")} with the volume bound rslave ` +
              `or rprivate instead of rshared (e.g. -v ${name}:/data:rslave), or unmount what it mounts inside the volume before it stops.`
            : "For good, find what mounts inside the volume and have it unmount before its container stops."),
        immediate,
      };
    }
    return {
      short: immediate ?? "unmount it in the daemon's namespace",
      full:
        `${immediate ? `Run \`${immediate}\`` : `Unmount ${resource.path} in the daemon's namespace`}. ` +
        "Then look for the cause of the failed unmount: usually another namespace that held a copy while the " +
        "container stopped (run docker leak scan again) or, on old kernels, fs.may_detach_mounts=0.",
      immediate,
    };
  }

  const durable = copyDurable(ctx);
  const now =
    severity === "captured"
      ? `Nothing is leaked yet. Fix it before ${name} ${target.kind === "volume" ? "is released" : "stops"}; if it already has, run \`${command}\`.`
      : immediate
        ? `Now: \`${immediate}\` unmounts the copy in the holder's namespace (or restart the holder).`
        : "Now: restart the holder to drop its copy.";
  return { short: durable.short, full: `${now} ${durable.full}`, immediate };
}

/** The durable fix for a held copy, on the side where the facts say the chain is cut. */
function copyDurable(ctx: ExplainContext): { short: string; full: string } {
  const f = ctx.facts;
  const h = ctx.holder;
  const o = h.owner;
  const who = holderPhrase(h);
  const bind = f.bind;
  const foreign =
    o.kind === "container" && !o.known
      ? " It is not a container of this daemon: fix it in the runtime that manages it."
      : "";
  const containerName = o.kind === "container" ? (o.name ?? shortId(o.id)) : null;
  switch (f.cut) {
    case "original": {
      const where = hostWhere(ctx);
      return {
        short: `mount --make-rshared / ${f.daemonInHostNamespace === true ? "on the host" : `in ${ctx.daemon.service ?? "dockerd"}'s ns`}, then ${holderAfterHostFix(ctx).short}`,
        full:
          `For good: make the daemon's side shared, so that its unmounts propagate: \`mount --make-rshared /\` ${where}, ` +
          `as systemd does at boot (without systemd, run it at boot before ${ctx.daemon.service ?? "dockerd"} starts). It applies to mounts made ` +
          `afterwards: ${holderAfterHostFix(ctx).full}${bind ? ` Or do not bind ${bind.source} into container ${containerName ?? "it"} at all.` : ""}${foreign}`,
      };
    }
    case "bind": {
      if (o.kind === "pod") return podDurable(ctx);
      const name = containerName ?? "it";
      // An rslave bind needs a shared (or slave) source: where the source is private on the
      // host, that comes first.
      const hostFirst =
        bind && !sourceReceives(bind)
          ? `make its source shared first: \`mount --make-rshared /\` ${hostWhere(ctx)}, as systemd does at boot; then `
          : "";
      if (bind && receivingMode(bind.mode)) {
        return {
          short: hostFirst
            ? `mount --make-rshared /, then recreate ${name}`
            : `recreate ${name} (its ${bind.mode} bind is private)`,
          full: `For good: ${hostFirst}recreate container ${name}: its bind of ${bind.source} is configured ${bind.mode} already and follows ${engineOf(ctx)}'s unmounts once it is made from a shared source.${foreign}`,
        };
      }
      return {
        short: hostFirst
          ? `mount --make-rshared /, then bind rslave`
          : `recreate ${name} with the bind rslave`,
        full:
          `For good: ${hostFirst}recreate container ${name} with that bind rslave (-v ${bind?.source ?? "SRC"}:${bind?.destination ?? "DST"}:rslave, ` +
          `or --mount type=bind,...,bind-propagation=rslave), or without binding ${bind?.source ?? "that host path"} at all.${foreign}`,
      };
    }
    case "namespace":
      return namespaceDurable(ctx, foreign);
    case "group":
      return {
        short: `restart ${who}`,
        full:
          `For good: restart ${who}, so that its namespace is copied from the daemon's mounts as they are now` +
          `${f.namespaceReceives === false ? ", with slave propagation (unshare -m --propagation slave)" : ""}.${foreign}`,
      };
    case "none":
      return {
        short: `restart ${who}`,
        full:
          `For good: restart ${who}. Its copies receive ${engineOf(ctx)}'s unmounts; this one stayed because of what is mounted on or ` +
          `below it (unmount that first) or a user namespace's lock.${foreign}`,
      };
    default:
      return { short: holderShortCure(ctx), full: holderDurable(ctx) };
  }
}

/** What the holder needs besides a shared host side, from what it has in place. */
function holderAfterHostFix(ctx: ExplainContext): { short: string; full: string } {
  const f = ctx.facts;
  const h = ctx.holder;
  const o = h.owner;
  const pid = h.leader?.pid ?? h.pids[0];
  const bind = f.bind;
  switch (o.kind) {
    case "container":
    case "pod": {
      const name = o.kind === "container" ? `container ${o.name ?? shortId(o.id)}` : holderPhrase(h);
      if (o.kind === "container" && o.mainNamespace === false) {
        return f.namespaceReceives === false
          ? {
              short: `restart PID ${pid} with slave propagation`,
              full: `restart PID ${pid} inside ${name} with slave propagation (unshare -m --propagation slave), since its namespace is private.`,
            }
          : {
              short: `restart PID ${pid}`,
              full: `restart PID ${pid} inside ${name}, so that it copies them again.`,
            };
      }
      if (bind && !receivingMode(bind.mode)) {
        return o.kind === "pod"
          ? {
              short: "recreate the pod with HostToContainer",
              full: `recreate ${name} with mountPropagation: HostToContainer on its hostPath mounts (its bind of ${bind.source} is ${bind.mode || "rprivate"}).`,
            }
          : {
              short: `recreate ${name.slice("container ".length)} with the bind rslave`,
              full: `recreate ${name} with its bind of ${bind.source} rslave (-v ${bind.source}:${bind.destination}:rslave); it is ${bind.mode || `rprivate, ${engineOf(ctx)}'s default`} now.`,
            };
      }
      return {
        short: `recreate ${o.kind === "container" ? name.slice("container ".length) : "the pod"}`,
        full: `recreate ${name}, so that its ${bind ? `${bind.mode} bind of ${bind.source}` : "namespace"} is made again from shared mounts.`,
      };
    }
    case "unit":
      return f.namespaceReceives === false
        ? {
            short: `restart ${o.unit} without MountFlags=private`,
            full: `restart ${o.unit} without MountFlags=private (its namespace is private).`,
          }
        : {
            short: `restart ${o.unit}`,
            full: `restart ${o.unit}, so that its namespace is made again from shared mounts.`,
          };
    default:
      return f.namespaceReceives === false
        ? {
            short: `restart PID ${pid} with slave propagation`,
            full: `restart PID ${pid} with slave propagation (unshare -m --propagation slave), since its namespace is private.`,
          }
        : {
            short: `restart PID ${pid}`,
            full: `restart PID ${pid}, so that its namespace is made again from shared mounts.`,
          };
  }
}

/** The holder made its namespace private at the copy's parent: the fix is the holder's. */
function namespaceDurable(ctx: ExplainContext, foreign: string): { short: string; full: string } {
  const f = ctx.facts;
  const o = ctx.holder.owner;
  const bind = f.bind;
  if (o.kind === "container" && o.mainNamespace !== false) {
    const name = o.name ?? shortId(o.id);
    const rebind = bind && !receivingMode(bind.mode);
    return {
      short: `recreate ${name}${rebind ? " with the bind rslave" : ""}`,
      full: `For good: recreate container ${name}${rebind ? ` with its bind of ${bind.source} rslave (-v ${bind.source}:${bind.destination}:rslave)` : ""}.${foreign}`,
    };
  }
  if (o.kind === "container") {
    const name = o.name ?? shortId(o.id);
    const rebind =
      bind && !receivingMode(bind.mode)
        ? ` That only helps if container ${name} receives them too: recreate it with its bind of ${bind.source} rslave.`
        : "";
    return {
      short: "restart the process; unshare --propagation slave",
      full:
        `For good: restart ${holderPhrase(ctx.holder)} (or the container) and have it use slave propagation ` +
        `(unshare -m --propagation slave).${rebind}${foreign}`,
    };
  }
  return { short: holderShortCure(ctx), full: holderDurable(ctx) };
}

function holderShortCure(ctx: ExplainContext): string {
  const o = ctx.holder.owner;
  switch (o.kind) {
    case "process":
      return "restart it, or unshare with --propagation slave";
    case "unit":
      return `restart ${o.unit}; drop MountFlags=private`;
    case "container":
      return o.mainNamespace === false
        ? "restart the process; unshare --propagation slave"
        : "recreate it with the bind rslave (-v ...:rslave)";
    case "pod":
      return "set mountPropagation: HostToContainer";
    case "daemon":
      return "unmount it in the daemon's namespace";
  }
}

function holderDurable(ctx: ExplainContext): string {
  const h = ctx.holder;
  const o = h.owner;
  const pid = h.leader?.pid ?? h.pids[0];
  const cmd = h.leader ? ` (${h.leader.cmdline.join(" ") || h.leader.comm})` : "";
  switch (o.kind) {
    case "process":
      return (
        `For good: restart PID ${pid}${cmd}, and start it with slave propagation so that ${engineOf(ctx)}'s unmounts reach ` +
        'its namespace (unshare -m --propagation slave ...; in code, mount(NULL, "/", NULL, MS_REC|MS_SLAVE, NULL) ' +
        "instead of MS_PRIVATE)."
      );
    case "unit": {
      const ctl = o.manager === "user" ? "systemctl --user" : "systemctl";
      return (
        `For good: \`${ctl} restart ${o.unit}\`, and let the unit's namespace receive the host's unmounts: ` +
        "remove MountFlags=private from it (or set MountFlags=slave). systemd's PrivateMounts=/PrivateTmp=/" +
        "ProtectSystem= namespaces follow the host's unmounts unless MountFlags=private cuts them off."
      );
    }
    case "container": {
      const name = o.name ?? shortId(o.id);
      if (o.mainNamespace === false) {
        return (
          `For good: PID ${pid}${cmd} inside container ${name} made its own private mount namespace; restart it ` +
          `(or the container) and have it use slave propagation (unshare -m --propagation slave). That only helps if ` +
          `container ${name} receives the host's mounts as a slave: bind host paths with rslave.`
        );
      }
      const bind = ctx.facts.bind;
      const via = bind
        ? ` Its bind of ${bind.source} at ${bind.destination} is configured ${bind.mode || "rprivate"}.`
        : "";
      if (bind && receivingMode(bind.mode)) {
        return (
          `For good: recreate container ${name}, or run it without binding ${bind.source}.${via}` +
          (o.known ? "" : " It is not a container of this daemon: fix it in the runtime that manages it.")
        );
      }
      return (
        `For good: recreate container ${name} with the host path bound rslave (-v ${bind?.source ?? "SRC"}:${bind?.destination ?? "DST"}:rslave, or ` +
        `--mount ...,bind-propagation=rslave) or without binding that host path at all.${via}` +
        (o.known ? "" : " It is not a container of this daemon: fix it in the runtime that manages it.")
      );
    }
    case "pod":
      return podDurable(ctx).full;
    case "daemon":
      return "";
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function podDurable(ctx: ExplainContext): { short: string; full: string } {
  const o = ctx.holder.owner;
  if (o.kind !== "pod") return { short: "", full: "" };
  const pod = o.name ? `${o.namespace ?? "default"}/${o.name}` : o.uid;
  const bind = ctx.facts.bind;
  if (bind && receivingMode(bind.mode)) {
    return {
      short: "recreate the pod",
      full: `For good: recreate pod ${pod}: its hostPath ${bind.source} is mounted ${bind.mode} already, but its copy does not follow.`,
    };
  }
  return {
    short: "set mountPropagation: HostToContainer",
    full:
      `For good: set mountPropagation: HostToContainer on the hostPath volumeMounts of pod ${pod} that reach ` +
      `${engineOf(ctx)}'s paths${bind ? ` (${bind.source} is mounted ${bind.mode || "rprivate"})` : ""}, then recreate the pod.`,
  };
}
