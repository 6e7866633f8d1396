#!/bin/sh
# Builds nhs-fakes3 (gofakes3 v1.2.0, pinned by go.mod/go.sum here) once into the cache, keyed by
# the go.sum's hash, and prints the binary's path. Used by the S3 backend tests.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PATH=$PATH:/usr/local/go/bin
key=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-12)
bin="${NHS_CACHE:-$HOME/.cache/nixos-home-server}/fakes3-$key/nhs-fakes3"
if [ ! -x "$bin" ]; then
  printf 'nhs-fakes3: building (once)\n' >&2
  (cd "$here" && go build -mod=readonly -o "$bin.tmp" .) && mv "$bin.tmp" "$bin"
fi
printf '%s\n' "$bin"
