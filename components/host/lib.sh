#!/bin/sh
# Shared helpers of the host-side scripts: logging, the result line, the deploy
# lock, generations, the watchdog and the pending record. Sourced, never run.
# shellcheck disable=SC2034 # variables are used by the scripts that source this file

BASE=${NHS_BASE:-/var/lib/nixos-home-server}
STATE=$BASE/state
LOCK=$STATE/lock
PENDING=$STATE/pending
LAST=$STATE/last-result
DEPLOY_LOG=$STATE/deploy.log
# Store path of the system this tool last confirmed; status.sh compares it with what runs (drift).
DEPLOYED=$STATE/deployed
PROFILE=/nix/var/nix/profiles/system
WATCHDOG=nhs-watchdog
# Every switch (activation, verify's rollback, manual rollback, the watchdog's) runs
# as this one unit, so two can never overlap and an SSH drop never cuts one short.
ACTIVATE=nhs-activate
# On NixOS a transient unit's PATH is only systemd's own bin/ (nixpkgs sets systemd's
# default PATH to its store path; nixpkgs#262169, #261691), so every unit we start gets
# this PATH explicitly. /run/current-system/sw/bin follows the running generation.
UNIT_PATH=/run/wrappers/bin:/run/current-system/sw/bin
# Seconds a switch may take before systemd stops it (deploy --activation-timeout; the
# pending record keeps the deploy's value for the rollbacks that follow it).
ACT_TIMEOUT_DEFAULT=1800
SCRIPT=${SCRIPT:-nhs}

log() { printf '%s: %s\n' "$SCRIPT" "$*" >&2; }
step() { printf '%s: == %s\n' "$SCRIPT" "$*" >&2; }

# result KEY=VALUE... [report=free text]: the one machine-readable stdout line.
result() { printf 'nhs-result %s\n' "$*"; }

# finish CODE KEY=VALUE...: print the result, keep it as last-result, exit.
finish() {
  code=$1
  shift
  result "$@"
  if [ -d "$STATE" ]; then
    printf 'nhs-result by=%s at=%s %s\n' "$SCRIPT" "$(date +%s)" "$*" >"$LAST.tmp" && mv -f "$LAST.tmp" "$LAST"
  fi
  exit "$code"
}

usage_error() {
  log "usage error: $*"
  result "status=usage-error report=$*"
  exit 2
}

# precondition CODE... : nothing changed, the caller may retry later.
precondition() {
  log "precondition failed: $*"
  result "status=precondition-failed report=$*"
  exit 3
}

# abort: ran and failed (used where nothing needs rolling back).
abort() {
  log "error: $*"
  result "status=failed report=$*"
  exit 1
}

need_int() { # need_int FLAG VALUE
  case "$2" in
    '' | *[!0-9]*) usage_error "$1 needs a whole number, got '$2'" ;;
  esac
}

# kv FILE KEY: one value of a key=value file (the last, if the key repeats). Builtins
# only: a deploy reads these files dozens of times, and a fork and exec each time cost
# a loaded host (or a small board) more than the rest of the bookkeeping.
kv() {
  [ -f "$1" ] || return 0
  kv_found=
  while IFS= read -r kv_line || [ -n "$kv_line" ]; do
    case "$kv_line" in "$2="*) kv_value=${kv_line#"$2="} kv_found=1 ;; esac
  done <"$1"
  [ -z "$kv_found" ] || printf '%s\n' "$kv_value"
}

ensure_state() {
  mkdir -p "$STATE"
  chmod 0755 "$BASE" "$STATE"
}

# --- the deploy lock: a directory, so taking it is atomic -------------------------

proc_start() { # the start time of a process, to tell a live holder from pid reuse
  if [ -r "/proc/$1/stat" ]; then
    sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f20
  fi
}

holder_alive() {
  hp=$(kv "$LOCK/owner" pid)
  hs=$(kv "$LOCK/owner" start)
  [ -n "$hp" ] || return 1
  kill -0 "$hp" 2>/dev/null || return 1
  [ "$(proc_start "$hp")" = "$hs" ]
}

