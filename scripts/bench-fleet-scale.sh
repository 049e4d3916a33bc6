#!/usr/bin/env bash
# Figures for BENCHMARKS.md ("Remote daemons and fleets"): `scan --context c1,…,cN` over 1, 4 and 8
# private dockerds (unix sockets, scripts/test-daemon.sh with roots of their own) against the
# slowest single scan of the same daemons, against N single scans started at once with `&`, and
# the plugin's peak memory (/usr/bin/time -v, Maximum resident set size). Each daemon has a small
# real leak: a stopped `--ipc shareable` container whose shm one host `unshare -m` process holds,
# so every scan finds something (exit 3 is checked). Everything it made is removed (trap).
#
#   sudo scripts/bench-fleet-scale.sh          # RUNS=3 by default; MAX=8 daemons
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
MAX=${MAX:-8}
PLUGIN=${PLUGIN:-dist/docker-leak.cjs}
[ -f "$PLUGIN" ] || node scripts/build.mjs --require-helpers >/dev/null

work=$(mktemp -d /tmp/dlt-bench-scale-XXXXXX)
export DOCKER_CONFIG=$work/config
export DOCKER_HOST=unix:///nonexistent/dlt-bench-default.sock
unset DOCKER_CONTEXT
names=()
for i in $(seq "$MAX"); do names+=("s$i"); done
holder=
root_of() { echo "/var/lib/dlt-bench-scale-$1"; }
run_of() { echo "/run/dlt-bench-scale-$1"; }
sock_of() { echo "unix://$(run_of "$1")/docker.sock"; }
daemon() {
  DOCKER_LEAK_TEST_ROOT=$(root_of "$1")/root DOCKER_LEAK_TEST_RUN=$(run_of "$1") scripts/test-daemon.sh "$2"
}
cleanup() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
  for n in "${names[@]}"; do
    daemon "$n" stop >/dev/null 2>&1 || true
    rm -rf "$(root_of "$n")" "$(run_of "$n")"
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Started at once (each its own roots and network namespace); the helper image is loaded by a
# first scan of each, before timing.
for n in "${names[@]}"; do daemon "$n" start >"$work/start-$n.log" 2>&1 & done
wait
for n in "${names[@]}"; do
  DOCKER_HOST=$(sock_of "$n") docker version >/dev/null 2>&1 || { cat "$work/start-$n.log" >&2; exit 1; }
  docker context create "$n" --docker "host=$(sock_of "$n")" >/dev/null 2>&1
done
ids=()
for n in "${names[@]}"; do
  ids+=("$(DOCKER_HOST=$(sock_of "$n") docker run -d --ipc shareable docker-leak-test/busybox:latest sleep 600)")
done
unshare -m --propagation private sleep 3600 &
holder=$!
sleep 0.5
for i in "${!names[@]}"; do DOCKER_HOST=$(sock_of "${names[$i]}") docker stop -t 0 "${ids[$i]}" >/dev/null; done
for n in "${names[@]}"; do node "$PLUGIN" --context "$n" leak scan >/dev/null 2>&1 || true; done

ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
# wall CMD…: median wall ms over RUNS; fails unless every run found the leaks (exit 3).
wall() {
  local times=() t0 rc
  for _ in $(seq "$RUNS"); do
    t0=$(ms)
    rc=0
    "$@" >/dev/null 2>&1 || rc=$?
    times+=($(($(ms) - t0)))
    [ "$rc" = 3 ] || { echo "bench-fleet-scale: '$*' exited $rc, not 3 (leaks found)" >&2; exit 1; }
  done
  printf '%s\n' "${times[@]}" | median
}
# N single scans started at once with the shell's `&`: exit 3 from each.
singles_at_once() {
  local pids=() p rc=0
  for n in "$@"; do node "$PLUGIN" --context "$n" leak scan >/dev/null 2>&1 & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || [ $? = 3 ] || rc=1; done
  [ "$rc" = 0 ] && return 3
  return 1
}
# CPU seconds (utime+stime of themselves and their reaped children) of this benchmark's daemons:
# dockerd, containerd and the shims (runc's are reaped by the shims, the shims' by containerd).
daemons_cpu() {
  local pid total=0
  for pid in $(pgrep -f 'dlt-bench-scale-' || true); do
    total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# usage LIST: one scan of LIST under /usr/bin/time -v: "peak-RSS-KiB plugin-CPU-s daemons-CPU-s
# machine-busy-CPU-s wall-s" (the machine's includes other sessions' load).
usage() {
  local d0 d1 b0 b1 t0 t1 out
  busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
  d0=$(daemons_cpu) b0=$(busy) t0=$(ms)
  out=$({ /usr/bin/time -v node "$PLUGIN" leak scan --context "$1" 2>&1 >/dev/null || true; })
  d1=$(daemons_cpu) b1=$(busy) t1=$(ms)
  awk -F: -v d=$((d1 - d0)) -v b=$((b1 - b0)) -v w=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
    /Maximum resident set size/ { rss = $2 + 0 }
    /User time/ { cpu += $2 }
    /System time/ { cpu += $2 }
    END { printf "%d %.2f %.2f %.2f %.2f\n", rss, cpu, d / hz, b / hz, w / 1000 }' <<<"$out"
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $RUNS runs each, $MAX daemons"
declare -A one
for n in "${names[@]}"; do one[$n]=$(wall node "$PLUGIN" --context "$n" leak scan); done
echo "single scans (median ms): $(for n in "${names[@]}"; do printf '%s=%s ' "$n" "${one[$n]}"; done)"
echo
echo "| daemons | scan --context … (median) | slowest single scan (median) | ratio | N single scans at once with & (median) | peak RSS of the plugin | CPU s of one fleet scan: plugin / daemons / whole machine (wall) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for count in 1 4 8; do
  [ "$count" -le "$MAX" ] || continue
  set=("${names[@]:0:$count}")
  list=$(IFS=,; echo "${set[*]}")
  fleet=$(wall node "$PLUGIN" leak scan --context "$list")
  slowest=0
  for n in "${set[@]}"; do [ "${one[$n]}" -gt "$slowest" ] && slowest=${one[$n]}; done
  together=$(wall singles_at_once "${set[@]}")
  read -r rss cpu dcpu mcpu secs <<<"$(usage "$list")"
  printf '| %s | %s ms | %s ms | %s | %s ms | %s MiB | %s / %s / %s (%s s) |\n' "$count" "$fleet" "$slowest" \
    "$(awk -v a="$fleet" -v b="$slowest" 'BEGIN { printf "%.2f", a / b }')" "$together" \
    "$(awk -v k="$rss" 'BEGIN { printf "%.0f", k / 1024 }')" "$cpu" "$dcpu" "$mcpu" "$secs"
done
