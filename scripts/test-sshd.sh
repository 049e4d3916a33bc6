#!/usr/bin/env bash
# A private sshd on 127.0.0.1 for tests and benchmarks of ssh:// contexts. Everything lives in DIR
# (made by the caller, removed by `stop`): its config, host key, client key, authorized_keys and
# log; the machine's /etc/ssh and ~/.ssh are never touched. A client `ssh` wrapper in DIR/bin
# (put it first on PATH) adds the private client config and counts invocations in DIR/ssh.count.
# Logins run `docker` with DOCKER_HOST set to the daemon given to `start`.
#
#   scripts/test-sshd.sh start DIR DOCKER_HOST   # prints the ssh:// URL to use
#   scripts/test-sshd.sh stop DIR                # stops it and removes DIR
#   scripts/test-sshd.sh connections DIR         # connections sshd accepted so far
set -euo pipefail

say() { printf 'test-sshd: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

start() {
  local dir=$1 host=$2
  [ -d "$dir" ] || die "no such directory: $dir"
  command -v /usr/sbin/sshd >/dev/null || die "sshd missing: apt-get install -y openssh-server"
  chmod 700 "$dir"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" </dev/null
  ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key" </dev/null
  printf 'environment="DOCKER_HOST=%s" %s\n' "$host" "$(cat "$dir/client_key.pub")" >"$dir/authorized_keys"
  chmod 600 "$dir/authorized_keys"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p /run/sshd
  cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# DIR may lie under /tmp (sticky, world-writable): its own modes are checked by this script.
StrictModes no
PermitUserEnvironment DOCKER_HOST
LogLevel VERBOSE
MaxStartups 100
MaxSessions 100
EOF
  cat >"$dir/ssh_config" <<EOF
Host *
  IdentityFile $dir/client_key
  IdentitiesOnly yes
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  LogLevel ERROR
  BatchMode yes
EOF
  mkdir -p "$dir/bin"
  cat >"$dir/bin/ssh" <<EOF
#!/bin/sh
echo "\$*" >>"$dir/ssh.count"
exec /usr/bin/ssh -F "$dir/ssh_config" "\$@"
EOF
  chmod 755 "$dir/bin/ssh"
  /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  for _ in $(seq 50); do
    [ -s "$dir/sshd.pid" ] && break
    sleep 0.1
  done
  [ -s "$dir/sshd.pid" ] || die "sshd did not start: $(cat "$dir/sshd.log" 2>/dev/null)"
  echo "ssh://root@127.0.0.1:$port"
}

stop() {
  local dir=$1
  [ -f "$dir/sshd_config" ] || die "not a test-sshd directory: $dir"
  if [ -s "$dir/sshd.pid" ]; then kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
}

connections() { grep -c 'Connection from' "$1/sshd.log" || true; }

case ${1:-} in
start) start "$2" "$3" ;;
stop) stop "$2" ;;
connections) connections "$2" ;;
*) die "usage: $0 start DIR DOCKER_HOST | stop DIR | connections DIR" ;;
esac
