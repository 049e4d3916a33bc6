#!/usr/bin/env bash
# A private dockerd for the tests: its own data-root, exec-root, socket and pidfile, and its own
# network namespace (made with `unshare --net`; the mount namespace stays the host's, so that
# tests make real leaks), so that a developer's own daemon, its containers, its docker0 bridge
# and iptables rules are never touched: a dockerd started in the host's network namespace with
# --bridge=none deletes the host's docker0. The private daemon has a default bridge of its own
# in its namespace, so its containers get network namespaces (and netns files) like anyone's.
#
#   scripts/test-daemon.sh start   # install docker.io/busybox-static if missing, start or reuse, build the test image
#   scripts/test-daemon.sh stop    # stop it and clear its mounts
#   scripts/test-daemon.sh status  # exit 0 when it answers
#   scripts/test-daemon.sh env     # print `export DOCKER_HOST=…` for eval
#
# Overridable: DOCKER_LEAK_TEST_ROOT (data-root), DOCKER_LEAK_TEST_RUN (exec-root, socket, pidfile),
# DOCKER_LEAK_TEST_DAEMON_FLAGS (extra dockerd flags, e.g. --userns-remap=default for a second daemon),
# DOCKER_LEAK_TEST_MOUNTNS=private (a second daemon in a mount namespace of its own whose `/` is
# private, as on a host without systemd, whatever the host's is; its mounts go with it),
# DOCKER_LEAK_TEST_TLS=DIR (certificates of scripts/test-tls.sh: the daemon also listens on
# 127.0.0.1 on a free port, written to DIR/port, with --tlsverify; the socket is opened in the
# host's network namespace and handed to dockerd as fd://, socket activation, since dockerd lives
# in a namespace of its own).
set -euo pipefail
# shellcheck source=scripts/test-lib.sh
. "$(dirname "$0")/test-lib.sh"

# Not below a path that starts with /var/lib/docker: dockerd (20.10) finds the mount its root lies
# on by string prefix, so with a host daemon's shared /var/lib/docker bind it would take a root at
# /var/lib/docker-x for shared already and skip making it shared (and propagation tests fail).
DATA_ROOT=${DOCKER_LEAK_TEST_ROOT:-/var/lib/dlt-daemon/root}
RUN_DIR=${DOCKER_LEAK_TEST_RUN:-/run/docker-leak-test}
EXEC_ROOT=$RUN_DIR/exec
SOCK=$RUN_DIR/docker.sock
PIDFILE=$RUN_DIR/docker.pid
LOG=$RUN_DIR/dockerd.log
HOST=unix://$SOCK
TEST_IMAGE=${DOCKER_LEAK_TEST_IMAGE:-docker-leak-test/busybox:latest}

