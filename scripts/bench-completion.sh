#!/usr/bin/env bash
# A benchmark, not a test: the latency of shell completion through the docker CLI.
#
#   scripts/bench-completion.sh [RUNS] [DOCKER]     (default 20 runs, docker CLI `docker`)
#
# Times, as whole processes, with the plugin installed into a temporary DOCKER_CONFIG:
#   docker __complete leak ''       subcommands: answered from the tree built into the launcher's
#                                   bundle, no daemon call
#   docker __complete leak rm ''    container names: the rest of the plugin and one daemon call
#   docker-leak __complete leak ''  the plugin alone (what the docker CLI adds is the difference)
#   docker __complete ''            the docker CLI's own completion, for comparison
# Prints medians in ms; the runs are interleaved so that a busy moment of the machine hits all
# alike. Needs the bundle built (node scripts/build.mjs) and a daemon (the private test daemon by
# default).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
docker_cli=${2:-docker}
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/docker-leak-test/docker.sock}
cfg=$(mktemp -d)
trap 'rm -rf "$cfg"' EXIT
scripts/install-plugin.sh --no-build --prefix "$cfg/cli-plugins" 2>/dev/null
export DOCKER_CONFIG=$cfg
launcher=$cfg/cli-plugins/docker-leak

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# What the names answer holds here (so that the figure can be read against the daemon's size).
names=$("$docker_cli" __complete leak rm '' 2>/dev/null | grep -vc '^:' || true)

subs=() rm=() plugin=() own=()
for _ in $(seq "$runs"); do
  subs+=("$(once_us "$docker_cli" __complete leak '')")
  rm+=("$(once_us "$docker_cli" __complete leak rm '')")
  plugin+=("$(once_us "$launcher" __complete leak '')")
  own+=("$(once_us "$docker_cli" __complete '')")
done

echo "completion latency, median of $runs runs (ms), $("$docker_cli" version --format '{{.Client.Version}}' 2>/dev/null) CLI"
printf '  %-40s %8s\n' "docker __complete leak ''" "$(printf '%s\n' "${subs[@]}" | median)"
printf '  %-40s %8s   (%s names)\n' "docker __complete leak rm ''" "$(printf '%s\n' "${rm[@]}" | median)" "$names"
printf '  %-40s %8s\n' "docker-leak __complete leak '' (alone)" "$(printf '%s\n' "${plugin[@]}" | median)"
printf '  %-40s %8s\n' "docker __complete '' (docker's own)" "$(printf '%s\n' "${own[@]}" | median)"
