#!/bin/sh
# Builds the offline Pulumi toolchain from pinned Go modules (one wrapper module per
# binary, go.sum committed) into a cache outside the repo. Binaries already built for
# the pinned version are left alone, so a second run is a quick no-op.
# See tools/pulumi/README.md for the versions and what could not be built.
set -eu

PULUMI_VERSION=v3.248.0

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${NHS_CACHE:-$HOME/.cache/nixos-home-server}/pulumi-$PULUMI_VERSION
bin=$cache_root/bin

# Go's official tarball installs here; a non-login shell (CI) may not have it on PATH.
PATH=$PATH:/usr/local/go/bin
log() { printf 'pulumi-toolchain: %s\n' "$*" >&2; }

tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -f "$tmp"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build NAME WRAPPER_DIR PACKAGE VERSION LDFLAGS
# A sidecar .NAME.version records what was built, so bumping a pin rebuilds.
build() {
  name=$1 dir=$here/$2 pkg=$3 version=$4 ldflags=$5
  stamp=$bin/.$name.version
  if [ -x "$bin/$name" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
    log "$name $version: cached"
    return 0
  fi
  if [ ! -f "$dir/go.mod" ]; then
    log "$name $version: no wrapper module at $dir; skipped"
    return 0
  fi
  command -v go >/dev/null 2>&1 || { log "go is not installed; cannot build $name"; exit 1; }
  log "$name $version: building from $pkg (takes minutes on a cold Go cache)"
  start=$(date +%s)
  mkdir -p "$bin"
  # Build to a temporary name and rename: an interrupted build never leaves a half binary.
  tmp=$bin/.$name.tmp.$$
  # -mod=readonly: the committed go.sum is the pin; never resolve anything new.
  # GOTOOLCHAIN=local: never fetch a Go toolchain behind the user's back.
  # go prints a line per module downloaded; keep that out of the way unless it fails.
  out=$bin/.$name.build.log
  if ! (cd "$dir" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
    go build -mod=readonly -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg") >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    log "$name $version: build failed (full log: $out)"
    exit 1
  fi
  mv -f "$tmp" "$bin/$name"
  tmp=""
  rm -f "$out"
  printf '%s\n' "$version" >"$stamp"
  log "$name $version: built in $(($(date +%s) - start))s"
}

build pulumi cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$PULUMI_VERSION" \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"

# The language host of the pinned CLI's commit (module .../sdk/nodejs/cmd/pulumi-language-nodejs/v3,
# untagged) is not served by the module proxy reachable here; sdk/v3 v3.68.0 is the newest
# sdk/v3 that still contains the host itself, so that is what is built (README.md).
LANGUAGE_HOST_VERSION=v3.68.0
build pulumi-language-nodejs language-nodejs \
  github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs "$LANGUAGE_HOST_VERSION" \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGUAGE_HOST_VERSION"

# The providers' modules are refused outright (README.md has the evidence). tools/providers/
# holds stand-ins written against the same SDK protocol; register them in the project's
# PULUMI_HOME plugin cache, where the engine looks for command 1.2.1 and random 4.21.2.
"$here/../providers/install.sh" "$(cd "$here/../.." && pwd)/.pulumi" >/dev/null
log "stand-in providers command 1.2.1 and random 4.21.2: registered"
