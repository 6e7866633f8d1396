#!/bin/sh
# CI, pull requests: preview one stack and post the result to the job summary.
# Usage: scripts/ci/preview.sh STACK
set -eu
stack=${1:?usage: preview.sh STACK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

summarized "### pulumi preview: $stack" preview --stack "$stack" --refresh --diff --non-interactive
