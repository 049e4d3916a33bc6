#!/usr/bin/env node
// Benchmark tool: reads the JSON lines scripts/bench-trace.cjs wrote for several `docker leak scan`
// runs and prints the median of each phase (ms since the process started).
import { readFileSync } from "node:fs";

const runs = readFileSync(process.argv[2], "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const phases = runs.map(({ calls, exit }) => {
  const first = Math.min(...calls.map((c) => c.start));
  const create = calls.find((c) => c.what.startsWith("POST /containers/create"));
  const start = calls.find((c) => /^POST \/containers\/<id>\/start$/.test(c.what));
  const wait = calls.find((c) => /^POST \/containers\/<id>\/wait$/.test(c.what));
  return {
    "node start-up + bundle load (to the first API call)": first,
    "daemon facts, lists, helper image (to the create)": (create?.start ?? Number.NaN) - first,
    "helper container: create": (create?.end ?? Number.NaN) - (create?.start ?? Number.NaN),
    "helper container: start (API call)": (start?.end ?? Number.NaN) - (start?.start ?? Number.NaN),
    "helper run, exit and removal (analysis overlaps)":
      (wait?.end ?? Number.NaN) - (start?.end ?? Number.NaN),
    "after the container is gone, until exit": exit - (wait?.end ?? Number.NaN),
    "total (process exit)": exit,
    "API calls": calls.length,
  };
});
for (const key of Object.keys(phases[0] ?? {})) {
  const v = median(phases.map((p) => p[key]));
  console.log(
    `  ${key.padEnd(54)} ${key === "API calls" ? String(v).padStart(8) : `${v.toFixed(1).padStart(8)} ms`}`,
  );
}
