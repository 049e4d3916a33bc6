/**
 * The --format template subset (render/template.ts): parsing, the field checker, evaluation,
 * escaping of text from the scanned system, docker's table headers and tabwriter, and
 * property tests (fast-check) of the parser and the escaping.
 */
import "../support/fast-check-seed.js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  executeTemplate,
  headerOf,
  type OutputFormat,
  parseFormat,
  parseTemplate,
  type Row,
  renderTemplate,
  type Schema,
  TemplateError,
  tabwrite,
} from "../../src/render/template.js";

const schema: Schema = {
  name: "test row",
  fields: {
    ID: { type: "string" },
    Name: { type: "string" },
    MountPoint: { type: "string" },
    PIDs: { type: "[]int", header: "PIDS" },
    Tags: { type: "[]string" },
    Namespace: { type: "int" },
    Stopped: { type: "bool" },
    Server: {
      type: { name: "server", fields: { Version: { type: "string" }, APIVersion: { type: "string" } } },
    },
  },
};
const row: Row = {
  ID: "7d63588e88f1",
  Name: "web",
  MountPoint: "/var/lib/docker/containers/7d63/mounts/shm",
  PIDs: [4711, 4712],
  Tags: ["a", "b"],
  Namespace: 4026532399,
  Stopped: true,
  Server: { Version: "28.2.2", APIVersion: "1.50" },
};

type Template = Extract<OutputFormat, { kind: "template" }>;
function fmt(format: string): Template {
  const f = parseFormat(format, schema);
  assert.equal(f.kind, "template");
  return f as Template;
}
const run = (format: string, rows: readonly Row[] = [row]) => renderTemplate(fmt(format), rows);
const error = (format: string): string => {
  try {
    parseFormat(format, schema);
  } catch (err) {
    assert.ok(err instanceof TemplateError, String(err));
    return err.message;
  }
  assert.fail(`${JSON.stringify(format)} was accepted`);
};

const RAW_UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe("--format forms", () => {
  it("table and json are the commands' own; anything else is a template", () => {
    assert.deepEqual(parseFormat("table", schema), { kind: "table" });
    assert.deepEqual(parseFormat("json", schema), { kind: "json" });
    assert.equal(fmt("table {{.ID}}").table, true);
    assert.equal(fmt("{{.ID}}").table, false);
    assert.equal(fmt("json {{.ID}}").table, false);
    // like docker, anything that starts with "table"
    assert.equal(run("tablex {{.ID}}"), "x ID\nx 7d63588e88f1\n");
  });

  it("\\t and \\n in the flag become a tab and a newline; blanks around the template are trimmed", () => {
    assert.equal(run("  {{.ID}}\\t{{.Name}}\\n  "), "7d63588e88f1\tweb\n\n");
    assert.equal(run("{{.Name}}", [row, { ...row, Name: "db" }]), "web\ndb\n");
  });

  it("literal text only is printed once per row, as docker does", () => {
    assert.equal(run("x", [row, row]), "x\nx\n");
  });
});

describe("evaluation", () => {
  it("fields, nested fields, lists and numbers print as Go prints them", () => {
    assert.equal(
      run("{{.Server.Version}} {{.PIDs}} {{.Namespace}} {{.Stopped}} {{.Tags}}"),
      "28.2.2 [4711 4712] 4026532399 true [a b]\n",
    );
    assert.equal(run("{{.Server}}"), "{28.2.2 1.50}\n");
  });

  it("join, upper, lower, printf, pipelines", () => {
    assert.equal(run('{{join .PIDs ","}}|{{join .Tags ", "}}'), "4711,4712|a, b\n");
    assert.equal(run("{{upper .Name}} {{lower .Server.Version}} {{.Name | upper}}"), "WEB 28.2.2 WEB\n");
    assert.equal(
      run('{{printf "%-5s|%6d|%q|%v" .Name .Namespace .Name .PIDs}}'),
      'web  |4026532399|"web"|[4711 4712]\n',
    );
    assert.equal(run('{{.Name | printf "<%s>"}}'), "<web>\n");
    assert.equal(run('{{printf "%d %s" .Name}}'), "%!d(string=web) %!s(MISSING)\n");
  });

  it("json: the value as compact JSON, a row with its fields in order", () => {
    assert.equal(run("{{json .Name}}"), '"web"\n');
    assert.equal(run("{{json .PIDs}}"), "[4711,4712]\n");
    assert.deepEqual(JSON.parse(run("{{json .}}")), row);
    assert.equal(run("{{json .Server}}"), '{"Version":"28.2.2","APIVersion":"1.50"}\n');
  });

  it("trim markers and comments", () => {
    assert.equal(run("a  {{- .Name -}}  b {{/* no */}}c{{- /* x */ -}}  d"), "awebb cd\n");
  });

  it("text from the scanned system is escaped, however it reaches the output", () => {
    const hostile: Row = { ...row, Name: "x\x1b[2J\nFAKE\u202e", Tags: ["a\tb", "\x9b"] };
    const out = run(
      '{{.Name}}|{{upper .Name}}|{{printf "%s %v %q" .Name .Name .Name}}|{{join .Tags "\\t"}}|{{.Tags}}',
      [hostile],
    );
    assert.equal(
      out,
      'x\\x1b[2J\\nFAKE\\u202e|X\\x1b[2J\\nFAKE\\u202e|x\\x1b[2J\\nFAKE\\u202e x\\x1b[2J\\nFAKE\\u202e "x\\x1b[2J\\nFAKE\\u202e"|a\\tb\t\\x9b|[a\\tb \\x9b]\n',
    );
    // json keeps the exact strings (as the JSON output does), with nothing raw
    const json = run("{{json .Name}}", [hostile]);
    assert.doesNotMatch(json.trimEnd(), RAW_UNSAFE);
    assert.equal(JSON.parse(json), hostile.Name);
  });

  it("the template's own text is written as the user wrote it", () => {
    assert.equal(run('{{"a\\tb"}}\\t{{printf "%s:" .Name}}'), "a\tb\tweb:\n");
    // as in docker: \n becomes a newline before parsing, which ends a quoted string
    assert.match(error('{{printf "%s\\n" .Name}}'), /unterminated quoted string/);
  });
});

