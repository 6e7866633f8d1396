#!/bin/sh
# Deploy events, metrics and the notification spool. Sourced by lib.sh; every script
# that changes the host calls `event NAME ...` at each step. Never fails its caller:
# a full disk or a broken notifier must not stop a deploy or a rollback.
#   events.jsonl  one JSON object per line (`tail -F` follows it across rotation)
#   metrics/      the Prometheus textfile (node exporter's textfile collector)
#   notify/spool  notifications waiting for notify.sh (see there)
# shellcheck disable=SC2034 # variables are used by the scripts that source this file

EVENTS=$BASE/events.jsonl
# Rotation bound: past this size events.jsonl becomes events.jsonl.1 (one kept).
EVENTS_MAX_BYTES=${NHS_EVENTS_MAX_BYTES:-1048576}
EVENT_CTX=$STATE/event-context
METRICS_STATE=$STATE/metrics-state
METRICS_DIR=$BASE/metrics
METRICS_FILE=$METRICS_DIR/nixos_deploy.prom
SECRETS=$BASE/secrets
NOTIFY_CONF=$SECRETS/nhs-notify.conf
SPOOL=$BASE/notify/spool

# json_str TEXT: TEXT as a JSON string (one line; control characters dropped). Names,
# hashes, numbers and times need no escaping and take no fork; free text goes through tr and sed.
json_str() {
  case "$1" in
    *[!A-Za-z0-9\ ._:@/+=,-]*) printf '"%s"' "$(printf '%s' "$1" | tr '\t\n\r' '   ' | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')" ;;
    *) printf '"%s"' "$1" ;;
  esac
}

# json_num VALUE: VALUE if it is a whole number, else null.
json_num() {
  case "$1" in
    '' | *[!0-9]*) printf 'null' ;;
    *) printf '%s' "$1" ;;
  esac
}

# set_kv FILE KEY VALUE: replace one key of a key=value file, atomically (builtins but mv).
set_kv() {
  {
    if [ -f "$1" ]; then
      while IFS= read -r kv_line || [ -n "$kv_line" ]; do
        case "$kv_line" in "$2="*) ;; *) printf '%s\n' "$kv_line" ;; esac
      done <"$1"
    fi
    printf '%s=%s\n' "$2" "$3"
  } >"$1.tmp"
  mv -f "$1.tmp" "$1"
}

# event_begin NAME RELEASE COMMIT ID MODE: the context later events of this deploy
# (verify's, the watchdog's) report. COMMIT is the git commit, "-dirty" if the tree
# had uncommitted changes.
event_begin() {
  printf 'name=%s\nrelease=%s\ncommit=%s\nid=%s\nmode=%s\nsince=%s\n' \
    "$1" "${2##*/}" "$3" "$4" "$5" "$(date +%s)" >"$EVENT_CTX.tmp" && mv -f "$EVENT_CTX.tmp" "$EVENT_CTX"
  for p in activate verify rollback total; do set_kv "$METRICS_STATE" "dur_$p" ""; done
}

# event_phase PHASE SECONDS: remember how long a phase of this deploy took.
event_phase() {
  set_kv "$EVENT_CTX" "dur_$1" "$2"
  set_kv "$METRICS_STATE" "dur_$1" "$2"
}

# event_total EVENT: the first outcome of a deploy (verified, rolled-back, failed)
# sets its total duration; a later manual rollback keeps it.
event_total() {
  case "$1" in verified | rolled-back | failed) ;; *) return 0 ;; esac
  t0=$(kv "$EVENT_CTX" since)
  if [ -n "$t0" ] && [ -z "$(kv "$EVENT_CTX" finished)" ]; then
    event_phase total "$(($(date +%s) - t0))"
    set_kv "$EVENT_CTX" finished 1
  fi
}

# event NAME RESULT FROM TO REASON REPORT: append one event, rewrite the metrics and
# queue notifications. NAME: deploy-started activated verified rolled-back
# watchdog-fired failed notify-failed received.
event() {
  (_event "$@") >/dev/null 2>&1 || true
}

