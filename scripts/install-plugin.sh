#!/usr/bin/env bash
# Builds docker leak and installs its launcher as a docker CLI plugin.
#
#   scripts/install-plugin.sh                 # into ${DOCKER_CONFIG:-~/.docker}/cli-plugins
#   scripts/install-plugin.sh --system        # into /usr/local/lib/docker/cli-plugins (all users)
#   scripts/install-plugin.sh --prefix DIR    # into DIR (a cli-plugins directory)
#   scripts/install-plugin.sh --no-build      # install what is already built
#   scripts/install-plugin.sh --uninstall [--system|--prefix DIR]
#
# The launcher is copied with this checkout's path and node binary written into it, so the
# docker CLI's metadata probe answers without resolving links or starting Node.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
build=1
uninstall=0
while [ $# -gt 0 ]; do
  case "$1" in
  --system) dest=/usr/local/lib/docker/cli-plugins ;;
  --prefix) dest=${2:?--prefix needs a directory}; shift ;;
  --prefix=*) dest=${1#--prefix=} ;;
  --no-build) build=0 ;;
  --uninstall) uninstall=1 ;;
  -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
  *) echo "install-plugin: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

target="$dest/docker-leak"
if [ "$uninstall" = 1 ]; then
  if [ -e "$target" ] && ! grep -q 'Launcher of the `docker leak` CLI plugin' "$target" 2>/dev/null; then
    echo "install-plugin: $target is not docker leak's launcher; leaving it" >&2
    exit 1
  fi
  rm -f "$target"
  echo "removed $target" >&2
  exit 0
fi

node_bin=$(command -v node) || { echo "install-plugin: node (>= 20) is required" >&2; exit 1; }
if [ "$build" = 1 ]; then
  cd "$root"
  [ -d node_modules ] || npm ci --no-audit --no-fund
  # Helpers first: the bundle carries their digests.
  scripts/build-helper.sh
  node scripts/build.mjs --require-helpers
fi
[ -f "$root/dist/docker-leak.cjs" ] || { echo "install-plugin: $root/dist/docker-leak.cjs is missing; run without --no-build" >&2; exit 1; }

mkdir -p "$dest"
tmp=$(mktemp "$dest/.docker-leak.XXXXXX")
sed -e "s|@DOCKER_LEAK_ROOT@|$root|" -e "s|@DOCKER_LEAK_NODE@|$node_bin|" "$root/plugin-metadata/docker-leak" >"$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$target"
echo "installed $target" >&2
