// Benchmark tool (not product code): preloaded with `node -r scripts/bench-trace.cjs`, it records
// when each Docker API request of the plugin started and ended, and at exit appends one JSON line
// to $BENCH_TRACE_OUT: { startup, calls: [{ what, start, end }], exit } in ms since process start.
// scripts/bench.sh turns these into the phase breakdown of a scan.
"use strict";
const http = require("node:http");
const { appendFileSync } = require("node:fs");

const out = process.env.BENCH_TRACE_OUT;
if (out) {
  const calls = [];
  const now = () => Math.round(performance.now() * 10) / 10;
  const request = http.request;
  http.request = function traced(opts, ...rest) {
    const req = request.call(this, opts, ...rest);
    const path = String((opts && opts.path) || "");
    const what = `${(opts && opts.method) || "GET"} ${path
      .replace(/\/v1\.\d+/, "")
      .replace(/[0-9a-f]{64}/g, "<id>")
      .replace(/\?.*$/, "")}`;
    const call = { what, start: now(), end: null };
    calls.push(call);
    req.on("response", (res) => res.on("end", () => (call.end = now())).on("close", () => (call.end ??= now())));
    req.on("upgrade", (_res, socket) => socket.on("close", () => (call.end = now())));
    return req;
  };
  process.on("exit", () => {
    appendFileSync(out, `${JSON.stringify({ calls, exit: now() })}\n`);
  });
}
