/**
 * Property-based tests (fast-check) for the docker global-flag parser: known globals are
 * recognised in every spelling, the plugin's own arguments come back untouched, and arbitrary
 * argv fails only with UsageError.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type GlobalOptions, splitArgv } from "../../src/cli/global-flags.js";
import { UsageError } from "../../src/errors.js";

const anyArg = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 12 }),
  fc.constantFrom(
    "leak",
    "--",
    "-",
    "-H",
    "-c",
    "-l",
    "-D",
    "--host",
    "--context",
    "--tls",
    "--tls=",
    "--tls=maybe",
    "--tlsverify=false",
    "--debug=TRUE",
    "--log-level",
    "--config=",
    "-Hx",
    "-c=",
    "--help",
    "--=x",
    "-=",
    "--__proto__",
    "--constructor=1",
  ),
);

type ValueKey = "context" | "host" | "config" | "tlsCaCert" | "tlsCert" | "tlsKey" | "logLevel";
type BoolKey = "tls" | "tlsVerify" | "debug";
const VALUE_FLAGS: Record<ValueKey, { long: string; short?: string }> = {
  context: { long: "--context", short: "-c" },
  host: { long: "--host", short: "-H" },
  config: { long: "--config" },
  tlsCaCert: { long: "--tlscacert" },
  tlsCert: { long: "--tlscert" },
  tlsKey: { long: "--tlskey" },
  logLevel: { long: "--log-level", short: "-l" },
};
const BOOL_FLAGS: Record<BoolKey, string[]> = {
  tls: ["--tls"],
  tlsVerify: ["--tlsverify"],
  debug: ["--debug", "-D"],
};

interface Global {
  tokens: string[];
  key: ValueKey | BoolKey;
  value: string | boolean;
}

/** One global option in one of its spellings, with the value it should yield. */
const valueGlobal = (key: ValueKey): fc.Arbitrary<Global> => {
  const { long, short } = VALUE_FLAGS[key];
  const forms: fc.Arbitrary<Global>[] = [
    // A separate value can be anything, even "leak" or "-x".
    fc.tuple(anyArg).map(([v]) => ({ tokens: [long, v], key, value: v })),
    fc.tuple(anyArg).map(([v]) => ({ tokens: [`${long}=${v}`], key, value: v })),
  ];
  if (short)
    forms.push(
      fc.tuple(anyArg).map(([v]) => ({ tokens: [short, v], key, value: v })),
      fc
        .tuple(anyArg.filter((v) => v !== "" && !v.startsWith("=")))
        .map(([v]) => ({ tokens: [`${short}${v}`], key, value: v })),
      fc.tuple(anyArg).map(([v]) => ({ tokens: [`${short}=${v}`], key, value: v })),
    );
  return fc.oneof(...forms);
};
const boolGlobal = (key: BoolKey): fc.Arbitrary<Global> =>
  fc.oneof(
    fc.constantFrom(...BOOL_FLAGS[key]).map((f) => ({ tokens: [f], key, value: true })),
    fc
      .tuple(
        fc.constantFrom(...BOOL_FLAGS[key].filter((f) => f.startsWith("--"))),
        fc.constantFrom("1", "t", "T", "true", "TRUE", "True"),
      )
      .map(([f, v]) => ({ tokens: [`${f}=${v}`], key, value: true })),
    fc
      .tuple(
        fc.constantFrom(...BOOL_FLAGS[key].filter((f) => f.startsWith("--"))),
        fc.constantFrom("0", "f", "F", "false", "FALSE", "False"),
      )
      .map(([f, v]) => ({ tokens: [`${f}=${v}`], key, value: false })),
  );

/** Globals docker would accept together: at most one -H, never -H with --context. */
const globals = fc
  .tuple(
    fc.constantFrom<"host" | "context" | "neither">("host", "context", "neither"),
    fc.array(
      fc.oneof(
        ...(["config", "tlsCaCert", "tlsCert", "tlsKey", "logLevel"] as const).map(valueGlobal),
        ...(["tls", "tlsVerify", "debug"] as const).map(boolGlobal),
      ),
      { maxLength: 6 },
    ),
    fc.array(valueGlobal("context"), { minLength: 1, maxLength: 2 }),
    valueGlobal("host"),
    fc.nat(),
  )
  .map(([which, others, contexts, host, pos]) => {
    const list = [...others];
    const extra = which === "host" ? [host] : which === "context" ? contexts : [];
    for (const g of extra) list.splice(pos % (list.length + 1), 0, g);
    return list;
  });

