#!/bin/sh
# Host-side rollback to the previous generation (or --to N). With --watchdog it is
# the watchdog's action: it waits for a running activation to finish, and rolls
# back only if the deploy it guards is still unconfirmed.
#   rollback.sh [--to N] [--watchdog]
set -eu
SCRIPT=rollback
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

to=""
watchdog=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --to) [ "$#" -ge 2 ] || usage_error "--to needs a generation number"; to=$2; shift ;;
    --watchdog) watchdog=1 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
[ -z "$to" ] || need_int --to "$to"
trap 'lock_release' EXIT

if [ "$watchdog" = 1 ]; then
  NHS_IN_WATCHDOG=1
  # Never roll back under a running activation: wait for it (bounded), then act.
  n=0
  while systemctl is-active --quiet "$ACTIVATE.service" 2>/dev/null && [ "$n" -lt 3600 ]; do
    sleep 1
    n=$((n + 1))
  done
  lock_acquire 3600
  if [ ! -f "$PENDING" ]; then
    log "nothing pending: the deploy was confirmed or already rolled back"
    result "status=ok action=none generation=$(current_generation) report=nothing to do"
    exit 0
  fi
  [ -n "$to" ] || to=$(kv "$PENDING" previous)
else
  lock_acquire 0
fi

cur=$(current_generation)
mode=switch
if [ -f "$PENDING" ]; then
  mode=$(kv "$PENDING" mode)
  [ -n "$to" ] || to=$(kv "$PENDING" previous)
fi
if [ -z "$to" ]; then
  to=$(generations | awk -v c="$cur" '$1 < c' | tail -n 1)
  [ -n "$to" ] || precondition "no generation older than the current one ($cur) to roll back to"
fi
[ -L "$PROFILE-$to-link" ] || precondition "generation $to does not exist (have: $(generations | paste -sd, -))"
from=$(kv "$PENDING" generation)
[ -n "$from" ] || from=$cur
tmo=$(kv "$PENDING" timeout)

step "rollback from generation $from to $to"
if ! restore "$to" "$mode"; then
  log "ROLLBACK FAILED: the host is NOT on generation $to; a human must look at it"
  finish 4 "status=rollback-failed generation=$(current_generation) report=ROLLBACK FAILED: rolling back from generation $from to $to failed; host needs a human"
fi
watchdog_disarm
rm -f "$PENDING"
if [ "$watchdog" = 1 ]; then
  finish 0 "status=rolled-back trigger=watchdog previous=$from generation=$to report=generation $from not confirmed within ${tmo:-the confirm timeout}s; watchdog rolled back from generation $from to $to"
fi
finish 0 "status=rolled-back trigger=manual previous=$from generation=$to report=rolled back from generation $from to $to"
