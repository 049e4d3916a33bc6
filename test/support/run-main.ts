/**
 * The plugin's entry point run in-process with captured streams and no daemon behind the
 * default endpoint: for tests of what it prints before (or instead of) contacting a daemon.
 */
import { PassThrough } from "node:stream";
import { main } from "../../src/cli/main.js";

export interface MainRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runMain(
  argv: string[],
  env: NodeJS.ProcessEnv = { DOCKER_HOST: "unix:///nonexistent/docker.sock", NO_COLOR: "1" },
  stdoutTerminal?: { columns: number },
): Promise<MainRun> {
  const stdout = Object.assign(
    new PassThrough(),
    stdoutTerminal ? { isTTY: true, columns: stdoutTerminal.columns } : {},
  );
  const stderr = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  stdout.on("data", (c: Buffer) => chunks.stdout.push(c));
  stderr.on("data", (c: Buffer) => chunks.stderr.push(c));
  const code = await main(argv, {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env,
    interrupts: { signal: new AbortController().signal, interrupted: false },
    helperDir: "/nonexistent",
  });
  return {
    code,
    stdout: Buffer.concat(chunks.stdout).toString("utf8"),
    stderr: Buffer.concat(chunks.stderr).toString("utf8"),
  };
}
