/**
 * The docker CLI hands a plugin the user's raw argv: `docker-leak [GLOBAL OPTIONS] leak [ARGS]`.
 * This module strips the docker global options (and the `leak` word), so that the rest can go
 * to clipanion. Run directly (`docker-leak scan`), there is no `leak` word.
 */

import type { GlobalOptions } from "../docker/endpoint.js";
import { UsageError } from "../errors.js";

export type { GlobalOptions };

export interface SplitArgv {
  globals: GlobalOptions;
  /** Arguments for the plugin's own commands (after `leak`). */
  args: string[];
  /** The raw global arguments, in order, to pass on to `docker system dial-stdio`. */
  rawGlobals: string[];
}

type ValueFlag = "context" | "host" | "config" | "tlsCaCert" | "tlsCert" | "tlsKey" | "logLevel";
type BoolFlag = "tls" | "tlsVerify" | "debug";

const valueFlags: Record<string, ValueFlag> = {
  "--context": "context",
  "-c": "context",
  "--host": "host",
  "-H": "host",
  "--config": "config",
  "--tlscacert": "tlsCaCert",
  "--tlscert": "tlsCert",
  "--tlskey": "tlsKey",
  "--log-level": "logLevel",
  "-l": "logLevel",
};

const boolFlags: Record<string, BoolFlag> = {
  "--tls": "tls",
  "--tlsverify": "tlsVerify",
  "--debug": "debug",
  "-D": "debug",
};

const PLUGIN_NAME = "leak";

function setValue(globals: GlobalOptions, key: ValueFlag, value: string): void {
  if (key === "host") globals.host = [...(globals.host ?? []), value];
  else globals[key] = value;
}

function parseBool(flag: string, value: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw new UsageError(`invalid argument "${value}" for "${flag}" flag: expected true or false`);
}

/**
 * Split argv (without node and script) into docker global options and the plugin's arguments.
 * Global options are only recognised before the first non-option word; that word is dropped
 * when it is `leak` (invoked by the docker CLI) and kept otherwise (invoked directly).
 */
export function splitArgv(argv: readonly string[]): SplitArgv {
  const globals: GlobalOptions = {};
  const rawGlobals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const valueKey = valueFlags[name];
    const boolKey = boolFlags[name];
    if (valueKey) {
      let value = inline;
      if (value === undefined) {
        // -Hvalue / -cvalue short forms are accepted by pflag too.
        value = argv[i + 1];
        if (value === undefined) throw new UsageError(`flag needs an argument: ${name}`);
        rawGlobals.push(arg, value);
        i++;
      } else {
        rawGlobals.push(arg);
      }
      setValue(globals, valueKey, value);
      continue;
    }
    if (boolKey) {
      globals[boolKey] = inline === undefined ? true : parseBool(name, inline);
      rawGlobals.push(arg);
      continue;
    }
    const short = /^-([cHl])(.+)$/s.exec(arg);
    if (short) {
      const key = valueFlags[`-${short[1]}`]!;
      const value = short[2]!.startsWith("=") ? short[2]!.slice(1) : short[2]!;
      setValue(globals, key, value);
      rawGlobals.push(arg);
      continue;
    }
    // Not a docker global option: it belongs to the plugin (e.g. `docker-leak --help`).
    break;
  }
  let rest = argv.slice(i);
  if (rest[0] === PLUGIN_NAME) rest = rest.slice(1);
  if (globals.context !== undefined && globals.host !== undefined) {
    throw new UsageError("conflicting options: either specify --host or --context, not both");
  }
  if (globals.host && globals.host.length > 1) {
    throw new UsageError("specify only one -H");
  }
  return { globals, args: rest, rawGlobals };
}
