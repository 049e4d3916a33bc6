#!/usr/bin/env bash
# A private Podman service for the tests (rootful, Debian's podman): its own storage root, run
# root, temporary directory, network configuration and socket, so that no other Podman and no
# Docker daemon is touched. Its containers run with `--network none` or the host's network (the
# tests never use Podman's bridge), so it makes no interfaces and no iptables rules; stop removes
# its containers and every mount it left below its directories.
#
#   scripts/test-podman.sh start   # start or reuse it, build the test image (no-op when podman is missing)
#   scripts/test-podman.sh stop    # remove its containers, stop it, clear its mounts
#   scripts/test-podman.sh status  # exit 0 when it answers
#   scripts/test-podman.sh env     # print `export DOCKER_HOST=… CONTAINERS_CONF=…` for eval
#   scripts/test-podman.sh podman ARGS…   # the podman CLI on the same storage
#
# Overridable: DOCKER_LEAK_PODMAN_ROOT (storage root), DOCKER_LEAK_PODMAN_RUN (run root, socket, pidfile).
set -euo pipefail
# shellcheck source=scripts/test-lib.sh
. "$(dirname "$0")/test-lib.sh"

ROOT=${DOCKER_LEAK_PODMAN_ROOT:-/var/lib/dlt-podman/root}
RUN_DIR=${DOCKER_LEAK_PODMAN_RUN:-/run/dlt-podman}
RUN_ROOT=$RUN_DIR/run
SOCK=$RUN_DIR/podman.sock
PIDFILE=$RUN_DIR/podman.pid
LOG=$RUN_DIR/podman.log
CONF=$RUN_DIR/containers.conf
HOST=unix://$SOCK
TEST_IMAGE=${DOCKER_LEAK_PODMAN_IMAGE:-localhost/dlt-busybox:latest}

say() { printf 'test-podman: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (a rootful Podman service); try: sudo $0 $*"; }

write_conf() {
  mkdir -p "$RUN_DIR" "$RUN_ROOT" "$ROOT" "$RUN_DIR/tmp" "$RUN_DIR/networks"
  # No rlimits (the test machines' bounding set lacks CAP_SYS_RESOURCE), no network namespace
  # by default, cgroupfs and a file event log (no systemd), and nothing below /run/libpod or
  # /etc/containers/networks.
  cat >"$CONF" <<CONF
[containers]
default_ulimits = []
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$RUN_DIR/tmp"
[network]
network_config_dir = "$RUN_DIR/networks"
CONF
}

podman_cli() {
  CONTAINERS_CONF=$CONF command podman --root "$ROOT" --runroot "$RUN_ROOT" --storage-driver overlay "$@"
}

answers() {
  [ -S "$SOCK" ] && curl -sf --max-time 5 --unix-socket "$SOCK" http://podman/_ping >/dev/null 2>&1
}

service_pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE" 2>/dev/null || true; }

# Mounts left below our directories, deepest first.
clear_mounts() { unmount_below "$ROOT" "$RUN_DIR"; }


start() {
  need_root start
  if ! command -v podman >/dev/null; then
    say "podman is not installed (apt-get install podman); the Podman tests will skip"
    return 0
  fi
  write_conf
  if answers; then
    say "reusing the private Podman service at $HOST (pid $(service_pid))"
  else
    stop_service
    clear_mounts
    say "starting a private Podman service at $HOST (log: $LOG)"
    close_inherited_fds
    CONTAINERS_CONF=$CONF setsid podman --root "$ROOT" --runroot "$RUN_ROOT" --storage-driver overlay \
      system service --time=0 "$HOST" >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do
      answers && break
      sleep 0.1
    done
    answers || { tail -n 20 "$LOG" >&2; die "the Podman service did not come up; see $LOG"; }
  fi
  build_image
}

# A busybox image from Debian's busybox-static: a root filesystem tarball, imported (nothing is pulled).
build_image() {
  if podman_cli image exists "$TEST_IMAGE"; then return 0; fi
  [ -x /bin/busybox ] || die "busybox-static is not installed"
  local ctx a
  ctx=$(mktemp -d)
  mkdir -p "$ctx/bin"
  cp /bin/busybox "$ctx/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$ctx/bin/$a"; done
  say "importing $TEST_IMAGE from /bin/busybox"
  tar -C "$ctx" -c . | podman_cli import -q --change 'CMD ["/bin/sh"]' - "$TEST_IMAGE" >/dev/null
  rm -rf "$ctx"
}

stop_service() {
  local pid
  pid=$(service_pid)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped the private Podman service (pid $pid)"
  fi
  rm -f "$PIDFILE" "$SOCK"
}

stop() {
  need_root stop
  if command -v podman >/dev/null && [ -f "$CONF" ]; then
    # Its containers (and their conmon processes) would keep their mounts on the host.
    podman_cli rm -a -f -t 0 >/dev/null 2>&1 || true
  fi
  stop_service
  clear_mounts
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) answers ;;
env) printf 'export DOCKER_HOST=%s CONTAINERS_CONF=%s\n' "$HOST" "$CONF" ;;
podman)
  shift
  podman_cli "$@"
  ;;
*) die "usage: $0 start|stop|status|env|podman ARGS…" ;;
esac
