/** `docker leak scan --format json` as the integration tests run it. */
import assert from "node:assert/strict";
import type { DetachedFile, Finding } from "../../src/model/findings.js";
import { plugin, type Run } from "./daemon.js";

export interface ScanJson {
  schemaVersion: number;
  leaks: boolean;
  daemon: { rootDir: string; namespace: number | null; pid: number | null };
  findings: Finding[];
  detached: DetachedFile[];
}

export interface JsonRun extends Run {
  json: ScanJson;
}

/** `docker leak scan --format json ARGS…`; fails the test when the output is not JSON. */
export function scanJson(args: string[]): JsonRun {
  const r = plugin(["scan", "--format", "json", ...args]);
  let json: ScanJson;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    assert.fail(`scan ${args.join(" ")} printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  assert.equal(json.schemaVersion, 1);
  return { ...r, json };
}
