#!/bin/sh
# CI, pushes to main: deploy one stack. Refresh first, so a server switched by hand
# (drift) is redeployed. A failed server rolls itself back; --continue-on-error still
# deploys every other server, then fails this step (README: "what a failed server does").
# Usage: scripts/ci/deploy.sh STACK
set -eu
stack=${1:?usage: deploy.sh STACK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

status=0
(summarized "### pulumi up: $stack" up --stack "$stack" --refresh --yes --skip-preview --non-interactive --continue-on-error) || status=$?
pulumi stack output servers --json --stack "$stack" 2>/dev/null | node "$here/event-summary.mjs" "$stack" || true
exit "$status"
