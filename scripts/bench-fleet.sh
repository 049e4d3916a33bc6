#!/usr/bin/env bash
# Figures for BENCHMARKS.md ("Remote daemons and fleets"): wall time and ssh connections of a scan
# of one daemon reached locally (unix://) and over ssh:// (a private sshd on 127.0.0.1,
# scripts/test-sshd.sh) and over tcp:// with --tlsverify (the first daemon also listens on
# 127.0.0.1, certificates by scripts/test-tls.sh; connections counted by `strace -f -e connect`),
# `docker ps` over the same ssh:// and tcp:// for reference, and the wall time of `scan --context …`
# over 1, 2 and 3 daemons against the slowest single scan. Starts two private dockerds of its own
# (scripts/test-daemon.sh with their own roots) and removes all it made.
#
#   sudo scripts/bench-fleet.sh            # RUNS=5 by default
#   B_PLUGIN=/path/to/other/dist/docker-leak.cjs sudo scripts/bench-fleet.sh   # also that build over ssh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
PLUGIN=${PLUGIN:-dist/docker-leak.cjs}
[ -f "$PLUGIN" ] || node scripts/build.mjs --require-helpers >/dev/null

work=$(mktemp -d /tmp/dlt-bench-fleet-XXXXXX)
sshdir=$work/sshd
mkdir "$sshdir"
export DOCKER_CONFIG=$work/config
export DOCKER_HOST=unix:///nonexistent/dlt-bench-default.sock
unset DOCKER_CONTEXT
daemons=(a b)
tls=$work/tls
daemon() {
  # The first daemon also listens on tcp:// with TLS.
  DOCKER_LEAK_TEST_TLS=$([ "$1" = a ] && echo "$tls") DOCKER_LEAK_TEST_ROOT=/var/lib/dlt-bench-$1/root \
    DOCKER_LEAK_TEST_RUN=/run/dlt-bench-$1 scripts/test-daemon.sh "$2"
}
cleanup() {
  scripts/test-sshd.sh stop "$sshdir" 2>/dev/null || true
  for d in "${daemons[@]}"; do
    daemon "$d" stop >/dev/null 2>&1 || true
    rm -rf "/var/lib/dlt-bench-$d" "/run/dlt-bench-$d"
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$tls"
scripts/test-tls.sh certs "$tls"

for d in "${daemons[@]}"; do daemon "$d" start >/dev/null 2>&1; done
url=$(scripts/test-sshd.sh start "$sshdir" unix:///run/dlt-bench-a/docker.sock)
export PATH=$sshdir/bin:$PATH
docker context create ba --docker host=unix:///run/dlt-bench-a/docker.sock >/dev/null
docker context create bb --docker host=unix:///run/dlt-bench-b/docker.sock >/dev/null
docker context create bssh --docker "host=$url" >/dev/null
tcp=tcp://127.0.0.1:$(cat "$tls/port")
docker context create btls --docker "host=$tcp,ca=$tls/ca.pem,cert=$tls/cert.pem,key=$tls/key.pem" >/dev/null
# The helper image is loaded once per daemon before timing.
for c in ba bb bssh btls; do node "$PLUGIN" --context "$c" leak scan >/dev/null 2>&1 || true; done

ms() { date +%s%3N; }
connections() { scripts/test-sshd.sh connections "$sshdir"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# time_of LABEL CMD…: median wall ms over RUNS, and ssh connections and ssh invocations per run.
time_of() {
  local label=$1
  shift
  local times=() c0 c1 s0 s1 t0
  c0=$(connections)
  s0=$(wc -l <"$sshdir/ssh.count" 2>/dev/null || echo 0)
  for _ in $(seq "$RUNS"); do
    t0=$(ms)
    "$@" >/dev/null 2>&1 || true
    times+=($(($(ms) - t0)))
  done
  c1=$(connections)
  s1=$(wc -l <"$sshdir/ssh.count" 2>/dev/null || echo 0)
  printf '| %s | %s ms | %s | %s |\n' "$label" "$(printf '%s\n' "${times[@]}" | median)" \
    "$(awk -v a="$c0" -v b="$c1" -v n="$RUNS" 'BEGIN { printf "%.1f", (b - a) / n }')" \
    "$(awk -v a="$s0" -v b="$s1" -v n="$RUNS" 'BEGIN { printf "%.1f", (b - a) / n }')"
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $RUNS runs each"
echo
echo "| what | median wall | ssh connections per run (sshd log) | ssh processes per run |"
echo "| --- | --- | --- | --- |"
time_of "docker leak scan, unix:// (local)" node "$PLUGIN" --context ba leak scan
time_of "docker leak scan, ssh:// (same daemon)" node "$PLUGIN" --context bssh leak scan
time_of "docker ps, ssh:// (reference)" docker --context bssh ps
time_of "docker leak version, ssh://" node "$PLUGIN" --context bssh leak version
time_of "docker leak scan, tcp:// with TLS (same daemon)" node "$PLUGIN" --context btls leak scan
time_of "docker ps, tcp:// with TLS (reference)" docker --context btls ps
if [ -n "${B_PLUGIN:-}" ]; then
  time_of "B: docker leak scan, ssh:// ($B_PLUGIN)" node "$B_PLUGIN" --context bssh leak scan
fi

# The ssh goal, run for run: a scan over ssh:// against the local scan plus one `docker ps` over
# the same ssh:// (the three alternate, so that the machine's drift hits them alike).
echo
printf 'paired (%s runs): ' "$RUNS"
: >"$work/paired"
for _ in $(seq "$RUNS"); do
  t0=$(ms); node "$PLUGIN" --context ba leak scan >/dev/null 2>&1 || true; a=$(($(ms) - t0))
  t0=$(ms); node "$PLUGIN" --context bssh leak scan >/dev/null 2>&1 || true; b=$(($(ms) - t0))
  t0=$(ms); docker --context bssh ps >/dev/null 2>&1 || true; c=$(($(ms) - t0))
  echo "$a $b $c" >>"$work/paired"
done
echo "median of ssh scan - (local scan + docker ps over ssh) = $(awk '{print $2 - $1 - $3}' "$work/paired" | median) ms" \
  "(medians: local $(awk '{print $1}' "$work/paired" | median), ssh $(awk '{print $2}' "$work/paired" | median)," \
  "ps $(awk '{print $3}' "$work/paired" | median) ms)"
echo
echo "| daemons | median wall of scan --context … | slowest single scan (median) | ratio |"
echo "| --- | --- | --- | --- |"
single() { time_of "$1" node "$PLUGIN" --context "$1" leak scan | awk -F'|' '{gsub(/[ ms]/, "", $3); print $3}'; }
declare -A one
for c in ba bb bssh; do one[$c]=$(single "$c"); done
for set in ba ba,bb ba,bb,bssh; do
  fleet=$(time_of "$set" node "$PLUGIN" leak scan --context "$set" | awk -F'|' '{gsub(/[ ms]/, "", $3); print $3}')
  slowest=0
  for c in ${set//,/ }; do [ "${one[$c]}" -gt "$slowest" ] && slowest=${one[$c]}; done
  printf '| %s (%s) | %s ms | %s ms | %s |\n' "$(tr ',' '\n' <<<"$set" | wc -l)" "$set" "$fleet" "$slowest" \
    "$(awk -v a="$fleet" -v b="$slowest" 'BEGIN { printf "%.2f", a / b }')"
done

# connects PATTERN CMD…: the connect() calls of CMD and its children whose address matches.
connects() {
  local pattern=$1
  shift
  strace -f -qq -e trace=connect -o "$work/strace" "$@" >/dev/null 2>&1 || true
  grep -c -- "$pattern" "$work/strace" || true
}
port=${tcp##*:}
echo
echo "| what | connections to the daemon (strace -f -e connect) |"
echo "| --- | --- |"
printf '| docker leak scan, tcp:// with TLS | %s TCP |\n' "$(connects "sin_port=htons($port)" node "$PLUGIN" --context btls leak scan)"
printf '| docker ps, tcp:// with TLS | %s TCP |\n' "$(connects "sin_port=htons($port)" docker --context btls ps)"
printf '| docker leak scan, unix:// | %s unix |\n' "$(connects "/run/dlt-bench-a/docker.sock" node "$PLUGIN" --context ba leak scan)"
