#!/bin/sh
# CI, after a deploy: integration checks. Every server must have passed verification,
# and a refreshed preview must show nothing to do: each host still runs exactly what
# Pulumi deployed.
# Usage: scripts/ci/check.sh STACK
set -eu
stack=${1:?usage: check.sh STACK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
pulumi stack output --stack "$stack" --json servers >"$out"
node "$here/check-outputs.mjs" "$stack" "$out"
pulumi preview --stack "$stack" --refresh --expect-no-changes --non-interactive
