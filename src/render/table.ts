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
  /**
   * How the column gives way when the table must fit a width: shortened with `…` (in the
   * middle for paths; "labelled" keeps a first word such as `shm ` whole and shortens the
   * path after it; at the end for prose), lower `order` first: first down to `comfortable`,
   * then, when leaving out the droppable columns was not enough, down to `min`. Absent: never.
   */
  shrink?: { mode: "middle" | "labelled" | "end"; min: number; comfortable: number; order: number };
  /** Left out when shortening is not enough, lower first. Absent: always shown. */
  drop?: number;
}

const GAP = "   ";
const SMALL_EXCESS = 8;

/**
 * A table like docker's tabwriter output. With `width` (a terminal's), no line is longer: the
 * shrinkable columns give way in their order, then droppable columns are left out, and as a
 * last resort lines are cut. Without it every cell is shown whole.
 */
export function renderTable<Row>(
  columns: readonly Column<Row>[],
  rows: readonly Row[],
  width?: number,
): string {
  let cols = [...columns];
  let cells = rows.map((row) => cols.map((c) => escapeForTerminal(c.value(row))));
  const natural = () => cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  let widths = natural();
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
  if (width !== undefined) {
    const fit = (stage: "comfortable" | "min") => {
      const order = cols
        .map((c, i) => ({ c, i }))
        .filter(({ c }) => c.shrink)
        .sort((a, b) => a.c.shrink!.order - b.c.shrink!.order);
      for (const { c, i } of order) {
        const excess = total() - width;
        if (excess <= 0) return;
        const floor = Math.max(c.shrink![stage], c.header.length);
        widths[i] = Math.max(Math.min(floor, widths[i]!), widths[i]! - excess);
      }
    };
    fit("comfortable");
    const droppable = cols.filter((c) => c.drop !== undefined).sort((a, b) => a.drop! - b.drop!);
    for (const victim of droppable) {
      // A few columns short: shorten below comfortable rather than lose a column.
      if (total() - width <= SMALL_EXCESS) break;
      const at = cols.indexOf(victim);
      cols = cols.filter((_, i) => i !== at);
      cells = cells.map((r) => r.filter((_, i) => i !== at));
      widths = natural();
      fit("comfortable");
    }
    fit("min");
    cells = cells.map((r) => r.map((v, i) => shorten(v, widths[i]!, cols[i]!.shrink?.mode ?? "end")));
  }
  const line = (values: string[], row?: Row) => {
    const text = values
      .map((v, i) => {
        const last = i === values.length - 1;
        const padded = last ? v : v.padEnd(widths[i]!);
        const paint = row === undefined ? undefined : cols[i]!.paint;
        return paint && v ? paint(padded, row as Row) : padded;
      })
      .join(GAP)
      .trimEnd();
    // Only when even the narrowest layout is too wide (colour codes are not counted: painted
    // columns are never the last one cut here, and a cut line loses its colour's reset only if
    // the cut falls inside a painted cell).
    return width !== undefined && visibleLength(text) > width ? cutVisible(text, width) : text;
  };
  return [line(cols.map((c) => c.header)), ...cells.map((v, r) => line(v, rows[r]))].join("\n") + "\n";
}

/** SGR sequences that paint() adds. */
const SGR = /\x1b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(SGR, "").length;
}

/** `text` cut to `width` visible characters (the last one `…`), colour codes kept, colour reset. */
function cutVisible(text: string, width: number): string {
  let out = "";
  let seen = 0;
  for (let i = 0; i < text.length; ) {
    SGR.lastIndex = i;
    const m = SGR.exec(text);
    if (m && m.index === i) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (seen === width - 1) return `${out}…${out.includes("\x1b[") ? "\x1b[0m" : ""}`;
    out += text[i];
    seen++;
    i++;
  }
  return out;
}

function shorten(v: string, w: number, mode: "middle" | "labelled" | "end"): string {
  if (v.length <= w) return v;
  if (mode === "labelled") {
    const label = v.slice(0, v.indexOf(" ") + 1);
    if (label && w - label.length >= 8)
      return label + truncateMiddle(v.slice(label.length), w - label.length);
    return truncateMiddle(v, w);
  }
  return mode === "middle" ? truncateMiddle(v, w) : truncateEnd(v, w);
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
