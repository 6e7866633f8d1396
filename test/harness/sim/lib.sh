#!/bin/sh
# Shared state and helpers of the NixOS simulator. Sourced by every sim tool; runs
# inside one simulated host's mount namespace, so these paths are that host's own.
# shellcheck disable=SC2034 # variables are used by the tools that source this file

SIM_STATE=/var/lib/nhs-sim
SIM_CONTROL=$SIM_STATE/control
SIM_UNITS=$SIM_STATE/units
SIM_JOURNAL=$SIM_STATE/journal
SIM_PROFILE=/nix/var/nix/profiles/system

# The NixOS layout (see ../README.md "Modeled NixOS facts"): every tool lives in its own
# store path. Fixed fake hashes, so every script here can name them.
SIM_PKG=/nix/store/0sim5w2xhq3c9d6h7k0nhsb1fg8j2r4y-nhs-sim                 # these scripts
SIM_USERLAND=/nix/store/1qz7d9xv3kmy0bcfp2ln5wg8rhj4s6ia-debian-userland    # the real tools (Debian's /usr/bin, nosuid)
SIM_SYSTEMD=/nix/store/2b4d8c6g0f9h1j3k5l7m9n0p2q4r6s8v-systemd-257.sim    # systemctl, systemd-run, journalctl
SIM_NIX=/nix/store/3c5f7h9j1k3l5m7n9p1q3r5s7v9w1x3y-nix-2.28.sim           # nix-env
SIM_REBUILD=/nix/store/4d6g8j0k2l4m6n8p0q2r4s6v8w0x2y4z-nixos-rebuild.sim  # nixos-rebuild
SIM_UTIL=/nix/store/6g8j0l2m4n6p8q0r2s4t6v8w0y2z4a6b-util-linux-2.41.sim  # logger (to the journal)
SIM_SW=/nix/store/5f7h9k1l3m5n7p9q1r3s5v7w9x1y3z5a-system-path             # every generation's sw/
# What the simulator's own tools run with (like a nixpkgs makeWrapper PATH); never
# what the product's scripts or units get.
SIM_PATH=$SIM_SW/bin:/usr/sbin
SIM_UNIT_ENV=$SIM_STATE/unit-env
# What a generation without nixos-home-server's module leaves in /etc (host-init.sh).
SIM_INITIAL_ETC=$SIM_STATE/initial-etc

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
  # ActiveEnterTimestamp: when the unit last went from not active to active.
  if [ "$2" = active ] && [ "$(unit_state "$1")" != active ]; then date +%s >"$(unit_dir "$1")/active-enter"; fi
  printf '%s\n' "$2" >"$(unit_dir "$1")/state"
}

# alive PID: running and not a zombie (orphans here may be reaped late or never).
alive() {
  [ -r "/proc/$1/stat" ] || return 1
  [ "$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]
}

# kill_group PIDFILE: stop every process a simulated unit started, as systemd stops a
# unit's whole cgroup (each unit is started with setsid, so its pid is also its process
# group id). `kill -s SIG -- -PGID`: dash rejects `kill -TERM -- -PGID` ("Illegal
# number"), which once left all but the group leader running.
kill_group() {
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  rm -f "$1"
  [ -n "$pid" ] || return 0
  kill -s TERM -- "-$pid" 2>/dev/null || kill -s TERM "$pid" 2>/dev/null || true
  n=0
  while alive "$pid" && [ "$n" -lt 20 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  kill -s KILL -- "-$pid" 2>/dev/null || true
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
