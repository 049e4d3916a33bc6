/**
 * The template subset against Go's own text/template, as the docker 28 CLI applies it: the
 * outputs and errors in test/fixtures/templates/corpus.json were recorded from the real CLI
 * (record.mjs) over `docker version` (no `\t` replacement there) and `docker image ls` (docker's
 * formatter: `table`, headers, tabwriter).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  checkTemplate,
  executeTemplate,
  parseFormat,
  parseTemplate,
  type Row,
  renderTemplate,
  type Schema,
  TemplateError,
} from "../../src/render/template.js";

interface Case {
  template: string;
  stdout: string;
  stderr: string;
  status: number;
}
const corpus = JSON.parse(
  readFileSync(new URL("../fixtures/templates/corpus.json", import.meta.url), "utf8"),
) as {
  version: { rows: Row & { Client: Record<string, string> }; cases: Case[] };
  images: { rows: Record<string, string>[]; cases: Case[] };
};

const stringFields = (o: Record<string, unknown>, name: string): Schema => ({
  name,
  fields: Object.fromEntries(Object.keys(o).map((k) => [k, { type: "string" as const }])),
});
const versionSchema: Schema = {
  name: "version",
  fields: { Client: { type: stringFields(corpus.version.rows.Client, "client") } },
};
// docker image ls's headers (docker's own names, not derived from the field names)
const imageSchema: Schema = {
  ...stringFields(corpus.images.rows[0]!, "image"),
};
const headers: Record<string, string> = {
  ID: "IMAGE ID",
  Repository: "REPOSITORY",
  Tag: "TAG",
  Size: "SIZE",
};
for (const [k, h] of Object.entries(headers))
  (imageSchema.fields as Record<string, { type: "string"; header?: string }>)[k] = {
    type: "string",
    header: h,
  };

describe("templates against docker 28 (Go text/template)", () => {
  for (const c of corpus.version.cases) {
    it(`version ${JSON.stringify(c.template)}`, () => {
      if (c.status === 0) {
        const t = parseTemplate(c.template);
        checkTemplate(t, versionSchema);
        assert.equal(`${executeTemplate(t, corpus.version.rows)}\n`, c.stdout);
        return;
      }
      assert.throws(
        () => checkTemplate(parseTemplate(c.template), versionSchema),
        (err: unknown) => {
          assert.ok(err instanceof TemplateError);
          // docker's parse errors: the same words after the position
          const go = /^template parsing error: template: version:\d+: (.*)$/.exec(c.stderr);
          if (go) assert.equal(err.message.replace(/^template: :\d+: /, ""), go[1]);
          return true;
        },
      );
    });
  }
  for (const c of corpus.images.cases) {
    it(`image ls ${JSON.stringify(c.template)}`, () => {
      assert.equal(c.status, 0);
      const f = parseFormat(c.template, imageSchema);
      assert.equal(f.kind, "template");
      if (f.kind !== "template") return;
      assert.equal(renderTemplate(f, corpus.images.rows), c.stdout);
    });
  }
});
