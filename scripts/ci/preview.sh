#!/bin/sh
# CI, pull requests: preview one stack and post the result to the job summary.
# Usage: scripts/ci/preview.sh STACK
set -eu
stack=${1:?usage: preview.sh STACK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
pulumi preview --stack "$stack" --refresh --diff --non-interactive >"$out" 2>&1 || status=$?
cat "$out"
summary "### pulumi preview: $stack" "$out" "$status"
exit "$status"
