/**
 * The fields that `--format TEMPLATE` sees, per command (documented in README.md, "Formatting
 * output"), and the rows made from the same data as the table and JSON renderings. Strings are
 * raw here: the template evaluator escapes them on output (template.ts).
 */
import { holderPhrase, shortId } from "../model/explain.js";
import type { Finding } from "../model/findings.js";
import type { DaemonFacts } from "../model/inventory.js";
import type { RemovalReport } from "../model/removal.js";
import { mountCell, type ScanView, targetCell } from "./scan.js";
import type { Row, Schema } from "./template.js";
import { engineOf, type ShownEndpoint, type ShownVersion } from "./version.js";

const str = { type: "string" } as const;
const int = { type: "int" } as const;
const bool = { type: "bool" } as const;

/** One row per finding, in the table's order. */
export const SCAN_FIELDS: Schema = {
  name: "scan row",
  fields: {
    ID: str,
    Name: str,
    Kind: str,
    Image: str,
    State: str,
    Target: str,
    Severity: str,
    Resource: str,
    Mount: str,
    MountPoint: str,
    Holder: str,
    HolderKind: str,
    PIDs: { type: "[]int", header: "PIDS" },
    Namespace: int,
    Cause: str,
    Cure: str,
    Command: str,
  },
};

/** A scan of many daemons (`--context A,B`, `--all-contexts`, `--swarm`): the context first. */
export const FLEET_SCAN_FIELDS: Schema = {
  name: "scan row",
  fields: { Context: str, ...SCAN_FIELDS.fields },
};

export function scanRow(f: Finding, noTrunc: boolean): Row {
  const t = f.target;
  return {
    ID: t.kind === "volume" ? t.name : noTrunc ? t.id : shortId(t.id),
    Name: t.kind === "volume" ? t.name : (t.name ?? ""),
    Kind: t.kind,
    Image: t.kind === "container" ? (t.image ?? "") : "",
    State: t.status,
    Target: targetCell(t, noTrunc),
    Severity: f.severity,
    Resource: f.resource.kind,
    Mount: mountCell(f),
    MountPoint: f.mount?.mountPoint ?? f.resource.path,
    Holder: holderPhrase(f.holder),
    HolderKind: f.holder.owner.kind,
    PIDs: f.holder.pids,
    Namespace: f.holder.namespace,
    Cause: noTrunc ? f.cause.full : f.cause.short,
    Cure: noTrunc ? f.cure.full : f.cure.short,
    Command: f.cure.immediate ?? "",
  };
}

export function scanRows(view: ScanView, noTrunc: boolean): Row[] {
  return view.findings.map((f) => scanRow(f, noTrunc));
}

/** One row per target of `rm` / `volume rm`, in the order they were named. */
export const REMOVAL_FIELDS: Schema = {
  name: "removal row",
  fields: {
    Ref: str,
    ID: str,
    Name: str,
    Kind: str,
    Status: str,
    Stopped: bool,
    Removed: bool,
    Unmounts: int,
    Released: int,
    Detached: int,
    Remaining: int,
    Failures: { type: "[]string" },
    Reason: str,
  },
};

export function removalRows(report: RemovalReport): Row[] {
  return report.targets.map((t) => ({
    Ref: t.ref,
    ID: t.id ?? t.name,
    Name: t.name,
    Kind: t.kind,
    Status: t.status,
    Stopped: t.stopped,
    Removed: t.status === "removed" || t.removed,
    Unmounts: t.orders.length,
    Released: t.released,
    Detached: t.detached,
    Remaining: t.remaining.length,
    Failures: t.failures,
    Reason: t.reason ?? "",
  }));
}

/** `docker leak version`: one row, nested like `docker version`'s. */
export const VERSION_FIELDS: Schema = {
  name: "version",
  fields: {
    Plugin: { type: { name: "plugin", fields: { Version: str } } },
    Server: {
      type: {
        name: "server",
        fields: {
          Engine: str,
          Version: str,
          APIVersion: str,
          MinAPIVersion: str,
          Os: str,
          Arch: str,
          KernelVersion: str,
          RootDir: str,
          Driver: str,
        },
      },
    },
    Endpoint: { type: { name: "endpoint", fields: { Host: str, Context: str, Source: str } } },
  },
};

export function versionRow(
  pluginVersion: string,
  version: ShownVersion,
  info: DaemonFacts,
  endpoint: ShownEndpoint,
): Row {
  return {
    Plugin: { Version: pluginVersion },
    Server: {
      Engine: engineOf(version, info),
      Version: version.version,
      APIVersion: version.apiVersion,
      MinAPIVersion: version.minApiVersion,
      Os: version.os,
      Arch: version.arch,
      KernelVersion: version.kernelVersion,
      RootDir: info.rootDir,
      Driver: info.driver,
    },
    Endpoint: { Host: endpoint.host, Context: endpoint.context, Source: endpoint.source },
  };
}

/** `scan --swarm --node-host TEMPLATE`: how to reach a node, from what its manager says of it. */
export const NODE_HOST_FIELDS: Schema = {
  name: "node",
  fields: { Hostname: str, Addr: str, ID: str },
};
