#!/usr/bin/env bash
# A benchmark, not a test: what an unprivileged user's mount stack costs a scan. As user nobody,
# in a user and mount namespace of its own, scripts/bench-stack-mounts.c makes N tmpfs mounts in
# K stacks on directories whose path contains the private daemon's root (so the helper reports
# every one of them and the plugin analyses every one, each a look-alike). Then it times
# `docker leak scan --format json` end to end (RUNS runs: median and max wall time, peak RSS of
# the plugin) and prints how many mounts were analysed, and removes everything on exit (the
# namespace dies with its process).
#
#   sudo scripts/bench-stacked.sh [N [K]]      (default N=99900 K=10: 9,990-deep chains of parents)
#
# Env: RUNS (default 3), DOCKER_HOST (default: the test daemon), ROOTDIR (its data root).
# Building the stacks takes the kernel minutes (each mount on a stack walks to its top).
set -euo pipefail
cd "$(dirname "$0")/.."

export DOCKER_HOST=${DOCKER_HOST:-unix:///run/docker-leak-test/docker.sock}
ROOTDIR=${ROOTDIR:-/var/lib/dlt-daemon/root}
RUNS=${RUNS:-3}
N=${1:-99900}
K=${2:-10}

[ "$(id -u)" = 0 ] || { echo "bench-stacked: run as root (sudo)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench-stacked: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
[ -f dist/docker-leak.cjs ] || { echo "bench-stacked: build first (node scripts/build.mjs)" >&2; exit 2; }

work=$(mktemp -d /tmp/dlt-bench-stacked-XXXXXX)
chmod 755 "$work"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

gcc -O2 -Wall -Wextra -Werror -o "$work/stack" scripts/bench-stack-mounts.c
start=$(date +%s)
setpriv --reuid 65534 --regid 65534 --clear-groups "$work/stack" "$N" "$K" "x$ROOTDIR/volumes/v/_data" >"$work/out" 2>&1 &
pid=$!
until grep -q ready "$work/out" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/out" >&2; exit 1; }
  sleep 1
done
lines=$(wc -l <"/proc/$pid/mountinfo")
echo "stacked mounts: N=$N in K=$K stacks (chains of $((N / K))); the namespace has $lines mounts; built in $(($(date +%s) - start)) s"

walls=()
rss=()
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %M" -o "$work/time" node dist/docker-leak.cjs scan --format json >"$work/scan.json" 2>"$work/err" || true
  read -r wall kb <"$work/time"
  walls+=("$wall")
  rss+=("$kb")
done
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`scan: ${r.stats.namespaces} namespaces, ${r.stats.lookAlikes} look-alikes ignored, ${r.findings.length} findings`);
' "$work/scan.json"
sorted=$(printf '%s\n' "${walls[@]}" | sort -n)
median=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
max=$(echo "$sorted" | tail -1)
peak=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
echo "docker leak scan --format json: median ${median} s, max ${max} s over $RUNS runs; peak RSS $((peak / 1024)) MiB"
