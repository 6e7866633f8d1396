#!/bin/sh
# Host-side rollback to the previous generation (or --to N). With --watchdog it is
# the watchdog's action: it waits for the lock (at most as long as its holder
# promised) and a running switch, then rolls back only if the deploy it guards
# (--deploy-id) is still the pending, unconfirmed one.
#   rollback.sh [--to N] | --watchdog --to N --deploy-id ID
set -eu
SCRIPT=rollback
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

to=""
watchdog=0
deploy_id=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --to) [ "$#" -ge 2 ] || usage_error "--to needs a generation number"; to=$2; shift ;;
    --watchdog) watchdog=1 ;;
    --deploy-id) [ "$#" -ge 2 ] || usage_error "--deploy-id needs a value"; deploy_id=$2; shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
[ -z "$to" ] || need_int --to "$to"
[ "$watchdog" = 0 ] || [ -n "$deploy_id" ] || usage_error "--watchdog needs --deploy-id"
trap 'lock_release' EXIT

if [ "$watchdog" = 1 ]; then
  NHS_IN_WATCHDOG=1
  # A verify that holds the lock when we fire may still confirm (it checks the host
  # over a fresh connection, and stops us when it does); we wait only as long as it
  # promised. A switch someone left running (a dropped session) finishes first.
  lock_acquire bound "$(($(act_timeout) + 60))"
  wait_inactive "$ACTIVATE" "$(($(act_timeout) + 30))" || true
  if [ ! -f "$PENDING" ]; then
    log "nothing pending: deploy $deploy_id was confirmed or already rolled back"
    result "status=ok action=none generation=$(current_generation) report=nothing to do"
    exit 0
  fi
  if [ "$(kv "$PENDING" id)" != "$deploy_id" ]; then
    log "the pending deploy is $(kv "$PENDING" id), not $deploy_id that armed this watchdog; leaving it alone"
    result "status=ok action=none generation=$(current_generation) report=not this watchdog's deploy"
    exit 0
  fi
else
  lock_acquire 0 "$(($(act_timeout) + 60))"
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
reason=manual
[ "$watchdog" = 0 ] || reason=watchdog
[ "$watchdog" = 0 ] || event watchdog-fired firing "$from" "$to" watchdog "generation $from not confirmed within ${tmo:-the confirm timeout}s; rolling back to $to"
t_rb=$(date +%s)

step "rollback from generation $from to $to"
if ! restore "$to" "$mode"; then
  log "ROLLBACK FAILED: the host is NOT on generation $to; a human must look at it"
  finish_ev failed "$reason" 4 "status=rollback-failed previous=$from generation=$(current_generation) report=ROLLBACK FAILED: rolling back from generation $from to $to failed; host needs a human"
fi
watchdog_disarm
rm -f "$PENDING"
event_phase rollback "$(($(date +%s) - t_rb))"
if [ "$watchdog" = 1 ]; then
  finish_ev rolled-back watchdog 0 "status=rolled-back trigger=watchdog previous=$from generation=$to report=generation $from not confirmed within ${tmo:-the confirm timeout}s; watchdog rolled back from generation $from to $to"
fi
finish_ev rolled-back manual 0 "status=rolled-back trigger=manual previous=$from generation=$to report=rolled back from generation $from to $to"