# lock_acquire WAIT_SEC BOUND_SEC: take the lock for this process, promising to hold it
# at most BOUND_SEC (kept as `until` in the owner file). A lock whose holder died is
# reported and taken over; a live holder makes us wait up to WAIT_SEC, then fail 3.
# WAIT_SEC "bound" (the watchdog) waits as long as the holder promised instead, then
# stops the holder: a hung deploy or verify cannot hold the watchdog off.
lock_acquire() {
  waited=0
  ensure_state
  while ! mkdir "$LOCK" 2>/dev/null; do
    if ! holder_alive; then
      log "stale lock from $(kv "$LOCK/owner" by) pid $(kv "$LOCK/owner" pid) (process is gone); taking it over"
      STALE_LOCK="stale-lock-from-pid-$(kv "$LOCK/owner" pid)"
      rm -rf "$LOCK"
      continue
    fi
    if [ "$1" = bound ]; then
      if [ "$(date +%s)" -gt "$(kv "$LOCK/owner" until)" ]; then
        hp=$(kv "$LOCK/owner" pid)
        log "$(kv "$LOCK/owner" by) pid $hp still holds the deploy lock past its bound ($(kv "$LOCK/owner" until)); stopping it"
        kill -s TERM "$hp" 2>/dev/null || true
        sleep 2
        kill -s KILL "$hp" 2>/dev/null || true
        sleep 1
        continue
      fi
    elif [ "$waited" -ge "$1" ]; then
      precondition "deploy lock held by $(kv "$LOCK/owner" by) pid $(kv "$LOCK/owner" pid) since $(kv "$LOCK/owner" since); another deploy is running"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  now=$(date +%s)
  printf 'pid=%s\nstart=%s\nby=%s\nsince=%s\nuntil=%s\n' "$$" "$(proc_start "$$")" "$SCRIPT" "$now" "$((now + $2))" >"$LOCK/owner"
  LOCK_HELD=1
}

lock_release() {
  if [ "${LOCK_HELD:-0}" = 1 ] && [ "$(kv "$LOCK/owner" pid)" = "$$" ]; then
    rm -rf "$LOCK"
  fi
  LOCK_HELD=0
}

# --- generations ------------------------------------------------------------------

