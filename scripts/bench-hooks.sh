#!/usr/bin/env bash
# A benchmark, not a test: what `docker leak install --hooks` costs the commands it hooks.
#
#   scripts/bench-hooks.sh [RUNS] [DOCKER]     (default 20 runs, docker CLI `docker`; needs 26.1+)
#
# The docker CLI runs hooks only when its stdout is a terminal, so every docker command here runs
# in a pseudo-terminal (script(1) from util-linux), with and without the plugin alike. A hooked
# command that succeeds is `docker rm -f NAME` of a container that does not exist: the CLI
# reports success (exit 0) after one daemon round trip, changes nothing, and so can be repeated.
# Three configurations, each a temporary DOCKER_CONFIG, their runs interleaved so that a busy
# moment of the machine hits all alike:
#   none     no plugin
#   plugin   the plugin installed (the CLI lists it for --help), no hooks
#   hooks    the plugin installed with --hooks (for rm: a metadata probe and the hook, both
#            answered by the launcher with shell builtins)
# Also timed on their own: the launcher's answer to the hook for a success (no Node) and for a
# "device or resource busy" failure (Node and src/cli/hook.ts).
# Prints medians in ms. Needs the bundle built (node scripts/build.mjs) and a daemon (the private
# test daemon by default).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
docker_cli=${2:-docker}
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/docker-leak-test/docker.sock}
command -v script >/dev/null || { echo "bench-hooks: script (util-linux) is required" >&2; exit 1; }
version=$("$docker_cli" version --format '{{.Client.Version}}' 2>/dev/null || true)
case $version in
2[6-9].* | [3-9][0-9].*) ;;
*) echo "bench-hooks: $docker_cli is ${version:-unknown}; hooks need the docker CLI 26.1 or later" >&2; exit 1 ;;
esac

none=$(mktemp -d) plugin=$(mktemp -d) hooks=$(mktemp -d)
trap 'rm -rf "$none" "$plugin" "$hooks"' EXIT
DOCKER_CONFIG=$plugin node dist/docker-leak.cjs install >/dev/null
DOCKER_CONFIG=$hooks node dist/docker-leak.cjs install --hooks >/dev/null
launcher=$hooks/cli-plugins/docker-leak
missing=dlt-bench-hooks-no-such-container

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
on_tty() { # DOCKER_CONFIG, docker args… → runs them in a pseudo-terminal
  local cfg=$1
  shift
  DOCKER_CONFIG=$cfg script -qec "$docker_cli $*" /dev/null
}

ok='{"RootCmd":"rm","Flags":{"force":"true"},"CommandError":""}'
busy='{"RootCmd":"volume rm","Flags":{},"CommandError":"Error response from daemon: remove data: error removing volume path '"'"'/var/lib/docker/volumes/data/_data'"'"': unlinkat /var/lib/docker/volumes/data/_data/sub: device or resource busy"}'

# Sanity: the hooked command succeeds and prints no hint; the busy answer names the volume.
out=$(on_tty "$hooks" rm -f "$missing" 2>&1)
case $out in *"What's next"*) echo "bench-hooks: a hint after a successful docker rm: $out" >&2; exit 1 ;; esac
"$launcher" leak docker-cli-plugin-hooks "$busy" | grep -q 'volume rm --force-unmount data' ||
  { echo "bench-hooks: the hook does not answer a busy volume" >&2; exit 1; }

declare -a help_none help_plugin help_hooks rm_none rm_plugin rm_hooks hook_ok hook_busy
for _ in $(seq "$runs"); do
  help_none+=("$(once_us on_tty "$none" --help)")
  help_plugin+=("$(once_us on_tty "$plugin" --help)")
  help_hooks+=("$(once_us on_tty "$hooks" --help)")
  rm_none+=("$(once_us on_tty "$none" rm -f "$missing")")
  rm_plugin+=("$(once_us on_tty "$plugin" rm -f "$missing")")
  rm_hooks+=("$(once_us on_tty "$hooks" rm -f "$missing")")
  hook_ok+=("$(once_us "$launcher" leak docker-cli-plugin-hooks "$ok")")
  hook_busy+=("$(once_us "$launcher" leak docker-cli-plugin-hooks "$busy")")
done

row() { # label, samples… → one line, with the difference to the first figure given as $BASE
  local label=$1
  shift
  local m
  m=$(printf '%s\n' "$@" | median)
  if [ -n "${BASE:-}" ]; then
    printf '%-46s %8s ms   (%+.1f ms)\n' "$label" "$m" "$(awk -v a="$m" -v b="$BASE" 'BEGIN{print a-b}')"
  else
    printf '%-46s %8s ms\n' "$label" "$m"
  fi
}
echo "docker CLI $version ($docker_cli), $runs runs each, medians, in a pseudo-terminal:"
BASE=$(printf '%s\n' "${help_none[@]}" | median)
row "docker --help, no plugin" "${help_none[@]}"
row "docker --help, plugin" "${help_plugin[@]}"
row "docker --help, plugin with --hooks" "${help_hooks[@]}"
BASE=$(printf '%s\n' "${rm_none[@]}" | median)
row "docker rm -f MISSING (succeeds), no plugin" "${rm_none[@]}"
row "docker rm -f MISSING, plugin" "${rm_plugin[@]}"
row "docker rm -f MISSING, plugin with --hooks" "${rm_hooks[@]}"
BASE=
row "the hook's answer to a success (launcher)" "${hook_ok[@]}"
row "the hook's answer to a busy volume (node)" "${hook_busy[@]}"
