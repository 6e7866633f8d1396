#!/bin/sh
# Simulated systemd-run: transient services (optionally --wait) and --on-active
# timers. Both run detached (setsid, stdio away from the caller), so they survive
# the SSH session and sshd restarts.
set -eu
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

unit=""
on_active=""
wait=0
collect=0
out=$SIM_STATE/unit-output.log
err=$SIM_STATE/unit-output.log
while [ "$#" -gt 0 ]; do
  case "$1" in
    --unit=*) unit=${1#--unit=} ;;
    --unit | -u) unit=$2; shift ;;
    --on-active=*) on_active=${1#--on-active=} ;;
    --on-active) on_active=$2; shift ;;
    --wait) wait=1 ;;
    --collect | -G) collect=1 ;;
    -p | --property) prop=$2; shift
      case "$prop" in
        StandardOutput=append:*) out=${prop#StandardOutput=append:} ;;
        StandardError=append:*) err=${prop#StandardError=append:} ;;
      esac ;;
    --property=*) prop=${1#--property=}
      case "$prop" in
        StandardOutput=append:*) out=${prop#StandardOutput=append:} ;;
        StandardError=append:*) err=${prop#StandardError=append:} ;;
      esac ;;
    -q | --quiet | --no-block | --no-ask-password | --same-dir | --pipe | -P | --service-type=*) ;;
    -E | --setenv) shift ;;
    --) shift; break ;;
    -*) sim_log "systemd-run: unrecognized option '$1' (simulator)"; exit 1 ;;
    *) break ;;
  esac
  shift
done
[ "$#" -gt 0 ] || { sim_log "systemd-run: no command given"; exit 1; }
[ -n "$unit" ] || unit="run-u$$"
unit=${unit%.service}
mkdir -p "$SIM_UNITS"

if [ -n "$on_active" ]; then
  if [ -d "$(unit_dir "$unit.timer")" ] || [ -d "$(unit_dir "$unit.service")" ]; then
    sim_log "Failed to start transient timer unit: Unit $unit.timer was already loaded or has a fragment file."
    exit 1
  fi
  mkdir -p "$(unit_dir "$unit.timer")"
  set_unit_state "$unit.timer" active
  sec=${on_active%s}
  setsid sh "$here/unit-runner.sh" timer "$unit" "$sec" "$out" "$err" "$collect" "$@" </dev/null >/dev/null 2>&1 &
  # The runner writes its own pid; wait for it so a stop right after us finds it.
  n=0
  while [ ! -f "$(unit_dir "$unit.timer")/pid" ] && [ "$n" -lt 50 ]; do sleep 0.05; n=$((n + 1)); done
  sim_log "Running timer as unit: $unit.timer"
  sim_log "Will run service as unit: $unit.service"
  exit 0
fi

if [ -d "$(unit_dir "$unit.service")" ] && [ "$(unit_state "$unit.service")" = active ]; then
  sim_log "Failed to start transient service unit: Unit $unit.service was already loaded or has a fragment file."
  exit 1
fi
rm -rf "$(unit_dir "$unit.service")"
mkdir -p "$(unit_dir "$unit.service")"
set_unit_state "$unit.service" active
setsid sh "$here/unit-runner.sh" service "$unit" "$out" "$err" "$collect" "$@" </dev/null >/dev/null 2>&1 &
pid=$!
sim_log "Running as unit: $unit.service"
[ "$wait" = 1 ] || exit 0
rc=0
wait "$pid" || rc=$?
if [ "$rc" = 0 ]; then
  sim_log "Finished with result: success"
else
  sim_log "Finished with result: exit-code"
  sim_log "Main processes terminated with: code=exited/status=$rc"
fi
exit "$rc"