describe("table TEMPLATE: headers and columns like docker's", () => {
  it("headers come from the field names; columns are at least 10 wide with 3 blanks of padding", () => {
    assert.equal(
      run('table {{.ID}}\\t{{.MountPoint}}\\t{{join .PIDs ","}}\\t{{.Server.APIVersion}}'),
      [
        "ID             MOUNT POINT                                  PIDS        API VERSION",
        "7d63588e88f1   /var/lib/docker/containers/7d63/mounts/shm   4711,4712   1.50",
        "",
      ].join("\n"),
    );
  });

  it("header functions pass headers through; printf formats them as Go does", () => {
    assert.equal(
      run('table {{upper .Name}}:{{lower .ID}} {{json .Name}} {{printf "%d" .Name}}').split("\n")[0],
      "NAME:ID NAME %!d(string=NAME)",
    );
  });

  it("headerOf splits camel case", () => {
    assert.equal(headerOf("ID"), "ID");
    assert.equal(headerOf("MountPoint"), "MOUNT POINT");
    assert.equal(headerOf("APIVersion"), "API VERSION");
    assert.equal(headerOf("HolderKind"), "HOLDER KIND");
  });

  it("tabwrite: Go's column blocks, the text after the last tab is not a column", () => {
    assert.equal(tabwrite("a\tb\nlonger-than-ten\tc\n"), "a                 b\nlonger-than-ten   c\n");
    // a line without a cell in the column ends the block: widths differ above and below it
    assert.equal(tabwrite("aaaaaaaaaaaaaa\tx\nbreak\nb\ty\n"), "aaaaaaaaaaaaaa   x\nbreak\nb         y\n");
    assert.equal(tabwrite("a\tb\t\n"), "a         b         \n");
    assert.equal(tabwrite("x\n"), "x\n");
  });
});

