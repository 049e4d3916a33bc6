#!/usr/bin/env bash
# Runs every test: lint and types, unit tests, then integration and end-to-end tests against a
# private dockerd (started or reused by scripts/test-daemon.sh; needs root).
#
#   sudo scripts/test.sh            # everything
#   sudo scripts/test.sh unit       # only the unit tests (no daemon)
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
[ -d node_modules ] || npm ci --no-audit --no-fund

echo "== lint and types" >&2
npx biome check src test scripts
npx tsc -p .
# The layering rule (README "Architecture"): lower layers never import higher ones, no cycles.
npx depcruise src --config .dependency-cruiser.cjs

echo "== build" >&2
# Helpers first: the bundle carries their digests. A unit run does not need the cross compilers:
# its bundle carries the digests of whatever build/helper holds (possibly none).
if [ "$what" = unit ]; then
  node scripts/build.mjs
else
  scripts/build-helper.sh
  node scripts/build.mjs --require-helpers
fi

# The host as a Docker user's machine has it (its own daemon, docker0, iptables, mounts): the
# private daemon and the tests must leave it as they found it.
before=$(mktemp)
after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
files=(test/unit/*.test.ts)
if [ "$what" != unit ]; then
  scripts/host-snapshot.sh >"$before"
  scripts/test-daemon.sh start
  # A private Podman service beside it (test/integration/podman.test.ts; a no-op without podman).
  scripts/test-podman.sh start
  files+=(test/integration/*.test.ts test/e2e/*.test.ts)
fi

echo "== tests" >&2
# Property-based tests: a fixed seed under CI (reproducible), random otherwise.
if [ -n "${CI:-}" ]; then export FC_SEED=${FC_SEED:-20261127}; fi
# One runner invocation, one summary. Files run one at a time: integration tests share the daemon.
status=0
node --import tsx --import ./test/support/fast-check-seed.ts --test --test-concurrency=1 --test-reporter=spec "${files[@]}" || status=$?
if [ "$what" != unit ]; then
  # Stopped before the host is compared: its containers' mounts go with it.
  scripts/test-podman.sh stop
  scripts/host-snapshot.sh >"$after"
  if ! diff -u "$before" "$after" >&2; then
    echo "== the tests changed the host (above: - before, + after)" >&2
    status=1
  else
    echo "== the host is as the tests found it (network, iptables, mounts, its own daemon)" >&2
  fi
fi
exit "$status"
