/**
 * Writes a metrics file the way node_exporter's textfile collector wants it: a temporary file in
 * the same directory, then renamed over the old one, so that a reader never sees half of it.
 */
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { LeakError } from "../errors.js";

export function writeFileAtomically(path: string, text: string): void {
  // A dot name without .prom: the collector ignores it while it is being written.
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, text, { mode: 0o644 });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "ENOENT"
        ? "its directory does not exist"
        : e.code === "EACCES"
          ? "permission denied"
          : e.message;
    throw new LeakError(`cannot write the metrics file ${path}: ${why}`);
  }
}
