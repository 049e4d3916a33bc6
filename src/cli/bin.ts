import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { ExitCode } from "../errors.js";
import { escapeForTerminal, escapeStack } from "../render/escape.js";
import { PLUGIN_METADATA } from "../version.js";
import { installInterrupts } from "./interrupts.js";
import { holdRunFlags } from "./run-flags.js";

const argv = process.argv.slice(2);
if (argv[0] === "docker-cli-plugin-metadata") {
  // The docker CLI asks this on every `docker --help` and before every run. The launcher answers
  // it without Node; the single executable answers here, before the rest of the bundle is loaded.
  process.stdout.write(`${JSON.stringify(PLUGIN_METADATA, null, 2)}\n`);
} else if (argv[1] === "docker-cli-plugin-hooks" || argv[0] === "docker-cli-plugin-hooks") {
  // The CLI hook after a hooked `docker rm` / `docker volume rm` (see hook.ts): answered on its
  // own, without the rest of the plugin. The launcher answers the common case without Node.
  void import("./hook.js").then(({ hookAnswer, hookRequestOf }) => {
    const request = hookRequestOf(argv);
    if (request) process.stdout.write(hookAnswer(request.json));
    else void run();
  });
} else if (argv.includes("__complete") || argv.includes("__completeNoDesc")) {
  // Shell completion (cobra's protocol): subcommands and flags without the rest of the plugin.
  void import("./completion-run.js").then(async ({ answerCompletion, processCompletionIO }) => {
    const io = processCompletionIO(process.env, process.stdout, () => import("./full.js"));
    if (await answerCompletion(argv, io)) process.stdout.write("", () => process.exit());
    else void run();
  });
} else {
  void run();
}

/** The helpers: next to the bundle (dist/ → build/helper/), or unpacked from the single executable. */
function helperDir({ cacheRoots, extractHelpers, singleExecutable }: typeof import("./sea.js")): string {
  if (process.env.DOCKER_LEAK_HELPER_DIR) return process.env.DOCKER_LEAK_HELPER_DIR;
  const sea = singleExecutable();
  if (!sea) return join(dirname(process.argv[1] ?? "."), "..", "build", "helper");
  const roots = cacheRoots(process.env, process.env.HOME || homedir());
  try {
    return extractHelpers(sea, roots);
  } catch (err) {
    process.stderr.write(
      `docker leak: cannot unpack the helper binaries: ${escapeForTerminal((err as Error).message)}\n`,
    );
    // Where nothing was unpacked: the helper's check against the bundle's digest will say so.
    return roots[0] ?? "/nonexistent";
  }
}

/** The main bundle's file name next to the launcher's (scripts/build.mjs); else one bundle. */
declare const DOCKER_LEAK_MAIN_BUNDLE: string | undefined;

/** The rest of the plugin, with a code cache when it is a bundle file of its own (code-cache.ts). */
async function loadFull(): Promise<{ exports: typeof import("./full.js"); save(): void }> {
  if (typeof DOCKER_LEAK_MAIN_BUNDLE === "string" && process.env.DOCKER_LEAK_CODE_CACHE !== "0") {
    const [{ requireWithCodeCache }, { cacheRoots }] = await Promise.all([
      import("./code-cache.js"),
      import("./private-dir.js"),
    ]);
    const root = cacheRoots(process.env, process.env.HOME || homedir())[0];
    const loaded = requireWithCodeCache(join(__dirname, DOCKER_LEAK_MAIN_BUNDLE), root && join(root, "code"));
    return { exports: loaded.exports as typeof import("./full.js"), save: loaded.save };
  }
  return { exports: await import("./full.js"), save: () => undefined };
}

async function run(): Promise<void> {
  // Loaded lazily (esbuild turns these into deferred module initialisers), so that the metadata
  // answer above does not pay for clipanion, dockerode and the rest.
  // Signals are handled from the start, so that an early ^C also exits 130.
  const interrupts = installInterrupts(process, (m) => process.stderr.write(`${m}\n`));
  if (argv.includes("version")) {
    // The common `version` answers without clipanion and dockerode (see fast-version.ts).
    const { fastVersion } = await import("./fast-version.js");
    const code = await fastVersion(argv, process.env, process.stdout);
    if (code !== undefined) {
      process.exitCode = code;
      process.stdout.write("", () => process.exit());
      return;
    }
  }
  // The rest of the plugin: a bundle of its own (see full.ts), loaded only now.
  const full = await loadFull();
  // Only now, and set back before the code cache is saved (see run-flags.ts).
  const flags = holdRunFlags();
  const { main, seaSupport } = full.exports;
  let dir: string | undefined;
  try {
    process.exitCode = await main(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      env: process.env,
      interrupts,
      get helperDir() {
        dir ??= helperDir(seaSupport);
        return dir;
      },
    });
  } catch (err) {
    const what = err instanceof Error ? escapeStack(err) : escapeForTerminal(String(err));
    process.stderr.write(`docker leak: internal error: ${what}\n`);
    process.exitCode = 1;
  }
  flags.release();
  full.save();
  // Interrupted: the work has cleaned up (its helper containers are gone) and reported.
  // (`watch` ends by design on a signal and says which: 143 after SIGTERM.)
  if (interrupts.by === "SIGPIPE") process.exitCode = ExitCode.OutputClosed;
  else if (interrupts.interrupted && process.exitCode !== 143) process.exitCode = 130;
  // Done: exit once stdout is flushed, rather than waiting for idle keep-alive connections
  // (e.g. `docker system dial-stdio` children) to be closed.
  process.stdout.write("", () => process.exit());
}
