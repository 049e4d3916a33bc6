import { dirname, join } from "node:path";
import { installInterrupts } from "./interrupts.js";
import { main } from "./main.js";

const interrupts = installInterrupts(process, (m) => process.stderr.write(`${m}\n`));
main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  interrupts,
  // The bundle lives in dist/; the helper binaries in build/helper/ beside it.
  helperDir:
    process.env.DOCKER_LEAK_HELPER_DIR || join(dirname(process.argv[1] ?? "."), "..", "build", "helper"),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`docker leak: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