generations() {
  for l in "$PROFILE"-*-link; do
    [ -L "$l" ] || continue
    n=${l#"$PROFILE"-}
    printf '%s\n' "${n%-link}"
  done | sort -n
}

current_generation() {
  t=$(readlink "$PROFILE" 2>/dev/null || true)
  t=${t##*/}
  t=${t#system-}
  printf '%s\n' "${t%-link}"
}

generation_store() { readlink -f "$PROFILE-$1-link"; }

# generation_of STORE: the newest generation pointing at STORE ('' if none).
generation_of() {
  for n in $(generations); do
    [ "$(generation_store "$n")" = "$1" ] && printf '%s\n' "$n"
  done | tail -n 1
}

running_store() { readlink -f /run/current-system 2>/dev/null || true; }
booted_store() { readlink -f /run/booted-system 2>/dev/null || true; }

# act_timeout: the pending deploy's activation timeout, else the default.
act_timeout() {
  t=$(kv "$PENDING" activation_timeout)
  printf '%s\n' "${t:-$ACT_TIMEOUT_DEFAULT}"
}

# wait_inactive UNIT SEC: wait up to SEC seconds for UNIT.service to stop running.
wait_inactive() {
  n=0
  while systemctl is-active --quiet "$1.service" 2>/dev/null; do
    [ "$n" -lt "$2" ] || return 1
    sleep 1
    n=$((n + 1))
  done
}

# run_unit MAX CMD...: run CMD as the switch unit and wait for it. Detached from this
# SSH session like nixos-rebuild's own systemd-run (nixpkgs#39118): a dropped
# connection or an sshd restart cannot cut it short. It gets an explicit PATH, its
# output goes to the deploy log, and systemd stops it after MAX seconds.
run_unit() {
  rmax=$1
  shift
  wait_inactive "$ACTIVATE" "$((rmax + 30))" || {
    log "$ACTIVATE.service is still running after $((rmax + 30))s"
    return 1
  }
  systemctl reset-failed "$ACTIVATE.service" >/dev/null 2>&1 || true
  systemd-run --unit "$ACTIVATE" --wait --collect --setenv=PATH="$UNIT_PATH" -p "RuntimeMaxSec=$rmax" \
    -p "StandardOutput=append:$DEPLOY_LOG" -p "StandardError=append:$DEPLOY_LOG" "$@" >&2
}

# switch_to GEN ACTION: the NixOS rollback: move the profile, then activate it, as
# one detached unit.
switch_to() {
  # shellcheck disable=SC2016 # expanded by the unit's shell
  run_unit "$(act_timeout)" /bin/sh -c 'nix-env -p "$1" --switch-generation "$2" && exec "$1/bin/switch-to-configuration" "$3"' \
    nhs-switch "$PROFILE" "$1" "$2"
}

# restore GEN MODE: roll back to GEN for a deploy made in MODE, and check it took.
restore() {
  action=switch
  [ "$2" = boot ] && action=boot
  if ! switch_to "$1" "$action"; then
    log "switch-to-configuration $action of generation $1 failed"
    return 1
  fi
  [ "$(current_generation)" = "$1" ] || return 1
  if [ "$action" = switch ] && [ "$(running_store)" != "$(generation_store "$1")" ]; then
    return 1
  fi
  return 0
}

# prune_generations KEEP [PROTECTED...]: keep the KEEP newest, never the current,
# booted or protected ones.
prune_generations() {
  keep=$1
  shift
  [ "$keep" -gt 0 ] || return 0
  cur=$(current_generation)
  booted=$(generation_of "$(booted_store)")
  doomed=""
  for n in $(generations | sort -rn | tail -n +"$((keep + 1))"); do
    case " $cur $booted $* " in
      *" $n "*) continue ;;
    esac
    doomed="$doomed $n"
  done
  if [ -n "$doomed" ]; then
    log "deleting generations:$doomed (keeping $keep)"
    # shellcheck disable=SC2086 # one argument per generation number
    nix-env -p "$PROFILE" --delete-generations $doomed >&2
  fi
}

# --- watchdog and pending record --------------------------------------------------

# record_deployed: the running system is now the one this tool confirmed.
record_deployed() {
  running_store >"$DEPLOYED.tmp" && mv -f "$DEPLOYED.tmp" "$DEPLOYED"
}

watchdog_state() {
  if systemctl is-active --quiet "$WATCHDOG.timer" 2>/dev/null; then
    echo armed
  elif systemctl is-active --quiet "$WATCHDOG.service" 2>/dev/null; then
    echo firing
  else
    echo none
  fi
}

# watchdog_arm SEC GEN ID: unless deploy ID is confirmed within SEC, roll back to GEN,
# on the host. It acts only while ID is the pending deploy.
watchdog_arm() {
  watchdog_disarm
  systemd-run --unit "$WATCHDOG" --on-active="$1" --collect --setenv=PATH="$UNIT_PATH" \
    -p "StandardOutput=append:$DEPLOY_LOG" -p "StandardError=append:$DEPLOY_LOG" \
    /bin/sh "$HERE/rollback.sh" --watchdog --to "$2" --deploy-id "$3" >&2
}

watchdog_disarm() {
  systemctl stop "$WATCHDOG.timer" >/dev/null 2>&1 || true
  # Never stop the service from inside itself (the watchdog's own rollback).
  if [ "${NHS_IN_WATCHDOG:-0}" != 1 ]; then
    systemctl stop "$WATCHDOG.service" >/dev/null 2>&1 || true
  fi
  systemctl reset-failed "$WATCHDOG.timer" "$WATCHDOG.service" >/dev/null 2>&1 || true
}

write_pending() { # write_pending KEY=VALUE...
  printf '%s\n' "$@" >"$PENDING.tmp"
  mv -f "$PENDING.tmp" "$PENDING"
}

free_mb() { df -Pk "$1" | awk 'NR == 2 { print int($4 / 1024) }'; }

# check_disk MIN_MB: exit 3 when the store or our base dir is too full to deploy.
check_disk() {
  [ "$1" -gt 0 ] || return 0
  for d in /nix/store "$BASE"; do
    [ -d "$d" ] || continue
    f=$(free_mb "$d")
    if [ "$f" -lt "$1" ]; then
      precondition "disk full: ${f} MB free on $d, need at least $1 MB"
    fi
  done
}

oneline() { tr '\n' ' ' | sed 's/[[:space:]]\{1,\}/ /g; s/ $//'; }

# field FILE KEY: a value from a one-line `nhs-result key=value ... report=...` file,
# the one parser of result lines on the host. `report` is the rest of the line after
# the first " report="; no other key is ever read from the report's text.
field() {
  [ -f "$1" ] || return 0
  awk -v k="$2" 'NR == 1 {
    i = index($0, " report=")
    if (k == "report") { if (i) print substr($0, i + 8); exit }
    if (i) $0 = substr($0, 1, i - 1)
    for (n = 2; n <= NF; n++) if (index($n, k "=") == 1) { print substr($n, length(k) + 2); exit }
  }' "$1"
}

# Events, metrics and notifications (events.sh). The sync bootstrap unpacks only
# receive.sh and lib.sh; receive.sh records its event with the unpacked release's event.sh.
# shellcheck source-path=SCRIPTDIR source=events.sh
[ ! -f "$HERE/events.sh" ] || . "$HERE/events.sh"
