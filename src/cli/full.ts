/**
 * Everything a command needs beyond the launcher's fast answers (bin.ts): the command line
 * (clipanion), the Docker client and the leak model. The build puts it in a bundle of its own
 * (dist/docker-leak-main.cjs), loaded only when a command runs, so that the metadata answer and
 * the common `version` do not read and compile it.
 */
export { completionSpecOfCli, daemonNames, main } from "./main.js";
export * as seaSupport from "./sea.js";
