#!/bin/sh
# Appends one event for a script that does not source lib.sh (receive.sh runs alone).
#   event.sh NAME RESULT FROM TO REASON REPORT
set -eu
SCRIPT=event
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
event "$@"
