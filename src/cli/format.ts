/**
 * The --format flag of scan, rm, volume rm and version: docker's four forms (template.ts), a
 * template outside the subset or naming an unknown field being a usage error (exit 2) raised
 * before the command does anything.
 */
import { UsageError } from "../errors.js";
import { type OutputFormat, parseFormat, type Schema, TemplateError } from "../render/template.js";

/** docker's wording of the flag (`docker ps --help`), naming where the fields are documented. */
export const FORMAT_DESCRIPTION = [
  "Format output using a custom template:",
  "'table':            Print output in table format with column headers (default)",
  "'table TEMPLATE':   Print output in table format using the given Go template",
  "'json':             Print in JSON format",
  "'TEMPLATE':         Print output using the given Go template.",
  `Refer to "Formatting output" in docker leak's README for the fields and the template subset`,
].join("\n");

/** `docker leak version`'s: like `docker version --format`, no table. */
export const VERSION_FORMAT_DESCRIPTION = [
  "Format output using a custom template:",
  "'json':             Print in JSON format",
  "'TEMPLATE':         Print output using the given Go template.",
  `Refer to "Formatting output" in docker leak's README for the fields and the template subset`,
].join("\n");

export function parseFormatFlag(format: string, schema: Schema): OutputFormat {
  // docker: an empty --format is the default
  if (format === "") return { kind: "table" };
  try {
    return parseFormat(format, schema);
  } catch (err) {
    if (err instanceof TemplateError) throw new UsageError(err.message);
    throw err;
  }
}
