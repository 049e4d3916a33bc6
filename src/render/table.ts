/**
 * Column layout like docker's tabwriter output: upper-case headers, three spaces between columns.
 * Every cell is escaped for the terminal (escape.ts) before widths are measured, so that text from
 * the scanned system can neither move the cursor nor forge rows, and escapes keep columns aligned.
 */
import { escapeForTerminal } from "./escape.js";

export interface Column<Row> {
  header: string;
  /** The cell's text, raw: renderTable escapes it. */
  value: (row: Row) => string;
  /** Colour applied after padding is computed (escape codes don't count). */
  paint?: (text: string, row: Row) => string;
}

export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => escapeForTerminal(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[], row?: Row) =>
    values
      .map((v, i) => {
        const last = i === values.length - 1;
        const padded = last ? v : v.padEnd(widths[i]!);
        const paint = row === undefined ? undefined : columns[i]!.paint;
        return paint && v ? paint(padded, row as Row) : padded;
      })
      .join("   ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map((v, r) => line(v, rows[r]))].join("\n") + "\n";
}

/** Keeps the start and the end of a long value: `/var/lib/…/mounts/shm`. */
export function truncateMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const keep = max - 1;
  const head = Math.ceil(keep / 3);
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
}

export function truncateEnd(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
