/** `docker leak watch`'s flags, checked before anything runs (no daemon behind the endpoint). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runMain } from "../support/run-main.js";

describe("docker leak watch: bad input", () => {
  for (const [args, code, message] of [
    [["--format", "yaml"], 2, /unknown --format "yaml": use table or json/],
    [["--dry-run"], 2, /--dry-run needs --release/],
    [["--interval", "10"], 2, /invalid argument "10" for "--interval" flag/],
    [["--interval", "ten minutes"], 2, /invalid argument "ten minutes" for "--interval" flag/],
    [["--timeout", "x"], 2, /invalid argument "x" for "--timeout" flag/],
    [["web"], 2, /"docker leak watch" accepts no arguments\./],
    [["--metrics-file", ""], 2, /--metrics-file needs a path/],
    [
      ["--metrics-file", "/nonexistent/dir/m.prom"],
      1,
      /cannot write the metrics file \/nonexistent\/dir\/m\.prom: its directory does not exist/,
    ],
  ] as const) {
    it(`${args.join(" ")}: exit ${code}, a clear message`, async () => {
      const r = await runMain(["watch", ...args]);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, "");
    });
  }
});
