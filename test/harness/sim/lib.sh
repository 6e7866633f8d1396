#!/bin/sh
# Shared state and helpers of the NixOS simulator. Sourced by every sim tool; runs
# inside one simulated host's mount namespace, so these paths are that host's own.
# shellcheck disable=SC2034 # variables are used by the tools that source this file

SIM_STATE=/var/lib/nhs-sim
SIM_CONTROL=$SIM_STATE/control
SIM_UNITS=$SIM_STATE/units
SIM_JOURNAL=$SIM_STATE/journal
SIM_PROFILE=/nix/var/nix/profiles/system
SIM_BIN=/usr/local/bin

sim_log() { printf '%s\n' "$*" >&2; }

# journal PRIO UNIT MESSAGE: append one line the simulated journalctl can filter.
# PRIO is syslog's number (3 = err).
journal() {
  printf '%s %s %s %s\n' "$(date +%s)" "$1" "$2" "$3" >>"$SIM_JOURNAL"
}

# control KEY: a value from the host's fault-injection file (key=value lines).
control() {
  [ -f "$SIM_CONTROL" ] || return 0
  sed -n "s/^$1=//p" "$SIM_CONTROL" | tail -n 1
}

# kv FILE KEY: a value from a key=value file.
kv() {
  [ -f "$1" ] || return 0
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

has_word() { # has_word LIST WORD (LIST is comma or space separated)
  case " $(printf '%s' "$1" | tr ',' ' ') " in
    *" $2 "*) return 0 ;;
  esac
  return 1
}

unit_dir() { printf '%s/%s\n' "$SIM_UNITS" "$1"; }

unit_state() {
  if [ -f "$(unit_dir "$1")/state" ]; then
    cat "$(unit_dir "$1")/state"
  else
    echo inactive
  fi
}

set_unit_state() {
  mkdir -p "$(unit_dir "$1")"
  printf '%s\n' "$2" >"$(unit_dir "$1")/state"
}

# alive PID: running and not a zombie (orphans here may be reaped late or never).
alive() {
  [ -r "/proc/$1/stat" ] || return 1
  [ "$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]
}

# kill_group PIDFILE: stop the process group a simulated unit started (each unit is
# started with setsid, so its pid is also its process group id).
kill_group() {
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  rm -f "$1"
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  n=0
  while alive "$pid" && [ "$n" -lt 20 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

# generation_of STOREPATH: the profile generation number that points at it, if any.
generation_of() {
  for l in "$SIM_PROFILE"-*-link; do
    [ -L "$l" ] || continue
    if [ "$(readlink "$l")" = "$1" ]; then
      n=${l#"$SIM_PROFILE"-}
      printf '%s\n' "${n%-link}"
    fi
  done | sort -n | tail -n 1
}

current_generation() {
  t=$(readlink "$SIM_PROFILE" 2>/dev/null || true)
  t=${t#system-}
  printf '%s\n' "${t%-link}"
}
