import { installInterrupts } from "./interrupts.js";
import { main } from "./main.js";

const interrupts = installInterrupts(process, (m) => process.stderr.write(`${m}\n`));
main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  interrupts,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`docker leak: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
