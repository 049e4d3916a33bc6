/**
 * A program the tests interrupt: it starts a helper run the way the plugin does (with the
 * plugin's SIGINT/SIGTERM handling), prints the helper container's ID once it exists, and waits
 * there so that the signal lands mid-run.
 */
import { installInterrupts } from "../../src/cli/interrupts.js";
import { runHelper } from "../../src/docker/helper-runner.js";
import { InterruptedError } from "../../src/errors.js";
import { helperHarness } from "./helper.js";

const interrupts = installInterrupts(process, (m) => process.stderr.write(`${m}\n`));
const h = await helperHarness();
try {
  await runHelper(h.docker, {
    image: h.image,
    mode: "scan",
    args: [],
    daemon: h.daemon,
    signal: interrupts.signal,
    onLine: () => undefined,
    afterCreate: async (id) => {
      process.stdout.write(`created ${id}\n`);
      await new Promise((resolve) => setTimeout(resolve, 60_000));
    },
  });
  process.stdout.write("finished without interruption\n");
} catch (err) {
  // As the plugin's entry point: the run removed its container and threw; exit 130.
  if (err instanceof InterruptedError) process.exit(130);
  throw err;
}
