#!/bin/sh
# Everything a fresh machine needs before the tests or the demo: Debian packages,
# npm packages, and the offline Pulumi toolchain (built once, cached outside the repo).
set -eu

log() { printf 'setup: %s\n' "$*" >&2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

packages=$(grep -v '^[[:space:]]*#' scripts/apt-packages.txt | tr -s '[:space:]' ' ')
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  as_root=""
  [ "$(id -u)" -eq 0 ] || as_root="sudo"
  $as_root apt-get update -qq
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

log "installing npm packages"
npm ci --no-audit --no-fund --loglevel=error

if [ -x tools/pulumi/build.sh ]; then
  tools/pulumi/build.sh
fi
# The S3 backend tests' loopback server, built once into the same cache (the tests find it there).
if [ -x tools/s3/build.sh ]; then
  tools/s3/build.sh >/dev/null
fi
log "ready"
