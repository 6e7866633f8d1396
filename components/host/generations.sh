#!/bin/sh
# Host-side generations: list them; with --keep N delete all but the N newest
# (never the current, booted or pending-rollback one).
#   generations.sh [--keep N]
set -eu
SCRIPT=generations
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

keep=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --keep) [ "$#" -ge 2 ] || usage_error "--keep needs a number"; keep=$2; shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
need_int --keep "$keep"
trap 'lock_release' EXIT
if [ "$keep" -gt 0 ]; then
  lock_acquire 0 120
  prune_generations "$keep" "$(kv "$PENDING" previous)" "$(kv "$PENDING" generation)"
fi
cur=$(current_generation)
booted=$(generation_of "$(booted_store)")
for n in $(generations); do
  mark=""
  [ "$n" = "$cur" ] && mark="$mark current"
  [ "$n" = "$booted" ] && mark="$mark booted"
  printf '%s %s%s\n' "$n" "$(generation_store "$n")" "$mark" >&2
done
result "status=ok current=$cur booted=${booted:-unknown} generations=$(generations | paste -sd, -)"