_event() {
  ev=$1 res=$2 from=$3 to=$4 reason=$5 report=$6
  mkdir -p "$BASE" "$STATE"
  now=$(date +%s)
  commit=${EV_COMMIT-$(kv "$EVENT_CTX" commit)}
  dirty=false
  case "$commit" in *-dirty) dirty=true commit=${commit%-dirty} ;; esac
  event_total "$ev"
  durs=""
  for p in activate verify rollback total; do
    v=$(kv "$EVENT_CTX" "dur_$p")
    [ -n "$v" ] && durs="$durs${durs:+,}\"$p\":$v"
  done
  line="{\"time\":$(json_str "$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)"),\"server\":$(json_str "$(kv "$EVENT_CTX" name)"),\"event\":$(json_str "$ev"),\"result\":$(json_str "$res"),\"reason\":$(json_str "$reason"),\"generation_from\":$(json_num "$from"),\"generation_to\":$(json_num "$to"),\"release\":$(json_str "${EV_RELEASE-$(kv "$EVENT_CTX" release)}"),\"commit\":$(json_str "$commit"),\"dirty\":$dirty,\"deploy_id\":$(json_str "$(kv "$EVENT_CTX" id)"),\"mode\":$(json_str "$(kv "$EVENT_CTX" mode)"),\"durations\":{$durs},\"report\":$(json_str "$report")}"
  # Metrics first: whoever sees the event line finds the metrics that include it.
  metrics_update "$ev" "$res" "$reason" "$now"
  metrics_write
  if [ -f "$EVENTS" ] && [ "$(wc -c <"$EVENTS")" -ge "$EVENTS_MAX_BYTES" ]; then
    mv -f "$EVENTS" "$EVENTS.1"
  fi
  printf '%s\n' "$line" >>"$EVENTS"
  chmod 0644 "$EVENTS"
  [ "$ev" = notify-failed ] || notify_queue "$ev" "$reason" "$line"
}

metrics_update() { # metrics_update EVENT RESULT REASON NOW
  set_kv "$METRICS_STATE" last_event "$4"
  case "$1" in
    verified) set_kv "$METRICS_STATE" last_success "$4"; set_kv "$METRICS_STATE" last_result success ;;
    rolled-back)
      n=$(kv "$METRICS_STATE" "rollbacks_$3")
      set_kv "$METRICS_STATE" "rollbacks_$3" "$((${n:-0} + 1))"
      set_kv "$METRICS_STATE" last_result rolled-back
      ;;
    failed) set_kv "$METRICS_STATE" last_result failed ;;
    notify-failed) n=$(kv "$METRICS_STATE" notify_failures); set_kv "$METRICS_STATE" notify_failures "$((${n:-0} + 1))" ;;
  esac
}

# metrics_units UNIT...: the health-checked units whose start time the metrics show.
metrics_units() { set_kv "$METRICS_STATE" units "$*"; }

# metrics_write: render the textfile from the metrics state, then rename it into place
# so the collector never reads half a file.
metrics_write() {
  mkdir -p "$METRICS_DIR"
  chmod 0755 "$METRICS_DIR"
  m() { kv "$METRICS_STATE" "$1"; }
  m0() { m0_v=$(m "$1"); printf '%s' "${m0_v:-0}"; }
  {
    echo '# HELP nixos_deploy_last_success_timestamp_seconds When the last deploy was verified.'
    echo '# TYPE nixos_deploy_last_success_timestamp_seconds gauge'
    echo "nixos_deploy_last_success_timestamp_seconds $(m0 last_success)"
    echo '# HELP nixos_deploy_last_event_timestamp_seconds When the last deploy event happened.'
    echo '# TYPE nixos_deploy_last_event_timestamp_seconds gauge'
    echo "nixos_deploy_last_event_timestamp_seconds $(m0 last_event)"
    echo '# HELP nixos_deploy_duration_seconds Duration of each phase of the last deploy.'
    echo '# TYPE nixos_deploy_duration_seconds gauge'
    for p in activate verify rollback total; do
      v=$(m "dur_$p")
      [ -z "$v" ] || echo "nixos_deploy_duration_seconds{phase=\"$p\"} $v"
    done
    echo '# HELP nixos_deploy_generation The system generation the host runs.'
    echo '# TYPE nixos_deploy_generation gauge'
    echo "nixos_deploy_generation $(current_generation | grep . || echo 0)"
    echo '# HELP nixos_deploy_rollbacks_total Rollbacks by what triggered them.'
    echo '# TYPE nixos_deploy_rollbacks_total counter'
    for r in activation verify watchdog manual; do
      echo "nixos_deploy_rollbacks_total{reason=\"$r\"} $(m0 "rollbacks_$r")"
    done
    echo '# HELP nixos_deploy_last_result 1 for the result of the last finished deploy.'
    echo '# TYPE nixos_deploy_last_result gauge'
    for r in success rolled-back failed; do
      v=0
      [ "$(m last_result)" = "$r" ] && v=1
      echo "nixos_deploy_last_result{result=\"$r\"} $v"
    done
    echo '# HELP nixos_deploy_notify_failures_total Notifications that could not be delivered.'
    echo '# TYPE nixos_deploy_notify_failures_total counter'
    echo "nixos_deploy_notify_failures_total $(m0 notify_failures)"
    echo '# HELP nixos_deploy_unit_active_enter_timestamp_seconds When each health-checked unit last entered the active state (ActiveEnterTimestamp).'
    echo '# TYPE nixos_deploy_unit_active_enter_timestamp_seconds gauge'
    for u in $(m units); do
      t=$(systemctl show -P ActiveEnterTimestamp --timestamp=unix "$u" 2>/dev/null | tr -d '@')
      case "$t" in '' | *[!0-9]*) continue ;; esac
      echo "nixos_deploy_unit_active_enter_timestamp_seconds{unit=\"$u\"} $t"
    done
  } >"$METRICS_FILE.tmp"
  chmod 0644 "$METRICS_FILE.tmp"
  mv -f "$METRICS_FILE.tmp" "$METRICS_FILE"
}

