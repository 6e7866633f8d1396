#!/bin/sh
# Host-side status: current, booted and recorded generations, watchdog state, lock
# and the last result. Changes nothing.
#   status.sh
set -eu
SCRIPT=status
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
[ "$#" = 0 ] || usage_error "status.sh takes no arguments"

cur=$(current_generation)
booted=$(generation_of "$(booted_store)")
running=$(generation_of "$(running_store)")
lock=free
if [ -d "$LOCK" ]; then
  if holder_alive; then lock="held:$(kv "$LOCK/owner" pid)"; else lock="stale:$(kv "$LOCK/owner" pid)"; fi
fi
pending=none
previous=none
if [ -f "$PENDING" ]; then
  pending=$(kv "$PENDING" generation)
  previous=$(kv "$PENDING" previous)
fi
last_status=$(field "$LAST" status)
last_report=$(field "$LAST" report)
log "current generation ${cur:-none} ($(running_store)); booted ${booted:-unknown}; watchdog $(watchdog_state); lock $lock"
deployed=$(cat "$DEPLOYED" 2>/dev/null || true)
result "status=ok current=${cur:-none} running=${running:-none} store=$(running_store) deployed=${deployed:-none} booted=${booted:-unknown} pending=${pending:-none} previous=${previous:-none} watchdog=$(watchdog_state) lock=$lock last=${last_status:-none} generations=$(generations | paste -sd, -) report=${last_report:-no result yet}"
