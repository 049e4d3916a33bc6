/**
 * Cause and cure of a finding, in words: a short form for the table and a full one for JSON.
 * The cure names the durable fix for the kind of holder (propagation of its namespace) and the
 * command that releases the copy now.
 */
import type { DaemonLocation } from "./daemon.js";
import type { Cure, Explanation, MountRef, PinnedFile, Severity } from "./findings.js";
import type { Holder } from "./holders.js";
import { leakCommand } from "./names.js";
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
  /** The holder container's bind that exposes the resource's host path */
  exposingBind: { source: string; destination: string; propagation: string } | null;
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
  const owner = `${targetName(t)}'s`;
  switch (r.kind) {
    case "rootfs":
      return `${owner} root filesystem (${r.path})`;
    case "shm":
      return `${owner} /dev/shm (tmpfs at ${r.path})`;
    case "container-mount":
      return `${owner} mount at ${r.path}`;
    case "container-file":
      return `${owner} ${r.path.slice(r.path.lastIndexOf("/") + 1)} file (${r.path})`;
    case "netns":
      return `${owner} network namespace file (${r.path})`;
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

function propagationPhrase(m: MountRef | null): { mode: string; why: string } {
  switch (m?.propagation ?? "private") {
    case "slave":
      return {
        mode: "slave propagation",
        why: ` Its master (peer group ${m?.masterGroup}) is not the daemon's mount, so Docker's unmounts do not reach it.`,
      };
    case "shared":
      return {
        mode: "shared propagation",
        why: ` Its peer group ${m?.peerGroup} does not include the daemon's mount, so Docker's unmounts do not reach it.`,
      };
    default:
      return { mode: "private propagation", why: "" };
  }
}

function daemonPhrase(d: DaemonLocation): string {
  const ns = d.namespace === null ? "" : ` ${d.namespace}`;
  return d.pid === null
    ? `the daemon's mount namespace${ns}`
    : `the daemon's mount namespace${ns} (dockerd PID ${d.pid})`;
}

export function explain(ctx: ExplainContext): { cause: Explanation; cure: Cure } {
  return { cause: cause(ctx), cure: cure(ctx) };
}

function cause(ctx: ExplainContext): Explanation {
  const { severity, target, resource, holder, mount } = ctx;
  const what = resourcePhrase(resource, target);
  const who = holderPhrase(holder);
  const ns = `mount namespace ${holder.namespace}`;
  const owner = targetPhrase(target);

  if (ctx.pinned.length > 0) {
    const files = ctx.pinned.map((f) => `${f.kind === "fd" ? `fd ${f.fd}` : f.kind} ${f.path}`).join(", ");
    const first = ctx.pinned[0];
    const how = first ? ` (${first.kind === "fd" ? `fd ${first.fd}` : first.kind})` : "";
    const dev = `device ${first?.dev ?? "?"}`;
    if (severity === "captured") {
      return {
        short: `detached copy kept open by ${who}${how}; stays alive when ${targetName(target)} ${target.kind === "volume" ? "is released" : "stops"}`,
        full:
          `${who} uses files of ${what} through a mount that is no longer attached anywhere (${dev}): ${files}. ` +
          `While ${owner} ${target.kind === "volume" ? "is in use" : "runs"} its own mount keeps the filesystem alive anyway; ` +
          "afterwards these files alone will keep it alive, with nothing left to unmount.",
      };
    }
    return {
      short: `detached, kept alive by ${who}${how}`,
      full:
        `${capitalize(what)} is no longer mounted in any namespace, but the filesystem (${dev}) ` +
        `stays alive because ${who} still uses it: ${files}. Its memory, disk space or block device is not released ` +
        "until those files are closed.",
    };
  }

  if (severity === "stale") {
    if (resource.kind === "volume-submount") {
      const binders = ctx.sharedBinders.length
        ? ` It propagated back from ${ctx.sharedBinders.map((n) => `container ${n}`).join(", ")}, which bind${ctx.sharedBinders.length === 1 ? "s" : ""} the volume with shared propagation.`
        : " It most likely propagated back from a container that bound the volume with rshared propagation and mounted something inside it.";
      return {
        short: "mounted below the volume's data in the daemon's namespace; blocks volume rm",
        full:
          `${capitalize(what)} is mounted in ${daemonPhrase(ctx.daemon)}.${binders} ` +
          `docker volume rm ${resource.volumeName} fails with "device or resource busy" until it is unmounted.`,
      };
    }
    const status = target.kind === "container" ? target.status : "gone";
    return {
      short: `still mounted in the daemon's namespace; ${targetName(target)} is ${status}`,
      full:
        `${capitalize(what)} is still mounted in ${daemonPhrase(ctx.daemon)} although ${owner} is ${status}. ` +
        "Docker unmounts it when the container stops; that unmount failed or did not happen (look for " +
        '"device or resource busy" in the daemon log), and docker rm can fail for the same reason.',
    };
  }

  const prop = propagationPhrase(mount);
  const isVolume = target.kind === "volume";
  const released = isVolume ? `the last container using ${owner} stopped` : `${owner} stopped`;
  const copy =
    mount?.propagation === "private" || mount?.propagation === "unbindable" ? "private" : "foreign";
  const short =
    severity === "captured"
      ? `${copy} copy in ns of ${who}; leaks when ${targetName(target)} ${isVolume ? "is released" : "stops"}`
      : `${copy} copy in ns of ${who}, kept after ${targetName(target)} ${isVolume ? "was released" : "stopped"}`;
  const made =
    `${capitalize(ns)} of ${who} was made with ${prop.mode} while ${isVolume ? `${owner} was mounted` : `${owner} ran`}, ` +
    `so it got its own copy of ${what}${mount ? `: mount ${mount.mountId} at ${mount.mountPoint}` : ""}.${prop.why}`;
  const full =
    severity === "captured"
      ? `${made} When ${isVolume ? `the last container using ${owner}` : owner} stops, the copy will stay held (memory, devices, docker rm and docker volume rm are affected).`
      : `${made} Docker unmounted the original when ${released}; the copy did not follow and still holds it${
          resource.kind === "shm" ? " (and the tmpfs memory)" : ""
        }.`;
  return { short, full };
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
    return {
      short: `restart ${who}`,
      full: `Stop or restart ${who}, or make it close those files and leave that directory; nothing is mounted, so unmounting cannot help. ${holderDurable(ctx)}`,
      immediate,
    };
  }

  if (severity === "stale") {
    if (resource.kind === "volume-submount") {
      return {
        short: `${command}; bind it rslave`,
        full:
          `Run \`${command}\` (or unmount ${resource.path} in the daemon's namespace). ` +
          "For good, bind the volume with rslave or rprivate propagation instead of rshared (e.g. -v " +
          `${name}:/data:rslave), or unmount what the container mounted inside it before it stops.`,
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

  const durable = holderDurable(ctx);
  const now =
    severity === "captured"
      ? `Nothing is leaked yet. Fix the holder before ${name} ${target.kind === "volume" ? "is released" : "stops"}; if it already has, run \`${command}\`.`
      : immediate
        ? `Now: \`${immediate}\` unmounts the copy in the holder's namespace (or restart the holder).`
        : "Now: restart the holder to drop its copy.";
  return { short: holderShortCure(ctx), full: `${now} ${durable}`, immediate };
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
        `For good: restart PID ${pid}${cmd}, and start it with slave propagation so that Docker's unmounts reach ` +
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
      const bind = ctx.exposingBind;
      const via = bind
        ? ` Its bind of ${bind.source} at ${bind.destination} has ${bind.propagation || "rprivate"} propagation.`
        : "";
      return (
        `For good: recreate container ${name} with the host path bound rslave (-v ${bind?.source ?? "SRC"}:${bind?.destination ?? "DST"}:rslave, or ` +
        `--mount ...,bind-propagation=rslave) or without binding that host path at all.${via}` +
        (o.known ? "" : " It is not a container of this daemon: fix it in the runtime that manages it.")
      );
    }
    case "pod": {
      const pod = o.name ? `${o.namespace ?? "default"}/${o.name}` : o.uid;
      return (
        `For good: set mountPropagation: HostToContainer on the hostPath volumeMounts of pod ${pod} that reach ` +
        "Docker's paths, then recreate the pod."
      );
    }
    case "daemon":
      return "";
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
