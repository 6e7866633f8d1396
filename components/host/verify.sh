#!/bin/sh
# Host-side verify: health checks with retries; on success confirm the pending
# deploy (disarm the watchdog); on failure roll back to the recorded generation,
# check again and report every failed check.
#   verify.sh --name NAME --retries N --interval SEC --timeout SEC [--unit U]...
#             [--http URL=STATUS]... [--command CMD]... [--journal fail|ignore]
#             [--min-free-mb N] [--generation G]
# --generation: the generation the deploy being verified produced. If nothing is
# pending and the host does not run it (rolled back earlier), verify fails instead
# of passing on the old generation.
set -eu
SCRIPT=verify
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; lock_release' EXIT
checks=$tmp/checks
: >"$checks"
name=""
retries=""
interval=""
timeout=""
journal=fail
min_free=0
expect=""
ncmd=0
while [ "$#" -gt 0 ]; do
  [ "$#" -ge 2 ] || usage_error "$1 needs a value"
  case "$2" in
    *'
'*) usage_error "$1 value must be one line" ;;
  esac
  case "$1" in
    --name) name=$2 ;;
    --retries) retries=$2 ;;
    --interval) interval=$2 ;;
    --timeout) timeout=$2 ;;
    --unit) printf 'unit\t%s\t%s\n' "$2" "$2" >>"$checks" ;;
    --http)
      case "$2" in
        *=[0-9][0-9][0-9]) printf 'http\t%s\t%s\n' "${2%=*}" "$2" >>"$checks" ;;
        *) usage_error "--http needs URL=STATUS (e.g. http://localhost/=200), got '$2'" ;;
      esac
      ;;
    --command)
      ncmd=$((ncmd + 1))
      printf 'command\tcommand-%s\t%s\n' "$ncmd" "$2" >>"$checks"
      ;;
    --journal) journal=$2 ;;
    --min-free-mb) min_free=$2 ;;
    --generation) expect=$2 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift 2
done
[ -n "$name" ] || usage_error "--name is required"
need_int --retries "$retries"
need_int --interval "$interval"
need_int --timeout "$timeout"
need_int --min-free-mb "$min_free"
[ -z "$expect" ] || need_int --generation "$expect"
[ "$retries" -ge 1 ] || usage_error "--retries must be at least 1"
[ "$timeout" -ge 1 ] || usage_error "--timeout must be at least 1"
case "$journal" in fail | ignore) ;; *) usage_error "--journal must be fail or ignore, got '$journal'" ;; esac
printf 'failed\tfailed-units\t-\n' >>"$checks"
[ "$journal" = fail ] && printf 'journal\tjournal\t-\n' >>"$checks"
[ "$min_free" -gt 0 ] && printf 'disk\tdisk\t%s\n' "$min_free" >>"$checks"
total=$(wc -l <"$checks" | tr -d ' ')

# check KIND ARG SINCE: one attempt; prints why it failed on stdout.
check() {
  case "$1" in
    unit)
      s=$(timeout "$timeout" systemctl is-active "$2" 2>/dev/null || true)
      [ "$s" = active ] || { echo "$2 ${s:-unknown}"; return 1; }
      ;;
    failed)
      f=$(timeout "$timeout" systemctl --failed --no-legend --plain 2>&1 | awk '{ print $1 }' | oneline) || true
      [ -z "$f" ] || { echo "failed units: $f"; return 1; }
      ;;
    http)
      url=${2%=*}
      want=${2##*=}
      got=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$timeout" "$url" 2>/dev/null || true)
      [ "$got" = "$want" ] || { echo "$url returned ${got:-nothing}, want $want"; return 1; }
      ;;
    journal)
      e=$(timeout "$timeout" journalctl -p err --since "@$3" --no-pager -q -o cat 2>&1 || true)
      [ -z "$e" ] || { echo "journal errors since the switch: $(printf '%s\n' "$e" | head -n 3 | oneline)"; return 1; }
      ;;
    command)
      rc=0
      timeout "$timeout" sh -c "$2" </dev/null >"$tmp/out" 2>&1 || rc=$?
      if [ "$rc" != 0 ]; then
        o=$(tail -n 2 "$tmp/out" | oneline)
        echo "command '$2' failed (exit $rc)${o:+: $o}"
        return 1
      fi
      ;;
    disk)
      f=$(free_mb /nix/store)
      [ "$f" -ge "$2" ] || { echo "disk: $f MB free on /nix/store, need $2"; return 1; }
      ;;
  esac
  return 0
}

