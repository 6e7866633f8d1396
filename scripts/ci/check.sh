#!/bin/sh
# CI, after a deploy: integration checks. Every server must have passed verification,
# its HTTP checks must answer from outside the host (the runner, at the server's address),
# and a refreshed preview must show nothing to do: each host still runs exactly what
# Pulumi deployed.
# Usage: scripts/ci/check.sh STACK
set -eu
stack=${1:?usage: check.sh STACK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

out=$(mktemp)
config=$(mktemp)
trap 'rm -f "$out" "$config"' EXIT
pulumi stack output --stack "$stack" --json servers >"$out"
node "$here/check-outputs.mjs" "$stack" "$out"
pulumi config get nixos-home-server:servers --stack "$stack" --json >"$config"
node "$here/check-http.mjs" "$stack" "$config"
pulumi preview --stack "$stack" --refresh --expect-no-changes --non-interactive
