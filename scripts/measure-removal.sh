#!/usr/bin/env bash
# What a held copy does to `docker rm` and `docker volume rm` on this kernel, measured: each case
# makes a real leak on the private test daemon (scripts/test-daemon.sh), removes its target, and
# prints the command's status, the copies the kernel shows before and after, and the memory
# (/proc/meminfo Shmem) the copy kept. The README's "When leaks bite" quotes its output.
#
#   sudo scripts/measure-removal.sh
#
# Everything it makes has a `dlt-measure-` name and is removed at the end; the holders are host
# processes it starts and kills itself.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-daemon.sh start >/dev/null
eval "$(scripts/test-daemon.sh env)"
IMG=${DOCKER_LEAK_TEST_IMAGE:-docker-leak-test/busybox:latest}
ROOT=$(docker info --format '{{.DockerRootDir}}')
P=dlt-measure-$$
HOLDERS=()
MOUNTED=()

cleanup() {
  set +e
  for h in "${HOLDERS[@]}"; do kill "$h" 2>/dev/null; done
  for m in "${MOUNTED[@]}"; do umount -l "$m" 2>/dev/null; done
  docker ps -aq --filter "name=^$P-" | xargs -r docker rm -f >/dev/null 2>&1
  docker volume ls -q --filter "name=^$P-" | xargs -r docker volume rm -f >/dev/null 2>&1
}
trap cleanup EXIT

shmem_mib() { awk '/^Shmem:/ { printf "%d", $2 / 1024 }' /proc/meminfo; }
# Mounts whose mount point contains $2 in the mount namespace of PID $1.
copies() { grep -c -- "$2" "/proc/$1/mountinfo" || true; }
# A host process in a private mount namespace of its own, made now (a copy of every mount); its
# PID in $h. (Not a command substitution: that subshell would run the EXIT trap.)
private_holder() {
  unshare -m --propagation private sleep 600 &
  h=$!
  HOLDERS+=("$h")
  until [ "$(readlink "/proc/$h/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]; do sleep 0.05; done
}
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }

echo "kernel $(uname -r), Docker $(docker version --format '{{.Server.Version}}'), / $(findmnt -no PROPAGATION /)"
echo
row "case" "removal" "exit status" "copies (running / stopped / removed)" "Shmem MiB (running / stopped / removed)"
row "---" "---" "---" "---" "---"

# 1. A container's /dev/shm with 32 MiB in it, held by a host process's private namespace.
c=$P-shm
docker run -d --name "$c" --ipc shareable --shm-size 64m "$IMG" sh -c 'dd if=/dev/zero of=/dev/shm/f bs=1M count=32 2>/dev/null; touch /dev/shm/done; sleep 600' >/dev/null
until docker exec "$c" test -f /dev/shm/done; do sleep 0.1; done
id=$(docker inspect -f '{{.Id}}' "$c")
private_holder
running=$(shmem_mib)
sr=$(copies "$h" "containers/$id/mounts/shm")
docker stop -t 0 "$c" >/dev/null
stopped=$(shmem_mib)
ss=$(copies "$h" "containers/$id/mounts/shm")
set +e; docker rm "$c" >/dev/null 2>&1; rc=$?; set -e
removed=$(shmem_mib)
row "/dev/shm (--ipc shareable, 32 MiB written), held by a private namespace" "docker rm" "$rc" "$sr / $ss / $(copies "$h" "containers/$id/mounts/shm")" "$running / $stopped / $removed"

# 2. The same with nobody holding it: what stopping alone returns.
c=$P-shm-free
docker run -d --name "$c" --ipc shareable --shm-size 64m "$IMG" sh -c 'dd if=/dev/zero of=/dev/shm/f bs=1M count=32 2>/dev/null; touch /dev/shm/done; sleep 600' >/dev/null
until docker exec "$c" test -f /dev/shm/done; do sleep 0.1; done
running=$(shmem_mib)
docker stop -t 0 "$c" >/dev/null
stopped=$(shmem_mib)
set +e; docker rm "$c" >/dev/null 2>&1; rc=$?; set -e
row "/dev/shm (--ipc shareable, 32 MiB written), not held" "docker rm" "$rc" "-" "$running / $stopped / $(shmem_mib)"