# run_checks SINCE: every check, retrying the failing ones; leaves the failures in
# $tmp/failed (id<TAB>why lines) and returns 1 if any remain.
run_checks() {
  cp "$checks" "$tmp/todo"
  round=1
  while :; do
    : >"$tmp/failed"
    : >"$tmp/again"
    while IFS="$(printf '\t')" read -r kind id arg; do
      if reason=$(check "$kind" "$arg" "$1"); then
        log "ok: $id"
      else
        log "attempt $round/$retries: $reason"
        printf '%s\t%s\n' "$id" "$reason" >>"$tmp/failed"
        printf '%s\t%s\t%s\n' "$kind" "$id" "$arg" >>"$tmp/again"
      fi
    done <"$tmp/todo"
    [ -s "$tmp/failed" ] || return 0
    [ "$round" -lt "$retries" ] || return 1
    round=$((round + 1))
    mv "$tmp/again" "$tmp/todo"
    sleep "$interval"
  done
}

failed_ids() { cut -f1 "$tmp/failed" | paste -sd, -; }
# Each reason verbatim, joined by "; " (a check command may contain ';' itself).
failed_why() { cut -f2 "$tmp/failed" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }'; }

# The most this run holds the lock: every check timing out on every retry, twice
# (before and after a rollback), plus the rollback's switch. The watchdog waits no
# longer than that for a verify that started before it fired.
per_round=$((total * timeout))
checks_max=$((retries * per_round + (retries - 1) * interval))
step "lock"
lock_acquire 30 "$((2 * checks_max + $(act_timeout) + 60))"
metrics_units "$(awk -F '\t' '$1 == "unit" { print $2 }' "$checks" | oneline)"
t_verify=$(date +%s)

if [ ! -f "$PENDING" ]; then
  # Nothing to confirm. If the watchdog already rolled back, the deploy this verify
  # was meant for is gone: say so.
  if [ "$(field "$LAST" by)" = rollback ] && [ "$(field "$LAST" trigger)" = watchdog ]; then
    report=$(field "$LAST" report)
    finish 1 "status=rolled-back generation=$(current_generation) failed=not-confirmed report=$report"
  fi
  g=$(current_generation)
  if [ -n "$expect" ] && [ "$g" != "$expect" ]; then
    report=$(field "$LAST" report)
    finish 1 "status=rolled-back generation=$g failed=not-running report=generation $expect is not running (the host runs $g); last result: ${report:-none}; fix the config and run pulumi up, or force a retry of the same release with pulumi up --replace on the rebuild"
  fi
  step "checks on generation $g (nothing pending)"
  if run_checks "$(date +%s)"; then
    record_deployed
    finish 0 "status=ok generation=$g checks=$total report=all $total checks pass on generation $g"
  fi
  finish_ev failed verify 1 "status=failed previous=$g generation=$g failed=$(failed_ids) report=$(failed_why); nothing was pending, nothing rolled back"
fi

g1=$(kv "$PENDING" generation)
g0=$(kv "$PENDING" previous)
mode=$(kv "$PENDING" mode)
since=$(kv "$PENDING" since)
[ "$(kv "$PENDING" state)" = armed ] || precondition "the pending deploy of generation ${g1:-?} has not finished activating"

step "checks on generation $g1"
if run_checks "$since"; then
  watchdog_disarm
  rm -f "$PENDING"
  record_deployed
  event_phase verify "$(($(date +%s) - t_verify))"
  finish_ev verified "" 0 "status=ok previous=$g0 generation=$g1 checks=$total report=all $total checks pass on generation $g1"
fi
failed=$(failed_ids)
why=$(failed_why)
log "checks failed on generation $g1: $why"
event_phase verify "$(($(date +%s) - t_verify))"
t_rb=$(date +%s)

step "rollback to $g0"
if ! restore "$g0" "$mode"; then
  log "ROLLBACK FAILED: host $name is NOT on generation $g0; the watchdog stays armed; a human must look at it"
  finish_ev failed verify 4 "status=rollback-failed previous=$g1 generation=$(current_generation) failed=$failed report=ROLLBACK FAILED: $why; rolling back from generation $g1 to $g0 failed; host needs a human"
fi
watchdog_disarm
rm -f "$PENDING"
step "checks on generation $g0"
if run_checks "$(date +%s)"; then
  after="all checks pass on $g0"
else
  after="still failing on $g0: $(failed_why)"
fi
event_phase rollback "$(($(date +%s) - t_rb))"
finish_ev rolled-back verify 1 "status=rolled-back previous=$g1 generation=$g0 failed=$failed report=$why; rolled back from generation $g1 to $g0; $after"
