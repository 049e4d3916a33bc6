#!/usr/bin/env bash
# A benchmark, not a test: `docker leak watch` on real leaks (see scripts/bench-watch.ts):
# time from `docker stop` to the finding (median and p95 over STOPS stops), helper runs per burst
# of BURST stops, CPU while idle, memory before and after EVENTS volume events.
#
#   flock /tmp/dlt-daemon.lock scripts/bench-watch.sh [STOPS] [BURST] [IDLE_SECONDS] [EVENTS]
#                                                     (defaults 50 200 30 10000)
# Needs root (the holder is `unshare -m`), the bundle (node scripts/build.mjs) and the helper
# binaries, and a daemon: the private test daemon by default (DOCKER_HOST to choose another).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/bench-watch.ts "$@"
