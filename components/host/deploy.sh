#!/bin/sh
# Host-side deploy: lock, record the current generation, arm the watchdog, run
# nixos-rebuild detached from SSH, and roll back at once if activation fails.
#   deploy.sh --name NAME --release DIR --mode switch|boot|test|dry-activate
#             --confirm-timeout SEC [--activation-timeout SEC] [--keep-generations N]
#             [--min-free-mb N] [--commit SHA[-dirty]]
# Modes: switch = activate now and make it the boot default; boot = boot default
# only, takes effect at next boot; test = activate now, not the boot default;
# dry-activate = build and show what would change, change nothing.
# --activation-timeout (default 1800): systemd stops a nixos-rebuild (build and
# switch) that runs longer, and the host rolls back to where it was.
# --commit: the git commit the release was packed from, for the events (events.sh).
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
act=$ACT_TIMEOUT_DEFAULT
commit=""
while [ "$#" -gt 0 ]; do
  [ "$#" -ge 2 ] || usage_error "$1 needs a value"
  case "$1" in
    --name) name=$2 ;;
    --release) release=$2 ;;
    --mode) mode=$2 ;;
    --confirm-timeout) timeout=$2 ;;
    --activation-timeout) act=$2 ;;
    --keep-generations) keep=$2 ;;
    --min-free-mb) min_free=$2 ;;
    --commit) commit=$2 ;;
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
need_int --activation-timeout "$act"
[ "$act" -gt 0 ] || usage_error "--activation-timeout must be at least 1 second"
need_int --keep-generations "$keep"
need_int --min-free-mb "$min_free"
case "${commit%-dirty}" in
  '' | unknown) ;;
  *[!0-9a-f]*) usage_error "--commit must be a git commit id (with -dirty for uncommitted changes), got '$commit'" ;;
esac
[ -n "$release" ] || usage_error "--release DIR is required"
if [ ! -f "$release/flake.nix" ]; then
  precondition "bad release: $release/flake.nix does not exist"
fi
release=$(cd "$release" && pwd -P)

trap 'lock_release' EXIT
step "lock"
# Held through at most two bounded switches (activation, rollback) and bookkeeping.
lock_acquire 0 "$((2 * act + 120))"
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

rebuild=$(command -v nixos-rebuild) || precondition "nixos-rebuild is not in PATH ($PATH)"
# A unique id for this deploy: its watchdog acts only while this deploy is pending.
id=$(cat /proc/sys/kernel/random/uuid)
event_begin "$name" "$release" "$commit" "$id" "$mode"
event deploy-started started "$g0" "" "" "deploy of $name ($mode) from generation $g0 started"
activate() {
  t_act=$(date +%s)
  run_unit "$act" "$rebuild" "$mode" --flake "$release#$name"
}
# why_failed RC: one line on how the activation ended, for the report.
why_failed() {
  if [ "$(($(date +%s) - t_act))" -ge "$act" ]; then
    printf 'did not finish within %ss (--activation-timeout); systemd stopped it' "$act"
  else
    printf 'failed (exit %s)' "$1"
  fi
}

if [ "$mode" = dry-activate ]; then
  step "dry-activate"
  rc=0
  activate || rc=$?
  if [ "$rc" != 0 ]; then
    finish_ev failed dry-activate 1 "status=failed name=$name mode=$mode previous=$g0 generation=$g0 failed=dry-activate report=dry-activate of $name $(why_failed "$rc"); nothing changed; log: $(tail -n 3 "$DEPLOY_LOG" | oneline)"
  fi
  finish 0 "status=ok name=$name mode=$mode previous=$g0 generation=$g0 store=$s0 duration=$(($(date +%s) - start)) at=$(date -u +%Y-%m-%dT%H:%M:%SZ) watchdog=none"
fi

step "watchdog"
write_pending "state=activating" "id=$id" "name=$name" "mode=$mode" "previous=$g0" "previous_store=$s0" \
  "release=$release" "since=$start" "timeout=$timeout" "activation_timeout=$act"
watchdog_arm "$timeout" "$g0" "$id"

step "activate ($mode)"
rc=0
activate || rc=$?
g1=$(current_generation)
if [ "$rc" != 0 ]; then
  how=$(why_failed "$rc")
  failed=activation
  case "$how" in did*) failed=activation-timeout ;; esac
  why=$(tail -n 3 "$DEPLOY_LOG" | oneline)
  log "activation $how: $why"
  event_phase activate "$(($(date +%s) - t_act))"
  t_rb=$(date +%s)
  step "rollback to $g0"
  if ! restore "$g0" "$mode"; then
    log "ROLLBACK FAILED: host $name is NOT on generation $g0; the watchdog stays armed; a human must look at it"
    finish_ev failed "$failed" 4 "status=rollback-failed name=$name mode=$mode previous=$g0 generation=$(current_generation) failed=$failed report=ROLLBACK FAILED: activation of generation $g1 $how and rolling back to $g0 failed too; host needs a human"
  fi
  watchdog_disarm
  rm -f "$PENDING"
  event_phase rollback "$(($(date +%s) - t_rb))"
  finish_ev rolled-back activation 1 "status=rolled-back name=$name mode=$mode previous=$g0 generation=$g0 failed=$failed duration=$(($(date +%s) - start)) report=activation of generation $g1 $how; rolled back from generation $g1 to $g0; log: $why"
fi

if [ "$mode" = test ]; then s1=$(running_store); else s1=$(generation_store "$g1"); fi
event_phase activate "$(($(date +%s) - t_act))"
# The confirm window starts now, after a possibly slow activation.
watchdog_arm "$timeout" "$g0" "$id"
# Said now, so a deployer that loses contact next has already been told what happens.
log "generation $g1 is active; unless verify confirms within ${timeout}s (for example because it broke SSH), the watchdog rolls back to generation $g0 by itself"
write_pending "state=armed" "id=$id" "name=$name" "mode=$mode" "previous=$g0" "previous_store=$s0" \
  "generation=$g1" "store=$s1" "release=$release" "since=$start" "timeout=$timeout" "activation_timeout=$act"
prune_generations "$keep" "$g0" "$g1"
event activated ok "$g0" "$g1" "" "generation $g1 is active; the watchdog rolls back to $g0 unless verify confirms within ${timeout}s"
finish 0 "status=ok name=$name mode=$mode previous=$g0 generation=$g1 store=$s1 duration=$(($(date +%s) - start)) at=$(date -u +%Y-%m-%dT%H:%M:%SZ) watchdog=armed${stale:+ warning=$stale}"
