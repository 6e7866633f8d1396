#!/bin/sh
# Runs one transient unit for the simulated systemd-run, in its own session so it
# outlives the SSH connection that created it (as a real transient unit does).
#   unit-runner.sh timer UNIT SEC OUT ERR COLLECT MAX CMD...   fires UNIT.service after SEC
#   unit-runner.sh service UNIT OUT ERR COLLECT MAX CMD...     runs CMD as UNIT.service
# The command runs with systemd's clean environment: PATH=<systemd>/bin and the
# variables systemd-run was given (SIM_UNIT_ENV/UNIT.service), nothing else.
# MAX > 0 is RuntimeMaxSec: the whole unit is stopped after MAX seconds.
set -eu
# Run by full path from $SIM_PKG (host-init.sh's wrappers): no readlink or dirname per call.
here=${0%/*}
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
max=$4
shift 4
udir=$(unit_dir "$unit.service")
envf=$SIM_UNIT_ENV/$unit.service
echo "$$" >"$udir/pid"
journal 6 "$unit.service" "Started $unit.service with PATH=$SIM_SYSTEMD/bin$(sed -n 's/^export \([A-Za-z0-9_]*\)=.*/ \1/p' "$envf" 2>/dev/null | tr -d '\n')"
# A stop (systemctl stop, RuntimeMaxSec) signals our whole process group; the command
# dies of it, and we stay to record how the unit ended.
trap 'stopped=1' TERM
stopped=0
cd /
# shellcheck disable=SC2016 # expanded by the unit's shell
env -i PATH="$SIM_SYSTEMD/bin" /bin/sh -c '[ ! -f "$1" ] || . "$1"; shift; exec "$@"' unit "$envf" "$@" </dev/null >>"$out" 2>>"$err" &
cpid=$!
if [ "$max" -gt 0 ]; then
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$max" &
    s=$!
    wait "$s"
    : >"$envf.timeout"
    journal 4 "$unit.service" "Service reached runtime time limit. Stopping."
    kill -s TERM -- "-$$"
  ) </dev/null >/dev/null 2>&1 &
  watcher=$!
fi
rc=0
wait "$cpid" || rc=$?
if [ "$stopped" = 1 ]; then
  rc=0
  wait "$cpid" || rc=$?
fi
# Stopped by systemctl stop: the unit is gone, nothing to record.
[ -f "$udir/pid" ] || exit 0
[ "$rc" != 0 ] || [ ! -f "$envf.timeout" ] || rc=1
if [ "$rc" = 0 ] || [ "$collect" = 1 ]; then
  rm -rf "$udir"
else
  set_unit_state "$unit.service" failed
  rm -f "$udir/pid"
fi
if [ -f "$envf.timeout" ]; then
  journal 3 "$unit.service" "Failed with result 'timeout'."
elif [ "$rc" != 0 ]; then
  journal 3 "$unit.service" "Main process exited, code=exited, status=$rc/FAILURE"
fi
# The runtime-limit watcher, if it is still sleeping.
[ -z "${watcher:-}" ] || kill -s TERM "$watcher" 2>/dev/null || true
exit "$rc"