# 3. A container's root filesystem and network namespace file, held by a private namespace made
#    while it ran: how many copies are left once it stops, after docker rm, and a while later
#    (libnetwork removes a network namespace file by a periodic garbage collection).
c=$P-net
docker run -d --name "$c" "$IMG" sleep 600 >/dev/null
key=$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' "$c")
merged=$(docker inspect -f '{{.GraphDriver.Data.MergedDir}}' "$c")
private_holder
rr=$(copies "$h" "$merged")
nr=$(copies "$h" "$key")
docker stop -t 0 "$c" >/dev/null
rs=$(copies "$h" "$merged")
ns=$(copies "$h" "$key")
set +e; docker rm "$c" >/dev/null 2>&1; rc=$?; set -e
row "root filesystem (overlay), held by a private namespace" "docker rm" "$rc" "$rr / $rs / $(copies "$h" "$merged")" "-"
nrm=$(copies "$h" "$key")
waited=0
while [ "$(copies "$h" "$key")" != 0 ] && [ $waited -lt 120 ]; do sleep 1; waited=$((waited + 1)); done
row "network namespace file, held by a private namespace" "docker rm" "$rc" "$nr / $ns / $nrm ($(copies "$h" "$key") ${waited} s later)" "-"

# 4. A device-backed volume (tmpfs) with 32 MiB in it, held by a private namespace made while a
#    container used it (its content lives only while it is mounted).
v=$P-vol
docker volume create --driver local --opt type=tmpfs --opt device=tmpfs --opt o=size=64m "$v" >/dev/null
docker run -d --name "$P-vol-user" -v "$v:/data" "$IMG" sh -c 'dd if=/dev/zero of=/data/f bs=1M count=32 2>/dev/null; touch /data/done; sleep 600' >/dev/null
until docker exec "$P-vol-user" test -f /data/done; do sleep 0.1; done
data=$(docker volume inspect -f '{{.Mountpoint}}' "$v")
private_holder
running=$(shmem_mib)
vr=$(copies "$h" "$data")
docker rm -f "$P-vol-user" >/dev/null
stopped=$(shmem_mib)
vs=$(copies "$h" "$data")
set +e; docker volume rm "$v" >/dev/null 2>&1; rc=$?; set -e
row "tmpfs volume (32 MiB written), held by a private namespace" "docker volume rm" "$rc" "$vr / $vs / $(copies "$h" "$data")" "$running / $stopped / $(shmem_mib)"

# 5. A mount below a volume's _data in the daemon's own namespace (stale).
v=$P-sub
docker volume create "$v" >/dev/null
data=$(docker volume inspect -f '{{.Mountpoint}}' "$v")
mkdir -p "$data/sub"
mount -t tmpfs "$P" "$data/sub"
MOUNTED+=("$data/sub")
before=$(copies self "$data/sub")
set +e; docker volume rm "$v" >/dev/null 2>&1; rc=$?; set -e
row "a mount below a volume's _data, in the daemon's own namespace" "docker volume rm" "$rc" "- / $before / $(copies self "$data/sub")" "-"

# 6. A mount left in a stopped container's directory in the daemon's own namespace (stale).
c=$P-stale
docker run -d --name "$c" "$IMG" sleep 600 >/dev/null
id=$(docker inspect -f '{{.Id}}' "$c")
docker stop -t 0 "$c" >/dev/null
mkdir -p "$ROOT/containers/$id/mounts/shm"
mount -t tmpfs "$P" "$ROOT/containers/$id/mounts/shm"
MOUNTED+=("$ROOT/containers/$id/mounts/shm")
before=$(copies self "containers/$id/mounts/shm")
set +e; docker rm "$c" >/dev/null 2>&1; rc=$?; set -e
row "a mount left in a stopped container's directory, in the daemon's own namespace" "docker rm" "$rc" "- / $before / $(copies self "containers/$id/mounts/shm")" "-"
