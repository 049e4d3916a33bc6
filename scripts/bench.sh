#!/usr/bin/env bash
# A benchmark, not a test (issue 6). On the private test dockerd it builds a synthetic busy host
# and prints medians of several runs, side by side:
#   - `docker leak scan --format json` end to end (helper container included),
#   - the helper's scan alone (run directly on the host),
#   - the manual way, as the issue writes it: for each container, find /proc/*/mounts | xargs grep -l <ID>
#     (and the leaner grep -l <ID> /proc/[0-9]*/mounts),
#   - a floor: each distinct mount namespace's mountinfo read once (stat + awk + cat, no Docker),
#   - the floor of any scan with a helper container: node -e 0 + one helper container that does
#     nothing, run through the plugin's own client and HostConfig (scripts/bench-lifecycle.ts),
#   - peak RSS of the plugin process and of the helper (/usr/bin/time -v),
#   - where a scan's time goes (scripts/bench-trace.cjs: node start-up, daemon calls, the helper
#     container's create/start/run/removal, the rest),
#   - plugin memory with P and with 5×P processes (same leaks): flat in processes?
# then calls scripts/bench-help.sh (docker --help with/without the plugin, version vs node -e 0).
#
#   sudo scripts/bench.sh [small|large|all|load]      (default: small; load: N=200 P=5000 K=10)
#
# Synthetic host of size (N, P, K): N stopped `--ipc shareable` containers whose /dev/shm mount is
# held by K host processes, each `unshare -m --propagation private sleep` started while the
# containers ran; plus P plain host `sleep` processes.
#   small: N=40  P=500  K=20        large: N=160 P=2000 K=80 (4x)
# Env: RUNS (default 5), MANUAL_RUNS (default RUNS; the manual search is slow at large size),
#      B_PLUGIN (another build's dist/docker-leak.cjs: its scan end to end is measured too, run for
#      run alternating with this one's, A B A B …: wall time, CPU time and peak RSS of each run
#      (scripts/bench-rusage.c), their medians and the medians of the ratios: A/B in one sitting),
#      SETTLE (seconds to let the daemon settle after the setup, default 5),
#      HELP_RUNS (default 10, passed to bench-help.sh), DOCKER_HOST (default: the test daemon),
#      HOLD=1 (build the size's host, then keep it until interrupted, timing nothing: for profiling
#      the plugin on it by hand).
# Everything it creates is named dlt-bench-* and removed on exit (trap EXIT).
set -euo pipefail
cd "$(dirname "$0")/.."

export DOCKER_HOST=${DOCKER_HOST:-unix:///run/docker-leak-test/docker.sock}
IMAGE=${IMAGE:-docker-leak-test/busybox:latest}
HELPER=${HELPER:-build/helper/docker-leak-helper-linux-amd64}
RUNS=${RUNS:-5}
MANUAL_RUNS=${MANUAL_RUNS:-$RUNS}
HELP_RUNS=${HELP_RUNS:-10}
ROOTDIR=${ROOTDIR:-/var/lib/dlt-daemon/root}
EXECROOT=${EXECROOT:-/run/docker-leak-test/exec}
what=${1:-small}

[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo): it reads every process's mounts" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
[ -f dist/docker-leak.cjs ] || { echo "bench: build first (node scripts/build.mjs)" >&2; exit 2; }
[ -x "$HELPER" ] || { echo "bench: $HELPER missing (scripts/build-helper.sh)" >&2; exit 2; }

tag="dlt-bench-$$"
work=$(mktemp -d /tmp/dlt-bench-XXXXXX)
pids_file="$work/pids"         # every host process we started (holders and plain sleeps)
names_file="$work/containers"  # every container we created
: >"$pids_file"; : >"$names_file"

cleanup() {
  set +e
  if [ -s "$pids_file" ]; then
    # only our own PIDs, one by one (they are sleeps; unshare exec()s sleep, same PID)
    xargs -r kill -KILL <"$pids_file" 2>/dev/null
  fi
  if [ -s "$names_file" ]; then
    xargs -r -n 20 docker rm -f <"$names_file" >/dev/null 2>&1
  fi
  wait 2>/dev/null
  rm -rf "$work"
  left=$(docker ps -a --filter "name=$tag" --format '{{.Names}}' | wc -l)
  echo "cleanup: removed our processes and containers; left with name=$tag: $left" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -n "${B_PLUGIN:-}" ]; then
  command -v gcc >/dev/null || { echo "bench: B_PLUGIN needs gcc (scripts/bench-rusage.c)" >&2; exit 2; }
  gcc -O2 -Wall -Wextra -Werror -o "$work/rusage" scripts/bench-rusage.c
fi

median() { # [decimals, default 1]
  sort -n | awk -v d="${1:-1}" '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.*f", d, m}'
}

time_ms() { # command… → wall ms of one run (exit status ignored: scan exits 3 on leaks)
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))  # µs
}

