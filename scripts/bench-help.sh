#!/usr/bin/env bash
# A benchmark, not a test: what the plugin adds to `docker --help` (the docker CLI runs every
# plugin's metadata probe on each `docker --help`), and `docker leak version` against `node -e 0`.
# Prints medians of N runs (default 20). Needs the bundle built (node scripts/build.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cfg_with=$(mktemp -d)
cfg_without=$(mktemp -d)
trap 'rm -rf "$cfg_with" "$cfg_without"' EXIT
scripts/install-plugin.sh --no-build --prefix "$cfg_with/cli-plugins" 2>/dev/null

median_ms() { # command… → median wall time in ms over $runs runs
  local times=() t0 t1
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'
}

without=$(DOCKER_CONFIG=$cfg_without median_ms docker --help)
with=$(DOCKER_CONFIG=$cfg_with median_ms docker --help)
probe=$(median_ms "$cfg_with/cli-plugins/docker-leak" docker-cli-plugin-metadata)
node0=$(median_ms node -e 0)
host=${DOCKER_HOST:-unix:///run/docker-leak-test/docker.sock}
version=$(DOCKER_HOST=$host median_ms node dist/docker-leak.cjs version)
printf 'docker --help without the plugin   %8s ms\n' "$without"
printf 'docker --help with the plugin      %8s ms   (+%s ms)\n' "$with" "$(awk -v a="$with" -v b="$without" 'BEGIN{printf "%.1f", a-b}')"
printf 'metadata probe alone               %8s ms\n' "$probe"
printf 'node -e 0                          %8s ms\n' "$node0"
printf 'docker leak version (%s)  %8s ms\n' "$host" "$version"
