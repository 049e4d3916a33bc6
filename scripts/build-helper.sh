#!/usr/bin/env bash
# Build the static helper binaries (src/helper/helper.c) into build/helper/:
#   docker-leak-helper-linux-amd64  (musl-gcc -static;            apt: musl-tools)
#   docker-leak-helper-linux-arm64  (aarch64-linux-gnu-gcc -static; apt: gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
# Usage: scripts/build-helper.sh [--arch amd64|arm64]...
# Compilers can be overridden with CC_AMD64 / CC_ARM64.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/src/helper/helper.c"
out="$root/build/helper"

die() { echo "build-helper: $*" >&2; exit 1; }

archs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) [ $# -ge 2 ] || die "--arch needs amd64 or arm64"; archs+=("$2"); shift 2 ;;
    --arch=*) archs+=("${1#--arch=}"); shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (usage: $0 [--arch amd64|arm64]...)" ;;
  esac
done
[ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64)

version="$(node -p "require(process.argv[1]).version" "$root/package.json" 2>/dev/null || true)"
if [ -z "$version" ]; then
  version="$(sed -n 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$root/package.json" | head -n1)"
fi
[ -n "$version" ] || die "cannot read \"version\" from $root/package.json"
case "$version" in *[!A-Za-z0-9.+-]*) die "unexpected version string: $version" ;; esac

cflags=(-std=gnu11 -Wall -Wextra -Werror -O2 -static -s
        -ffunction-sections -fdata-sections -Wl,--gc-sections
        -fno-asynchronous-unwind-tables -fno-ident -Wl,--build-id=none
        "-DHELPER_VERSION=\"$version\"")

mkdir -p "$out"
host="$(uname -m)"

for arch in "${archs[@]}"; do
  case "$arch" in
    amd64) cc="${CC_AMD64:-musl-gcc}"; pkg="musl-tools"; native=x86_64; emu="" ;;
    arm64) cc="${CC_ARM64:-aarch64-linux-gnu-gcc}"; pkg="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"; native=aarch64; emu=qemu-aarch64-static ;;
    *) die "unknown arch: $arch (amd64 or arm64)" ;;
  esac
  command -v "$cc" >/dev/null 2>&1 || die "$cc not found; install it with: apt-get install -y $pkg"
  if [ "$arch" = amd64 ] && [ "$cc" = musl-gcc ] && [ "$host" != x86_64 ]; then
    die "musl-gcc builds for the host ($host), not amd64; set CC_AMD64 to an x86_64 musl cross compiler"
  fi

  bin="$out/docker-leak-helper-linux-$arch"
  tmp="$bin.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  "$cc" "${cflags[@]}" -o "$tmp" "$src"
  mv -f "$tmp" "$bin"
  trap - EXIT

  if command -v file >/dev/null 2>&1; then
    desc="$(file -b "$bin")"
    case "$desc" in
      *"statically linked"*|*"static-pie linked"*) ;;
      *) die "$bin is not statically linked: $desc" ;;
    esac
  fi

  # Smoke test (protocol 2): run `version` and a malformed umount order natively or under qemu-user
  # when possible.
  if [ "$host" = "$native" ]; then
    runner=()
  elif [ -n "$emu" ] && command -v "$emu" >/dev/null 2>&1; then
    runner=("$emu")
  else
    runner=(skip)
  fi
  if [ "${runner[0]:-}" = skip ]; then
    echo "build-helper: $arch: cannot run here (no ${emu:-emulator}); smoke test skipped" >&2
  else
    got="$("${runner[@]}" "$bin" version)" || die "$bin version failed"
    want="{\"type\":\"version\",\"version\":\"$version\",\"protocol\":2}"
    [ "$got" = "$want" ] || die "$bin version printed $got, expected $want"
    got="$("${runner[@]}" "$bin" umount "ns=1 id=2 fp=0123456789abcdef pids=3@4 mp=rel" 2>/dev/null)" ||
      die "$bin umount failed"
    got="${got%%$'\n'*}"
    want='{"type":"result","index":0,"pid":null,"mountId":2,"mountPoint":"rel","ok":false,"stage":"parse","errno":"EINVAL","message":"mount point rel is not absolute","locked":false}'
    [ "$got" = "$want" ] || die "$bin umount printed $got, expected $want"
  fi

  size="$(wc -c <"$bin" | tr -d ' ')"
  echo "$(basename "$bin"): $size bytes (version $version, $cc)"
done
