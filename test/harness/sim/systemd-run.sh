#!/bin/sh
# Simulated systemd-run: transient services (optionally --wait) and --on-active
# timers. Both run detached (setsid, stdio away from the caller), so they survive
# the SSH session and sshd restarts. As on NixOS, the unit starts with a clean
# environment: PATH is only systemd's own bin directory, plus what -E/--setenv/
# -p Environment= give. A command without a slash is looked up in the caller's PATH
# (systemd-run resolves it on the client side), so `systemd-run sh x.sh` starts, and
# x.sh then finds no dirname.
set -eu
# Run by full path from $SIM_PKG (host-init.sh's wrappers): no readlink or dirname per call.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

unit=""
on_active=""
wait=0
collect=0
max=0
out=$SIM_STATE/unit-output.log
err=$SIM_STATE/unit-output.log
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
envs=$tmp/env
: >"$envs"

quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
setenv() { # setenv NAME=VALUE | NAME (the caller's value)
  case "$1" in
    *=*) n=${1%%=*} v=${1#*=} ;;
    *) n=$1; eval "v=\${$n-}" ;;
  esac
  case "$n" in
    '' | [0-9]* | *[!A-Za-z0-9_]*) sim_log "systemd-run: invalid environment assignment '$1'"; exit 1 ;;
  esac
  printf 'export %s=%s\n' "$n" "$(quote "$v")" >>"$envs"
}
property() {
  case "$1" in
    StandardOutput=append:*) out=${1#StandardOutput=append:} ;;
    StandardError=append:*) err=${1#StandardError=append:} ;;
    Environment=*) setenv "${1#Environment=}" ;;
    RuntimeMaxSec=*) max=${1#RuntimeMaxSec=}; max=${max%s} ;;
    *) sim_log "systemd-run: property '$1' is not simulated"; exit 1 ;;
  esac
}
while [ "$#" -gt 0 ]; do
  case "$1" in
    --unit=*) unit=${1#--unit=} ;;
    --unit | -u) unit=$2; shift ;;
    --on-active=*) on_active=${1#--on-active=} ;;
    --on-active) on_active=$2; shift ;;
    --wait) wait=1 ;;
    --collect | -G) collect=1 ;;
    -p | --property) property "$2"; shift ;;
    --property=*) property "${1#--property=}" ;;
    -E | --setenv) setenv "$2"; shift ;;
    --setenv=*) setenv "${1#--setenv=}" ;;
    -q | --quiet | --no-block | --no-ask-password | --service-type=*) ;;
    --) shift; break ;;
    -*) sim_log "systemd-run: unrecognized option '$1' (simulator)"; exit 1 ;;
    *) break ;;
  esac
  shift
done
[ "$#" -gt 0 ] || { sim_log "systemd-run: no command given"; exit 1; }
case "$1" in
  */*) cmd=$1 ;;
  *) cmd=$(PATH=${SIM_CALLER_PATH-}; command -v -- "$1" 2>/dev/null || true) ;;
esac
case "$cmd" in
  /*) ;;
  *) sim_log "Failed to find executable $1: No such file or directory"; exit 1 ;;
esac
shift
set -- "$cmd" "$@"
[ -n "$unit" ] || unit="run-u$$"
unit=${unit%.service}
mkdir -p "$SIM_UNITS" "$SIM_UNIT_ENV"

if [ -n "$on_active" ]; then
  if [ -d "$(unit_dir "$unit.timer")" ] || [ -d "$(unit_dir "$unit.service")" ]; then
    sim_log "Failed to start transient timer unit: Unit $unit.timer was already loaded or has a fragment file."
    exit 1
  fi
  cp "$envs" "$SIM_UNIT_ENV/$unit.service"
  mkdir -p "$(unit_dir "$unit.timer")"
  set_unit_state "$unit.timer" active
  sec=${on_active%s}
  setsid sh "$here/unit-runner.sh" timer "$unit" "$sec" "$out" "$err" "$collect" "$max" "$@" </dev/null >/dev/null 2>&1 &
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
cp "$envs" "$SIM_UNIT_ENV/$unit.service"
rm -rf "$(unit_dir "$unit.service")"
mkdir -p "$(unit_dir "$unit.service")"
set_unit_state "$unit.service" active
setsid sh "$here/unit-runner.sh" service "$unit" "$out" "$err" "$collect" "$max" "$@" </dev/null >/dev/null 2>&1 &
pid=$!
n=0
while [ ! -f "$(unit_dir "$unit.service")/pid" ] && [ "$n" -lt 50 ]; do sleep 0.05; n=$((n + 1)); done
sim_log "Running as unit: $unit.service"
[ "$wait" = 1 ] || exit 0
rc=0
wait "$pid" || rc=$?
result=success
[ "$rc" = 0 ] || result=exit-code
[ ! -f "$SIM_UNIT_ENV/$unit.service.timeout" ] || result=timeout
rm -f "$SIM_UNIT_ENV/$unit.service.timeout"
sim_log "Finished with result: $result"
[ "$rc" = 0 ] || sim_log "Main processes terminated with: code=exited/status=$rc"
exit "$rc"