median_ms() { # runs command… → median wall ms
  local runs=$1; shift
  local i
  for i in $(seq "$runs"); do time_ms "$@"; done | median | awk '{printf "%.1f", $1/1000}'
}

max_rss_kb() { # command… → max RSS (kB) of the command's process tree, per /usr/bin/time -v
  # (time exits with the command's status: scan exits 3 when it finds leaks)
  { /usr/bin/time -v "$@" 2>&1 >/dev/null || true; } | awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}'
}

scan_e2e() { node dist/docker-leak.cjs scan --format json; }
scan_e2e_b() { node "$B_PLUGIN" scan --format json; }
# Two builds side by side must not undo each other's work between runs, or every run pays for it:
# each keeps its V8 code cache in a cache directory of its own (a build removes the caches of
# other bundles from its directory), and each one's helper image is kept by a container created
# from it and never started (loading an image removes the superseded images of ours that nothing
# uses: without it, A and B would load their image again on every run).
keep_helper_image() { # name: keep the helper image the last run used
  local id
  for id in $(docker images --filter 'reference=docker-leak-helper:*' --format '{{.ID}}'); do
    docker ps -a --filter "ancestor=$id" --filter "name=$tag-keep-" --format '{{.ID}}' | grep -q . && continue
    # (Earlier builds sweep containers labelled io.docker-leak.helper=1, which their image carries.)
    local relabel=()
    [ "$(docker image inspect --format '{{index .Config.Labels "io.docker-leak.helper"}}' "$id")" = 1 ] &&
      relabel=(--label io.docker-leak.helper=bench-keeper)
    echo "$tag-keep-$1-$id" >>"$names_file"
    docker create --name "$tag-keep-$1-$id" "${relabel[@]}" --network none "$id" >/dev/null
  done
}
ab_e2e() { # runs → "A-wall B-wall wall-ratio A-cpu B-cpu cpu-ratio A-peak B-peak peak-ratio" (ms, ms, KiB;
  # medians, and medians of the ratios run for run), the two builds alternating A B A B …
  local i
  : >"$work/ab"
  mkdir -m 700 -p "$work/cache-a" "$work/cache-b"
  XDG_CACHE_HOME="$work/cache-a" scan_e2e >/dev/null 2>&1 || true
  keep_helper_image a
  XDG_CACHE_HOME="$work/cache-b" scan_e2e_b >/dev/null 2>&1 || true
  keep_helper_image b
  for i in $(seq "$1"); do
    # each: wall ms, CPU ms, peak KiB, exit status (scripts/bench-rusage.c)
    echo "$(XDG_CACHE_HOME="$work/cache-a" "$work/rusage" node dist/docker-leak.cjs scan --format json)" \
      "$(XDG_CACHE_HOME="$work/cache-b" "$work/rusage" node "$B_PLUGIN" scan --format json)" >>"$work/ab"
  done
  awk '$4 != 3 || $8 != 3' "$work/ab" | grep -q . &&
    echo "bench: not every A/B run exited 3 (leaks found): $(awk '{print $4 "/" $8}' "$work/ab" | sort | uniq -c | tr '\n' ' ')" >&2
  local col
  for col in 1 2 3; do
    printf '%s %s %s ' "$(awk -v c=$col '{print $c}' "$work/ab" | median 3)" \
      "$(awk -v c=$((col + 4)) '{print $c}' "$work/ab" | median 3)" \
      "$(awk -v c=$col '{printf "%.4f\n", $c/$(c+4)}' "$work/ab" | median 3)"
  done
  echo
}
helper_scan() { "$HELPER" scan --filter "$ROOTDIR" --filter /netns/; }  # the plugin's filters
manual() { # the manual way, as the issue writes it: one find | xargs grep over every process's mounts per container
  local id
  while read -r id; do find /proc/*/mounts 2>/dev/null | xargs grep -l "$id" 2>/dev/null || true; done <"$work/ids"
}
manual_grep() { # the same with one grep and a glob (no find, no xargs): the leanest manual form
  local id
  while read -r id; do grep -l "$id" /proc/[0-9]*/mounts 2>/dev/null || true; done <"$work/ids"
}
phases() { # runs → median of each phase of a scan (scripts/bench-trace.cjs)
  local i trace="$work/trace.jsonl"
  : >"$trace"
  for i in $(seq "$1"); do
    BENCH_TRACE_OUT=$trace node -r ./scripts/bench-trace.cjs dist/docker-leak.cjs scan --format json >/dev/null 2>&1 || true
  done
  node scripts/bench-phases.mjs "$trace"
}
more_processes() { # count: start that many more plain host processes
  sh -c 'i=0; while [ $i -lt "$1" ]; do i=$((i+1))
    sleep 100000 </dev/null >/dev/null 2>&1 & echo $!; done' sh "$1" >>"$pids_file"
}
floor() { # each distinct mount namespace's mountinfo, read once
  stat -L -c '%i %n' /proc/[0-9]*/ns/mnt 2>/dev/null |
    awk '!seen[$1]++ {sub(/ns\/mnt$/, "mountinfo", $2); print $2}' |
    xargs -r cat 2>/dev/null || true
}

