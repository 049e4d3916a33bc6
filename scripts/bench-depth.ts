/**
 * A benchmark, not a test: the depth of every mount of a namespace whose mounts are chained (each
 * stacked on the previous one), as the leak model computes it (MountTable.depth, each depth once)
 * against the walk it replaced (from each mount up through its parents, a new Set per mount).
 *
 *   node --import tsx scripts/bench-depth.ts [N...]     (default 10000 20000 100000; the old walk
 *                                                        only up to 20000: it is quadratic)
 */
import { MountTable } from "../src/model/mount-table.js";
import { type MountinfoEntry, parseMountinfoLine } from "../src/model/mountinfo.js";

function chain(n: number): MountinfoEntry[] {
  const lines = ["1 0 254:0 / / rw - ext4 /dev/vda rw"];
  for (let i = 2; i <= n; i++) lines.push(`${i} ${i - 1} 0:${i} / /stack rw - tmpfs t rw`);
  return lines.map((l) => parseMountinfoLine(l));
}

/** The walk the model used before: per mount, up its parents with a new Set. */
function oldDepths(entries: readonly MountinfoEntry[]): number {
  const byId = new Map(entries.map((e) => [e.mountId, e]));
  let total = 0;
  for (const e of entries) {
    let depth = 0;
    const seen = new Set<number>([e.mountId]);
    for (let p = byId.get(e.parentId); p && !seen.has(p.mountId); p = byId.get(p.parentId)) {
      seen.add(p.mountId);
      depth++;
    }
    total += depth;
  }
  return total;
}

function newDepths(entries: readonly MountinfoEntry[]): number {
  const table = new MountTable(entries);
  let total = 0;
  for (const e of entries) total += table.depth(e);
  return total;
}

const sizes = process.argv.slice(2).map(Number);
for (const n of sizes.length ? sizes : [10_000, 20_000, 100_000]) {
  const entries = chain(n);
  const t0 = performance.now();
  const a = newDepths(entries);
  const t1 = performance.now();
  let old = "not run (quadratic)";
  if (n <= 20_000) {
    const b = oldDepths(entries);
    if (a !== b) throw new Error(`depths differ: ${a} != ${b}`);
    old = `${((performance.now() - t1) / 1000).toFixed(2)} s`;
  }
  console.log(`${n} chained mounts: MountTable.depth ${((t1 - t0) / 1000).toFixed(3)} s; old walk ${old}`);
}
