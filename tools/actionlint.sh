#!/bin/sh
# Lints the GitHub workflow with actionlint, built once from the Go module proxy and
# cached outside the repo, keyed by version. Also shellchecks the workflow's run: steps.
set -eu
version=v1.7.12
bin_dir="${NHS_CACHE:-$HOME/.cache/nixos-home-server}/actionlint-$version"
repo=$(cd "$(dirname "$0")/.." && pwd)
PATH=$PATH:/usr/local/go/bin

if [ ! -x "$bin_dir/actionlint" ]; then
  printf 'actionlint: building %s (once)\n' "$version" >&2
  GOBIN="$bin_dir" go install "github.com/rhysd/actionlint/cmd/actionlint@$version"
fi
cd "$repo"
exec "$bin_dir/actionlint" "$@"
