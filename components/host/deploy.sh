#!/bin/sh
# Host-side deploy: lock, record the current generation, arm the watchdog, run
# nixos-rebuild detached from SSH, and roll back at once if activation fails.
#   deploy.sh --name NAME --release DIR --mode switch|boot|test|dry-activate
#             --confirm-timeout SEC [--keep-generations N] [--min-free-mb N]
# Modes: switch = activate now and make it the boot default; boot = boot default
# only, takes effect at next boot; test = activate now, not the boot default;
# dry-activate = build and show what would change, change nothing.
set -eu
SCRIPT=deploy
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

name=""
release=""
mode=""
timeout=""
keep=0
min_free=512
while [ "$#" -gt 0 ]; do
  [ "$#" -ge 2 ] || usage_error "$1 needs a value"
  case "$1" in
    --name) name=$2 ;;
    --release) release=$2 ;;
    --mode) mode=$2 ;;
    --confirm-timeout) timeout=$2 ;;
    --keep-generations) keep=$2 ;;
    --min-free-mb) min_free=$2 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift 2
done
case "$name" in
  '' | *[!A-Za-z0-9_.-]*) usage_error "--name must be a host name of letters, digits, '.', '_' or '-', got '$name'" ;;
esac
case "$mode" in
  switch | boot | test | dry-activate) ;;
  *) usage_error "--mode must be switch, boot, test or dry-activate, got '$mode'" ;;
esac
need_int --confirm-timeout "$timeout"
[ "$timeout" -gt 0 ] || usage_error "--confirm-timeout must be at least 1 second"
need_int --keep-generations "$keep"
need_int --min-free-mb "$min_free"
[ -n "$release" ] || usage_error "--release DIR is required"
if [ ! -f "$release/flake.nix" ]; then
  precondition "bad release: $release/flake.nix does not exist"
fi
release=$(cd "$release" && pwd -P)

trap 'lock_release' EXIT
step "lock"
lock_acquire 0
stale=${STALE_LOCK:-}

if [ -f "$PENDING" ]; then
  if [ "$(watchdog_state)" != none ]; then
    precondition "generation $(kv "$PENDING" generation) is not confirmed yet and its watchdog is armed; run verify or rollback first"
  fi
  log "discarding the pending record of an interrupted run (no watchdog is armed)"
  rm -f "$PENDING"
fi

step "disk"
check_disk "$min_free"

g0=$(current_generation)
s0=$(generation_store "$g0" 2>/dev/null || true)
if [ -z "$g0" ] || [ -z "$s0" ]; then
  precondition "no current system generation in $PROFILE"
fi
log "current generation $g0 ($s0)"
# colmena's replaceUnknownProfiles guard, as a warning: say so before overwriting a
# system this tool never confirmed here. It stays in the generation list.
if [ ! -f "$DEPLOYED" ]; then
  log "warning: the running system $s0 (generation $g0) was not deployed by nixos-home-server; this deploy replaces it; to go back: rollback.sh --to $g0"
fi
start=$(date +%s)
printf 'nhs-start=%s\n' "$start" >>"$DEPLOY_LOG"
printf '%s deploy %s mode=%s release=%s from generation %s\n' "$(date -u +%FT%TZ)" "$name" "$mode" "$release" "$g0" >>"$DEPLOY_LOG"

activate() {
  systemctl reset-failed "$ACTIVATE.service" >/dev/null 2>&1 || true
  # Detached from this SSH session (nixpkgs#39118): a dropped connection or an sshd
  # restart during the switch must not kill the activation.
  systemd-run --unit "$ACTIVATE" --wait --collect \
    -p "StandardOutput=append:$DEPLOY_LOG" -p "StandardError=append:$DEPLOY_LOG" \
    nixos-rebuild "$mode" --flake "$release#$name" >&2
}

if [ "$mode" = dry-activate ]; then
  step "dry-activate"
  rc=0
  activate || rc=$?
  if [ "$rc" != 0 ]; then
    finish 1 "status=failed name=$name mode=$mode previous=$g0 generation=$g0 failed=dry-activate report=dry-activate of $name failed (exit $rc); nothing changed; log: $(tail -n 3 "$DEPLOY_LOG" | oneline)"
  fi
  finish 0 "status=ok name=$name mode=$mode previous=$g0 generation=$g0 store=$s0 duration=$(($(date +%s) - start)) at=$(date -u +%Y-%m-%dT%H:%M:%SZ) watchdog=none"
fi

step "watchdog"
write_pending "state=activating" "name=$name" "mode=$mode" "previous=$g0" "previous_store=$s0" \
  "release=$release" "since=$start" "timeout=$timeout"
watchdog_arm "$timeout" "$g0"

step "activate ($mode)"
rc=0
activate || rc=$?
g1=$(current_generation)
if [ "$rc" != 0 ]; then
  why=$(tail -n 3 "$DEPLOY_LOG" | oneline)
  log "activation failed (exit $rc): $why"
  step "rollback to $g0"
  if ! restore "$g0" "$mode"; then
    log "ROLLBACK FAILED: host $name is NOT on generation $g0; the watchdog stays armed; a human must look at it"
    finish 4 "status=rollback-failed name=$name mode=$mode previous=$g0 generation=$(current_generation) failed=activation report=ROLLBACK FAILED: activation of generation $g1 failed (exit $rc) and rolling back to $g0 failed too; host needs a human"
  fi
  watchdog_disarm
  rm -f "$PENDING"
  finish 1 "status=rolled-back name=$name mode=$mode previous=$g0 generation=$g0 failed=activation duration=$(($(date +%s) - start)) report=activation of generation $g1 failed (exit $rc); rolled back from generation $g1 to $g0; log: $why"
fi

if [ "$mode" = test ]; then s1=$(running_store); else s1=$(generation_store "$g1"); fi
# The confirm window starts now, after a possibly slow activation.
watchdog_arm "$timeout" "$g0"
# Said now, so a deployer that loses contact next has already been told what happens.
log "generation $g1 is active; unless verify confirms within ${timeout}s (for example because it broke SSH), the watchdog rolls back to generation $g0 by itself"
write_pending "state=armed" "name=$name" "mode=$mode" "previous=$g0" "previous_store=$s0" \
  "generation=$g1" "store=$s1" "release=$release" "since=$start" "timeout=$timeout"
prune_generations "$keep" "$g0" "$g1"
finish 0 "status=ok name=$name mode=$mode previous=$g0 generation=$g1 store=$s1 duration=$(($(date +%s) - start)) at=$(date -u +%Y-%m-%dT%H:%M:%SZ) watchdog=armed${stale:+ warning=$stale}"
