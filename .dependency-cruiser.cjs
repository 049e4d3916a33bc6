/**
 * The layering rule of src/ (README "Architecture"), checked by `npm run lint`:
 *
 *   cli/  ──►  core/  ──►  docker/  ──►  model/  ──►  helper/protocol.ts
 *    │                                     ▲
 *    └──►  render/  ───────────────────────┘
 *
 * A layer imports only itself and the layers to its right (errors.ts and version.ts are for
 * everyone); nothing imports cli/; there is no import cycle, type-only imports included.
 */
const layer = (name, may) => ({
  name: `${name}-imports-only-lower-layers`,
  severity: "error",
  comment: `src/${name} may import only ${may.join(", ")}`,
  from: { path: `^src/${name}/` },
  to: { path: "^src/", pathNot: [`^src/${name}/`, "^src/errors\\.ts$", "^src/version\\.ts$", ...may.map((m) => `^src/${m}/`)] },
});

module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", from: {}, to: { circular: true } },
    layer("core", ["docker", "model", "helper"]),
    layer("docker", ["model", "helper"]),
    layer("render", ["model", "helper"]),
    layer("model", ["helper"]),
    layer("helper", []),
    {
      name: "shared-modules-import-no-layer",
      severity: "error",
      from: { path: "^src/(errors|version)\\.ts$" },
      to: { path: "^src/", pathNot: "^src/(errors|version)\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "^(node_modules|dist|build)/" },
  },
};