build_host() { # N P K
  local n=$1 p=$2 k=$3 size=$4 i t0
  t0=$(date +%s)
  seq "$n" | sed "s/^/$tag-$size-/" >"$work/names-$size"
  cat "$work/names-$size" >>"$names_file"
  # containers, running; 4 at a time (2 cores)
  xargs -P 4 -I{} docker run -d --name {} --ipc shareable --network none "$IMAGE" sleep 100000 \
    <"$work/names-$size" >"$work/ids"
  [ "$(wc -l <"$work/ids")" = "$n" ] || { echo "bench: only $(wc -l <"$work/ids")/$n containers started" >&2; exit 1; }
  # K holders: each its own private mount namespace, copied while the shm mounts exist
  # (started from a child shell, so they are not this shell's jobs: no "Killed" noise on cleanup;
  #  unshare exec()s sleep, so the PID recorded is the holder's)
  sh -c 'i=0; while [ $i -lt "$1" ]; do i=$((i+1))
    unshare -m --propagation private sleep 100000 </dev/null >/dev/null 2>&1 & echo $!; done' sh "$k" >>"$pids_file"
  sleep 1  # let unshare exec
  # P plain host processes
  sh -c 'i=0; while [ $i -lt "$1" ]; do i=$((i+1))
    sleep 100000 </dev/null >/dev/null 2>&1 & echo $!; done' sh "$p" >>"$pids_file"
  [ "$(wc -l <"$pids_file")" = $((k + p)) ] || { echo "bench: could not start all host processes" >&2; exit 1; }
  # stop the containers: their shm is now held only by the holders
  xargs -P 4 -n 20 docker kill <"$work/names-$size" >/dev/null
  echo "setup $size (N=$n P=$p K=$k): $(( $(date +%s) - t0 )) s; host now has $(ls -d /proc/[0-9]* 2>/dev/null | wc -l) processes," \
    "$(stat -L -c %i /proc/[0-9]*/ns/mnt 2>/dev/null | sort -u | wc -l) mount namespaces" >&2
}

teardown_host() { # size: remove this size's holders/sleeps and containers (the trap covers errors)
  xargs -r kill -KILL <"$pids_file" 2>/dev/null || true
  wait 2>/dev/null || true
  : >"$pids_file"
  xargs -r -n 20 docker rm -f <"$work/names-$1" >/dev/null 2>&1 || true
}