function expectedGlobals(list: Global[]): GlobalOptions {
  const out: Record<string, unknown> = {};
  for (const g of list) {
    if (g.key === "host") out.host = [...((out.host as string[] | undefined) ?? []), g.value];
    else out[g.key] = g.value;
  }
  return out as GlobalOptions;
}

function onlyUsageErrors(argv: string[]): ReturnType<typeof splitArgv> | null {
  try {
    return splitArgv(argv);
  } catch (e) {
    assert.ok(e instanceof UsageError, `not a UsageError: ${(e as Error)?.stack ?? String(e)}`);
    assert.ok(e.message.length > 0);
    return null;
  }
}

describe("fuzz: splitArgv", () => {
  it("via the docker CLI: globals are recognised and everything after `leak` comes back unchanged", () => {
    fc.assert(
      fc.property(globals, fc.array(anyArg, { maxLength: 8 }), (list, rest) => {
        const raw = list.flatMap((g) => g.tokens);
        const argv = [...raw, "leak", ...rest];
        const got = splitArgv(argv);
        assert.deepEqual(got.args, rest);
        assert.deepEqual(got.rawGlobals, raw);
        assert.deepEqual({ ...got.globals }, expectedGlobals(list));
      }),
      { numRuns: 1500 },
    );
  });

  it("run directly: the first non-option word and everything after it come back unchanged", () => {
    fc.assert(
      fc.property(
        globals,
        anyArg.filter((a) => a !== "leak" && a !== "--" && (!a.startsWith("-") || a === "-")),
        fc.array(anyArg, { maxLength: 6 }),
        (list, first, rest) => {
          const raw = list.flatMap((g) => g.tokens);
          const got = splitArgv([...raw, first, ...rest]);
          assert.deepEqual(got.args, [first, ...rest]);
          assert.deepEqual(got.rawGlobals, raw);
          assert.deepEqual({ ...got.globals }, expectedGlobals(list));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("arbitrary argv: a split or a UsageError; the split is globals + [--] + [leak] + args", () => {
    fc.assert(
      fc.property(fc.array(anyArg, { maxLength: 10 }), (argv) => {
        const got = onlyUsageErrors(argv);
        if (!got) return;
        const { rawGlobals, args } = got;
        assert.deepEqual(argv.slice(0, rawGlobals.length), rawGlobals);
        assert.deepEqual(argv.slice(argv.length - args.length), args);
        const between = argv.slice(rawGlobals.length, argv.length - args.length);
        assert.ok(
          [[], ["leak"], ["--"], ["--", "leak"]].some((b) => JSON.stringify(b) === JSON.stringify(between)),
          JSON.stringify(between),
        );
        if (got.globals.host) assert.equal(got.globals.host.length, 1);
        assert.ok(!(got.globals.host && got.globals.context !== undefined));
      }),
      { numRuns: 2000 },
    );
  });

  it("conflicting or incomplete globals are UsageErrors", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(valueGlobal("host"), valueGlobal("context")).map(([a, b]) => [...a.tokens, ...b.tokens]),
          fc.tuple(valueGlobal("host"), valueGlobal("host")).map(([a, b]) => [...a.tokens, ...b.tokens]),
          fc
            .constantFrom(
              "--context",
              "-c",
              "--host",
              "-H",
              "--config",
              "--tlscacert",
              "--tlscert",
              "--tlskey",
              "--log-level",
              "-l",
            )
            .map((f) => [f]),
          fc
            .tuple(
              fc.constantFrom("--tls", "--tlsverify", "--debug"),
              anyArg.filter((v) => !/^(1|t|true|0|f|false)$/i.test(v)),
            )
            .map(([f, v]) => [`${f}=${v}`]),
        ),
        fc.array(anyArg, { maxLength: 4 }),
        (argv, rest) => {
          const full = argv.length === 1 && !argv[0]!.includes("=") ? argv : [...argv, "leak", ...rest];
          assert.throws(() => splitArgv(full), UsageError);
        },
      ),
      { numRuns: 500 },
    );
  });
});
