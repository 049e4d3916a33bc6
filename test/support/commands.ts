/** The subcommands `docker leak` offers (completion lists them in this order, with `help`). */
export const SUBCOMMANDS = [
  "help",
  "helper",
  "install",
  "rm",
  "scan",
  "uninstall",
  "version",
  "volume",
  "watch",
];
