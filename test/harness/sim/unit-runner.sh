#!/bin/sh
# Runs one transient unit for the simulated systemd-run, in its own session so it
# outlives the SSH connection that created it (as a real transient unit does).
#   unit-runner.sh timer UNIT SEC OUT ERR COLLECT CMD...   fires UNIT.service after SEC
#   unit-runner.sh service UNIT OUT ERR COLLECT CMD...     runs CMD as UNIT.service
set -eu
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

kind=$1
unit=$2
shift 2
if [ "$kind" = timer ]; then
  sec=$1
  shift
  echo "$$" >"$(unit_dir "$unit.timer")/pid"
  sleep "$sec"
  journal 6 "$unit.timer" "Triggered $unit.service."
  mkdir -p "$(unit_dir "$unit.service")"
  set_unit_state "$unit.service" active
  rm -rf "$(unit_dir "$unit.timer")"
  setsid sh "$here/unit-runner.sh" service "$unit" "$@" </dev/null >/dev/null 2>&1 &
  exit 0
fi

out=$1
err=$2
collect=$3
shift 3
echo "$$" >"$(unit_dir "$unit.service")/pid"
rc=0
"$@" </dev/null >>"$out" 2>>"$err" || rc=$?
if [ "$rc" = 0 ] || [ "$collect" = 1 ]; then
  rm -rf "$(unit_dir "$unit.service")"
else
  set_unit_state "$unit.service" failed
  rm -f "$(unit_dir "$unit.service")/pid"
fi
if [ "$rc" != 0 ]; then
  journal 3 "$unit.service" "Main process exited, code=exited, status=$rc/FAILURE"
fi
exit "$rc"