say() { printf 'test-daemon: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it starts a dockerd); try: sudo $0 $*"; }

docker_cli() { DOCKER_HOST=$HOST command docker "$@"; }

answers() { [ -S "$SOCK" ] && docker_cli version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker >/dev/null || missing+=(docker.io)
  [ -x /bin/busybox ] && /bin/busybox --help >/dev/null 2>&1 && file_is_static /bin/busybox || missing+=(busybox-static)
  # The tcp+TLS test daemon: its certificates (test-tls.sh) and its listening socket.
  command -v openssl >/dev/null || missing+=(openssl)
  command -v python3 >/dev/null || missing+=(python3)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

file_is_static() { ! grep -q 'ld-linux' <(head -c 4096 "$1" | tr -d '\0' 2>/dev/null || true); }

daemon_pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE" 2>/dev/null || true; }

# Mounts a killed daemon left behind under its roots, deepest first.
clear_mounts() { unmount_below "$DATA_ROOT" "$EXEC_ROOT"; }

# The containerd that our dockerd started (its config lives under our exec-root), if it outlived it.
kill_orphans() {
  local pid
  for pid in $(pgrep -f -- "$EXEC_ROOT/containerd" || true); do
    kill "$pid" 2>/dev/null || true
  done
  sleep 0.5
  for pid in $(pgrep -f -- "$EXEC_ROOT/containerd" || true); do
    kill -9 "$pid" 2>/dev/null || true
  done
}


start() {
  need_root start
  install_packages
  mkdir -p "$RUN_DIR" "$DATA_ROOT"
  # A daemon left running at these paths without the listener asked for (its certificates new).
  if [ -n "${DOCKER_LEAK_TEST_TLS:-}" ] && [ ! -s "$DOCKER_LEAK_TEST_TLS/port" ] && answers; then
    say "restarting the daemon at $HOST to listen with TLS"
    stop
  fi
  if answers; then
    say "reusing the private daemon at $HOST (pid $(daemon_pid))"
  else
    local pid
    pid=$(daemon_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      say "daemon pid $pid does not answer; stopping it"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$SOCK"
    kill_orphans
    clear_mounts
    say "starting a private dockerd at $HOST (log: $LOG)"
    local ns=(--net)
    [ "${DOCKER_LEAK_TEST_MOUNTNS:-}" = private ] && ns+=(--mount --propagation private)
    # Without our descriptors beyond stdio: started as `flock /tmp/dlt-daemon.lock test-daemon.sh
    # start`, dockerd and its containerd would inherit the lock's descriptor and hold the lock for
    # as long as they live, so that nobody else could ever take it.
    close_inherited_fds
    local tls=() listen=()
    if [ -n "${DOCKER_LEAK_TEST_TLS:-}" ]; then
      local t=$DOCKER_LEAK_TEST_TLS
      tls=(--host fd:// --tlsverify --tlscacert "$t/ca.pem" --tlscert "$t/server-cert.pem" --tlskey "$t/server-key.pem")
      # A listening socket on fd 3 for dockerd's fd:// (LISTEN_PID is set to dockerd's own pid by
      # the sh that execs it: setsid, unshare and sh all exec in place).
      listen=(python3 -c 'import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.execvp(sys.argv[2], sys.argv[2:])' "$t/port")
    fi
    "${listen[@]}" setsid unshare "${ns[@]}" sh -c 'ip link set lo up 2>/dev/null; [ -z "${LISTEN_FDS:-}" ] || export LISTEN_PID=$$; exec "$@"' sh dockerd \
      --data-root "$DATA_ROOT" \
      --exec-root "$EXEC_ROOT" \
      --host "$HOST" \
      --pidfile "$PIDFILE" \
      --iptables=false --ip6tables=false --ip-masq=false \
      --storage-driver overlay2 \
      "${tls[@]}" ${DOCKER_LEAK_TEST_DAEMON_FLAGS:-} \
      >"$LOG" 2>&1 </dev/null &
    for _ in $(seq 150); do
      answers && break
      sleep 0.2
    done
    answers || { tail -n 20 "$LOG" >&2; die "dockerd did not come up; see $LOG"; }
  fi
  build_image
}

# A busybox image FROM scratch, built from Debian's busybox-static (nothing is pulled).
build_image() {
  if docker_cli image inspect "$TEST_IMAGE" >/dev/null 2>&1; then return 0; fi
  local ctx
  ctx=$(mktemp -d)
  mkdir -p "$ctx/bin"
  cp /bin/busybox "$ctx/bin/busybox"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
DOCKERFILE
  say "building $TEST_IMAGE from /bin/busybox"
  if ! DOCKER_BUILDKIT=0 docker_cli build -q -t "$TEST_IMAGE" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2
    die "building $TEST_IMAGE failed"
  fi
  rm -rf "$ctx" "$ctx.log"
}

stop() {
  need_root stop
  local pid
  pid=$(daemon_pid)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped the private daemon (pid $pid)"
  fi
  rm -f "$PIDFILE" "$SOCK"
  kill_orphans
  clear_mounts
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) answers ;;
env) printf 'export DOCKER_HOST=%s\n' "$HOST" ;;
image) build_image ;;
*) die "usage: $0 start|stop|status|env|image" ;;
esac
