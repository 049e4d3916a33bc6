#!/usr/bin/env bash
# Builds a release into dist/release/:
#   docker-leak-VERSION.tgz                 the npm package (bundle, launcher, metadata, helpers)
#   docker-leak-VERSION-linux-amd64         the single executable (no Node needed on the host)
#   SHA256SUMS
# Usage: scripts/package.sh [--no-sea]
# Needs what scripts/build-helper.sh needs (musl-tools, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross)
# and, for the single executable, a linux/amd64 node >= 20.12 built with SEA support.
set -euo pipefail
cd "$(dirname "$0")/.."

sea=1
while [ $# -gt 0 ]; do
  case "$1" in
  --no-sea) sea=0 ;;
  -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "package: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

[ -d node_modules ] || npm ci --no-audit --no-fund
version=$(node -p 'require("./package.json").version')
out=dist/release

# One build for both forms; helpers first, since the bundle carries their digests. build.mjs
# refuses a metadata.json whose Version is not package.json's; checked here once more.
scripts/build-helper.sh
node scripts/build.mjs --require-helpers
meta=$(node -p 'require("./plugin-metadata/metadata.json").Version')
[ "$meta" = "$version" ] || { echo "package: metadata.json says $meta, package.json $version" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
# Built just above, so the prepack build is skipped.
tgz=$(npm pack --ignore-scripts --silent --pack-destination "$out")
files=("$tgz")
if [ "$sea" = 1 ]; then
  node scripts/build-sea.mjs --out "$out/docker-leak-$version-linux-amd64"
  files+=("docker-leak-$version-linux-amd64")
fi
(cd "$out" && sha256sum -- "${files[@]}" >SHA256SUMS)

echo "release $version in $out:" >&2
(cd "$out" && ls -l -- "${files[@]}" SHA256SUMS) >&2
