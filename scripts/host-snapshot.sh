#!/usr/bin/env bash
# Prints what the tests must leave as they found it on a Docker user's machine: the host's
# network interfaces and addresses (docker0 included), its iptables rules, its mount table (the
# lines that are not the private test daemon's), and the host daemon's containers and PID when one
# answers on the default socket. scripts/test.sh takes it before and after a run and fails when
# the two differ.
set -euo pipefail
TEST_ROOT=${DOCKER_LEAK_TEST_ROOT:-/var/lib/dlt-daemon/root}
TEST_RUN=${DOCKER_LEAK_TEST_RUN:-/run/docker-leak-test}

echo "== links"
# Name and address only: carrier and state flags follow the host daemon's own containers.
ip -o link show 2>/dev/null | sed -E 's/^[0-9]+: ([^:]+):.*link\/([a-z]+) ([0-9a-f:]+).*/\1 \2 \3/' | sort
echo "== addresses"
ip -o addr show 2>/dev/null | sed -E 's/^[0-9]+: //; s/ valid_lft .*//' | sort
echo "== iptables"
if command -v iptables-save >/dev/null 2>&1; then
  iptables-save 2>/dev/null | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]//' | sort
fi
echo "== mounts"
# Mount points only (IDs and peer groups change with unrelated activity), without the private
# daemon's own and what lives below the temporary directory the tests use.
awk -v a="$TEST_ROOT" -v b="$TEST_RUN" '{ if (index($5, a) != 1 && index($5, b) != 1 && $5 !~ /^\/tmp\//) print $5, $9 }' /proc/self/mountinfo | sort
echo "== host daemon"
if [ -S /var/run/docker.sock ] && DOCKER_HOST=unix:///var/run/docker.sock docker version >/dev/null 2>&1; then
  cat /var/run/docker.pid 2>/dev/null || true
  DOCKER_HOST=unix:///var/run/docker.sock docker ps -a --no-trunc --format '{{.ID}} {{.Status}}' | sed -E 's/ (Up|Exited \([0-9]+\)) .*/ \1/' | sort
  DOCKER_HOST=unix:///var/run/docker.sock docker network ls -q | sort
else
  echo "none"
fi
