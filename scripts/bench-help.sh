#!/usr/bin/env bash
# A benchmark, not a test: what the plugin adds to `docker --help` (the docker CLI runs every
# plugin's metadata probe on each `docker --help`), and `docker leak version` against `node -e 0`
# plus one daemon round trip. Prints medians of N runs (default 20); the with/without runs are
# interleaved so that a busy moment of the machine hits both alike.
# Needs the bundle built (node scripts/build.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cfg_with=$(mktemp -d)
cfg_without=$(mktemp -d)
trap 'rm -rf "$cfg_with" "$cfg_without"' EXIT
scripts/install-plugin.sh --no-build --prefix "$cfg_with/cli-plugins" 2>/dev/null
host=${DOCKER_HOST:-unix:///run/docker-leak-test/docker.sock}

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

w=() wo=() probe=() node0=() version=()
for _ in $(seq "$runs"); do
  wo+=("$(DOCKER_CONFIG=$cfg_without once_us docker --help)")
  w+=("$(DOCKER_CONFIG=$cfg_with once_us docker --help)")
  probe+=("$(once_us "$cfg_with/cli-plugins/docker-leak" docker-cli-plugin-metadata)")
  node0+=("$(once_us node -e 0)")
  version+=("$(DOCKER_HOST=$host once_us node dist/docker-leak.cjs version)")
done
without=$(printf '%s\n' "${wo[@]}" | median)
with=$(printf '%s\n' "${w[@]}" | median)
# One daemon round trip: GET /version over an open connection, timed inside one node process.
rtt=$(DOCKER_HOST=$host node -e '
  const http = require("node:http");
  const h = process.env.DOCKER_HOST;
  const opts = h.startsWith("unix://") ? { socketPath: h.slice(7) } : { host: new URL(h.replace(/^tcp:/, "http:")).hostname, port: new URL(h.replace(/^tcp:/, "http:")).port };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () => new Promise((ok, ko) => http.get({ ...opts, path: "/version", agent }, (r) => r.resume().on("end", ok)).on("error", ko));
  (async () => { const t = []; await get(); for (let i = 0; i < 20; i++) { const s = process.hrtime.bigint(); await get(); t.push(Number(process.hrtime.bigint() - s) / 1e6); }
    t.sort((a, b) => a - b); console.log(t[10].toFixed(1)); agent.destroy(); })();')
printf 'docker --help without the plugin   %8s ms\n' "$without"
printf 'docker --help with the plugin      %8s ms   (+%s ms)\n' "$with" "$(awk -v a="$with" -v b="$without" 'BEGIN{printf "%.1f", a-b}')"
printf 'metadata probe alone               %8s ms\n' "$(printf '%s\n' "${probe[@]}" | median)"
n0=$(printf '%s\n' "${node0[@]}" | median)
v=$(printf '%s\n' "${version[@]}" | median)
printf 'node -e 0                          %8s ms\n' "$n0"
printf 'daemon round trip (GET /version)   %8s ms\n' "$rtt"
printf 'docker leak version                %8s ms   (goal: 1.5 x node -e 0 + one round trip = %s ms)\n' "$v" \
  "$(awk -v n="$n0" -v r="$rtt" 'BEGIN{printf "%.1f", 1.5*n+r}')"