# notify_queue EVENT REASON JSON: spool one message per channel that wants this kind
# of event, then start a delivery that does not hold up the caller.
notify_queue() {
  [ -f "$NOTIFY_CONF" ] || return 0
  case "$1" in
    verified) kind=success ;;
    rolled-back) kind=rollback; [ "$2" = watchdog ] && kind=watchdog ;;
    failed) kind=failure ;;
    *) kind="" ;;
  esac
  if [ -n "$kind" ]; then
    mkdir -p "$SPOOL"
    chmod 0700 "$BASE/notify" "$SPOOL"
    id=$(date +%s)-$$
    text=$(notify_text "$3")
    for ch in webhook smtp; do
      case ",$(kv "$NOTIFY_CONF" "${ch}_events")," in *",$kind,"*) ;; *) continue ;; esac
      if [ "$ch" = webhook ]; then
        printf '{"text":%s,"event":%s}\n' "$(json_str "$text")" "$3" >"$SPOOL/.$id.$ch"
      else
        notify_mail "$text" "$3" >"$SPOOL/.$id.$ch"
      fi
      mv -f "$SPOOL/.$id.$ch" "$SPOOL/$id.$ch.0"
    done
  fi
  notify_flush_async
}

# notify_text JSON: one human line from an event line.
notify_text() {
  g() { printf '%s' "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
  n() { printf '%s' "$1" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"; }
  printf '%s: %s (%s%s) generation %s -> %s, commit %s: %s' "$(g "$1" server)" "$(g "$1" event)" \
    "$(g "$1" result)" "$(r=$(g "$1" reason); [ -z "$r" ] || printf ', %s' "$r")" \
    "$(n "$1" generation_from)" "$(n "$1" generation_to)" "$(g "$1" commit | cut -c1-12)" "$(g "$1" report)"
}

notify_mail() { # notify_mail TEXT JSON: an RFC 5322 message
  printf 'From: %s\r\nTo: %s\r\nSubject: [nixos-home-server] %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n\r\n%s\r\n' \
    "$(kv "$NOTIFY_CONF" smtp_from)" "$(kv "$NOTIFY_CONF" smtp_to)" "$(printf '%s' "$1" | cut -c1-120)" \
    "$(date -R)" "$1" "$2"
}

# notify_flush_async: deliver what is spooled as its own unit, so neither this SSH
# session nor the watchdog's unit waits for it, and it outlives both.
notify_flush_async() {
  [ -f "$NOTIFY_CONF" ] || return 0
  [ -n "$(ls -A "$SPOOL" 2>/dev/null)" ] || return 0
  systemd-run --unit "nhs-notify-$(date +%s)-$$" --collect --setenv=PATH="$UNIT_PATH" \
    -p "StandardOutput=append:$DEPLOY_LOG" -p "StandardError=append:$DEPLOY_LOG" \
    /bin/sh "$HERE/notify.sh" >/dev/null 2>&1 || true
}

# finish_ev EVENT REASON CODE "status=... previous=FROM generation=TO ... report=...":
# finish with that result line, prefixed with event=, durations=PHASE:SEC,... and
# commit= for the deployer, and record the event. The result (stdout, last-result)
# comes first, so whoever sees the host settled finds it; then the event, then exit.
finish_ev() {
  fh=" ${4%% report=*}"
  fr=""
  case "$4" in *" report="*) fr=${4#* report=} ;; esac
  fv() { printf '%s\n' "$fh" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
  event_total "$1"
  fd=""
  for p in activate verify rollback total; do
    v=$(kv "$EVENT_CTX" "dur_$p")
    [ -z "$v" ] || fd="$fd${fd:+,}$p:$v"
  done
  fc=$(kv "$EVENT_CTX" commit)
  (finish "$3" "event=$1 durations=${fd:--} commit=${fc:-unknown} $4") || true
  event "$1" "$(fv status)" "$(fv previous)" "$(fv generation)" "$2" "$fr"
  exit "$3"
}