describe("errors: outside the subset or the fields, named, before anything runs", () => {
  const cases: [string, RegExp][] = [
    ["{{foo .ID}}", /^failed to parse template: template: :1: function "foo" not defined$/],
    ["{{if .ID}}x{{end}}", /"if" is not in docker leak's template subset/],
    ["{{range .PIDs}}{{.}}{{end}}", /"range" is not in docker leak's template subset/],
    ["{{with .Server}}{{end}}", /"with" is not in/],
    ["{{$x := .ID}}", /variables are not in/],
    ["{{(upper .ID)}}", /parentheses are not in/],
    ["{{'a'}}", /character constants are not in/],
    ["{{1.5}}", /number 1.5 is not supported/],
    ["{{.ID", /unclosed action/],
    ["{{}}", /missing value for command/],
    ["{{| upper}}", /unexpected "\|" in command/],
    ['{{"\\q"}}', /invalid syntax/],
    [
      "{{.Nope}}",
      /^failed to parse template: template: :1:2: at <\.Nope>: can't evaluate field Nope in type test row \(fields: ID, Name,/,
    ],
    ["x\n{{.Server.Nope}}", /template: :2:2: at <\.Server\.Nope>: can't evaluate field Nope in type server/],
    ["{{.Name.First}}", /can't evaluate field First in type string/],
    ['{{join .Name ","}}', /at <\.Name>: wrong type for value; expected \[\]string; got string/],
    ["{{upper .PIDs}}", /wrong type for value; expected string; got \[\]int/],
    ["{{upper .Name .ID}}", /wrong number of args for upper: want 1 got 2/],
    ["{{join .PIDs}}", /wrong number of args for join: want 2 got 1/],
    ["{{printf}}", /wrong number of args for printf: want at least 1 got 0/],
    ["{{.ID .Name}}", /can't give argument to non-function \.ID/],
    ['{{.PIDs | join ","}}', /wrong type for value; expected \[\]string; got string/],
  ];
  for (const [format, want] of cases) {
    it(JSON.stringify(format), () => assert.match(error(format), want));
  }
});

// ---------------------------------------------------------------------------------------------
// Properties

const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const templateBit = fc.constantFrom(
  "{{",
  "}}",
  "{{- ",
  " -}}",
  ".",
  ".ID",
  ".Server.Version",
  ".Nope",
  " ",
  "|",
  '"',
  "`",
  "\\",
  "\\t",
  "\\n",
  "/*",
  "*/",
  "json",
  "join",
  "upper",
  "printf",
  "if",
  "end",
  "$",
  "(",
  "%",
  "%d",
  "1",
  "-",
  "table ",
  "\n",
);
const anyFormat = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: anyCodeUnit, maxLength: 40 }),
  fc.array(templateBit, { maxLength: 30 }).map((a) => a.join("")),
);
const hostileText = fc.oneof(
  fc.string({ unit: anyCodeUnit, maxLength: 30 }),
  fc
    .array(fc.constantFrom("\x1b", "\n", "\t", "\\", "x", "\u202e", "\x9b", "\u2028", "a", "%", "{{"), {
      maxLength: 12,
    })
    .map((a) => a.join("")),
);
const hostileRow = fc.record({
  Name: hostileText,
  ID: hostileText,
  Tags: fc.array(hostileText, { maxLength: 3 }),
});
/** Well-formed templates of the subset over the test fields, with safe literal text. */
const operand = fc.constantFrom(".ID", ".Name", ".MountPoint", ".Server.Version", '"lit"', "`raw`");
const action = fc.oneof(
  operand,
  operand.map((o) => `upper ${o}`),
  operand.map((o) => `${o} | lower`),
  fc.constantFrom(".Tags", ".PIDs").map((l) => `join ${l} ", "`),
  fc.constantFrom(".", ".Tags", ".Name", ".Namespace").map((o) => `json ${o}`),
  fc
    .tuple(fc.constantFrom("%s", "%v", "%q", "%-8s|%d", "%5.2s"), operand)
    .map(([f, o]) => `printf "${f}" ${o}`),
);
const wellFormed = fc
  .array(
    fc.oneof(
      action.map((a) => `{{${a}}}`),
      fc.constantFrom("x", " ", ":", "\\t", "-"),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((a) => a.join(""));

describe("properties", () => {
  it("any --format either parses or fails with a TemplateError (never anything else)", () => {
    fc.assert(
      fc.property(anyFormat, (format) => {
        try {
          const f = parseFormat(format, schema);
          if (f.kind === "template") renderTemplate(f, [row]);
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          assert.match(err.message, /^failed to parse template: template: :\d+(:\d+)?: /);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("text without {{ is printed as it is (after docker's \\t/\\n replacement)", () => {
    fc.assert(
      fc.property(fc.string({ unit: anyCodeUnit, maxLength: 40 }), (text) => {
        fc.pre(!text.includes("{{") && text.trim() !== "" && !text.startsWith("table") && text !== "json");
        const source = text.replace(/^ +| +$/g, "").replace(/\\t|\\n/g, (m) => (m === "\\t" ? "\t" : "\n"));
        assert.equal(run(text), `${source}\n`);
      }),
    );
  });

  it('a Go string literal round-trips: {{"…"}} prints the string, {{json "…"}} parses back to it', () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (s) => {
        const literal = JSON.stringify(s); // JSON's escapes are a subset of Go's
        assert.equal(executeTemplate(parseTemplate(`{{${literal}}}`), row), s);
        assert.equal(JSON.parse(executeTemplate(parseTemplate(`{{json ${literal}}}`), row)), s);
      }),
    );
  });

  it("well-formed templates of the subset run, and print no raw control, separator or bidi character from the data", () => {
    fc.assert(
      fc.property(wellFormed, hostileRow, fc.boolean(), (template, hostile, table) => {
        const out = run(`${table ? "table " : ""}${template}`, [{ ...row, ...hostile }]);
        // the template's only raw characters are the tabs it asked for and the row ends
        assert.doesNotMatch(out.replace(/[\t\n]/g, ""), RAW_UNSAFE);
        assert.equal(out.split("\n").length, (table ? 2 : 1) + 1, "no row is forged");
      }),
      { numRuns: 2000 },
    );
  });

  it("json of any value parses back to it exactly", () => {
    fc.assert(
      fc.property(hostileRow, (hostile) => {
        const r = { ...row, ...hostile };
        const out = run("{{json .}}", [r]);
        assert.doesNotMatch(out.trimEnd(), RAW_UNSAFE);
        assert.deepEqual(JSON.parse(out), r);
      }),
    );
  });
});
