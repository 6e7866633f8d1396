#!/bin/sh
# Simulated journalctl over the simulator's journal file: -p, --since, -u, -t, -n, -o cat.
set -eu
# Run by full path from $SIM_PKG (host-init.sh's wrappers): no readlink or dirname per call.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

prio=7
since=0
unit=""
lines=0
fmt=short
while [ "$#" -gt 0 ]; do
  case "$1" in
    -p | --priority) p=$2; shift ;;
    --priority=*) p=${1#--priority=} ;;
    --since) s=$2; shift ;;
    --since=*) s=${1#--since=} ;;
    -u | --unit | -t | --identifier) unit=$2; shift ;;
    -n | --lines) lines=$2; shift ;;
    -o | --output) fmt=$2; shift ;;
    -q | --quiet | --no-pager | -b | --boot | -a | --no-hostname) ;;
    *) sim_log "journalctl: unrecognized argument '$1' (simulator)"; exit 1 ;;
  esac
  if [ -n "${p:-}" ]; then
    case "$p" in
      emerg) prio=0 ;; alert) prio=1 ;; crit) prio=2 ;; err) prio=3 ;;
      warning) prio=4 ;; notice) prio=5 ;; info) prio=6 ;; debug) prio=7 ;;
      *) prio=$p ;;
    esac
    p=""
  fi
  if [ -n "${s:-}" ]; then
    case "$s" in
      @*) since=${s#@} ;;
      *) since=$(date -d "$s" +%s) ;;
    esac
    s=""
  fi
  shift
done
[ -f "$SIM_JOURNAL" ] || exit 0
out=$(awk -v prio="$prio" -v since="$since" -v unit="$unit" '
  $1 >= since && $2 <= prio && (unit == "" || $3 == unit) { print }' "$SIM_JOURNAL")
[ -n "$out" ] || exit 0
if [ "$lines" -gt 0 ]; then out=$(printf '%s\n' "$out" | tail -n "$lines"); fi
printf '%s\n' "$out" | while read -r t _ u msg; do
  if [ "$fmt" = cat ]; then
    printf '%s\n' "$msg"
  else
    printf '%s nhs-sim %s: %s\n' "$(date -d "@$t" '+%b %d %H:%M:%S')" "$u" "$msg"
  fi
done