bench_size() { # size N P K
  local size=$1 n=$2 p=$3 k=$4
  build_host "$n" "$p" "$k" "$size"
  if [ -n "${HOLD:-}" ]; then
    echo "holding the $size host; interrupt (or kill -TERM $$) to remove it" >&2
    sleep infinity &
    echo $! >>"$pids_file"
    wait $! || true
    exit 0
  fi
  # sanity: does the scan see the leaks we made?
  local leaked
  leaked=$(scan_e2e 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);console.log(j.summary.leaked+"/"+j.findings.length)}catch{console.log("?")}})' || true)
  echo "scan sees leaked/findings: $leaked (expect >= $n leaked)" >&2
  # Let the daemon finish the setup's work (exits, unmounts, events of the killed containers)
  # before anything is timed: the first scans after a mass kill otherwise pay for it.
  sleep "${SETTLE:-5}"
  local e2e helper man mang flo rss_plugin rss_helper fixed rss_more e2e_more aw bw rw ac bc rc ap bp rp
  e2e=$(median_ms "$RUNS" scan_e2e)
  if [ -n "${B_PLUGIN:-}" ]; then
    read -r aw bw rw ac bc rc ap bp rp < <(ab_e2e "$RUNS")
    printf '\n== %s: A/B, this build (A) and %s (B), alternating, %s runs each (medians)\n' "$size" "$B_PLUGIN" "$RUNS"
    printf '%-44s %12s %12s %14s\n' "docker leak scan --format json" "A" "B" "A/B run for run" \
      "wall (ms)" "$aw" "$bw" "$rw" "CPU, user + system (ms)" "$ac" "$bc" "$rc" "peak RSS (KiB)" "$ap" "$bp" "$rp"
    echo "RESULT-AB $size wall_a=$aw wall_b=$bw wall_ratio=$rw cpu_a=$ac cpu_b=$bc cpu_ratio=$rc peak_a_kb=$ap peak_b_kb=$bp peak_ratio=$rp"
  fi
  helper=$(median_ms "$RUNS" helper_scan)
  flo=$(median_ms "$RUNS" floor)
  man=$(median_ms "$MANUAL_RUNS" manual)
  mang=$(median_ms "$MANUAL_RUNS" manual_grep)
  rss_plugin=$(max_rss_kb node dist/docker-leak.cjs scan --format json)
  rss_helper=$(max_rss_kb "$HELPER" scan --filter "$ROOTDIR" --filter /netns/)
  fixed=$(awk -v a="$e2e" -v b="$helper" 'BEGIN{printf "%.1f", a-b}')
  printf '\n== %s: where a scan --format json spends its time (median of %s)\n' "$size" "$RUNS"
  phases "$RUNS"
  # Memory flat in processes? The same leaks, with 4×P more plain processes.
  more_processes $((4 * p))
  sleep 1
  rss_more=$(max_rss_kb node dist/docker-leak.cjs scan --format json)
  e2e_more=$(median_ms "$RUNS" scan_e2e)
  printf '\n== %s: N=%s containers, P=%s plain processes, K=%s holders (median of %s; manual of %s)\n' \
    "$size" "$n" "$p" "$k" "$RUNS" "$MANUAL_RUNS"
  printf '%-44s %10s ms\n' "docker leak scan --format json (end to end)" "$e2e" \
    "helper scan alone" "$helper" "manual: find /proc/*/mounts | xargs grep -l ID" "$man" \
    "manual, lean: grep -l ID /proc/[0-9]*/mounts" "$mang" \
    "floor: each mount ns's mountinfo once" "$flo" "fixed cost (end to end - helper alone)" "$fixed"
  printf '%-44s %10s kB\n' "peak RSS, plugin (node)" "$rss_plugin" "peak RSS, helper" "$rss_helper" \
    "peak RSS, plugin, with $((5 * p)) plain processes" "$rss_more"
  printf '%-44s %10s ms\n' "scan end to end, with $((5 * p)) plain processes" "$e2e_more"
  awk -v e="$e2e" -v h="$helper" -v m="$man" -v g="$mang" -v f="$flo" -v c="$container_floor" 'BEGIN{
    printf "%-44s %10.1fx\n", "manual / scan end to end", m/e;
    printf "%-44s %10.1fx\n", "manual / floor of a containerised scan", m/c;
    printf "%-44s %10.1fx\n", "manual (lean grep) / scan end to end", g/e;
    printf "%-44s %10.1fx\n", "manual / helper alone", m/h;
    printf "%-44s %10.1fx\n", "helper alone / floor", h/f }'
  echo "RESULT $size n=$n p=$p k=$k e2e=$e2e helper=$helper manual=$man manual_grep=$mang floor=$flo container_floor=$container_floor fixed=$fixed rss_plugin_kb=$rss_plugin rss_helper_kb=$rss_helper rss_plugin_5p_kb=$rss_more e2e_5p=$e2e_more"
  teardown_host "$size"
}

printf '== the fixed cost: scan end to end on this daemon before the synthetic host exists (median of %s)\n' "$RUNS"
printf '%-44s %10s ms\n' "docker leak scan --format json, no leaks" "$(median_ms "$RUNS" scan_e2e)"
phases "$RUNS"
# The floor of any scan that runs one helper container: Node's start-up plus the daemon's cost of
# one container (create, start, exit, removal) whose helper does no work (scripts/bench-lifecycle.ts).
node0=$(median_ms "$RUNS" node -e 0)
lifecycle=$(node --import tsx scripts/bench-lifecycle.ts "$RUNS" 2>/dev/null)
container_floor=$(awk -v a="$node0" -v b="$lifecycle" 'BEGIN{printf "%.1f", a+b}')
printf '%-44s %10s ms\n' "node -e 0" "$node0" "one helper container, doing nothing" "$lifecycle" \
  "floor of a containerised scan (the sum)" "$container_floor"
echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') RAM, kernel $(uname -r)," \
  "docker server $(docker version --format '{{.Server.Version}}'), node $(node --version)"
case "$what" in
small) bench_size small 40 500 20 ;;
large) bench_size large 160 2000 80 ;;
all) bench_size small 40 500 20; bench_size large 160 2000 80 ;;
load) bench_size load 200 5000 10 ;; # issue 7: 200 containers, 5,000 processes; peak memory
*) echo "usage: $0 [small|large|all|load]" >&2; exit 2 ;;
esac
echo
echo "== docker --help and docker leak version (scripts/bench-help.sh, median of $HELP_RUNS)"
scripts/bench-help.sh "$HELP_RUNS"
