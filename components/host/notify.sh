#!/bin/sh
# Delivers the notification spool (events.sh queues into it) with curl, which speaks
# both HTTP and SMTP. Runs as its own transient unit, started after each event and
# by a retry timer while something is left. A failed delivery stays spooled and
# becomes a notify-failed event; after MAX_TRIES it is dropped.
#   notify.sh
# Secrets (root-only files written by secrets.sh) reach curl on its stdin as a
# config file (-K -), never in its arguments: nothing shows in the process list.
set -eu
SCRIPT=notify
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

MAX_TRIES=20
SENDING=$BASE/notify/sending
[ -f "$NOTIFY_CONF" ] || exit 0
mkdir -p "$SPOOL" "$SENDING"
conf() { kv "$NOTIFY_CONF" "$1"; }

# cq VALUE: VALUE as a double-quoted string of curl's config syntax.
cq() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\r\n' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# why_curl RC: what a curl exit code means (curl's own messages may quote the URL).
why_curl() {
  case "$1" in
    6) m="could not resolve the host" ;;
    7) m="could not connect" ;;
    28) m="timed out" ;;
    35 | 60 | 77 | 83) m="TLS handshake or certificate check failed" ;;
    64) m="the server does not offer STARTTLS" ;;
    67) m="login denied (AUTH refused)" ;;
    55 | 56) m="connection broke" ;;
    *) m="see curl's exit codes" ;;
  esac
  printf 'curl exit %s (%s)' "$1" "$m"
}

deliver_webhook() { # deliver_webhook FILE; prints why it failed
  [ -f "$SECRETS/nhs-notify-webhook-url" ] || { echo "no webhook URL on the host"; return 1; }
  url=$(cat "$SECRETS/nhs-notify-webhook-url")
  rc=0
  code=$(printf 'url = %s\n' "$(cq "$url")" | curl -s -o /dev/null -w '%{http_code}' --max-time 15 \
    -H 'Content-Type: application/json' --data-binary "@$1" -K - 2>/dev/null) || rc=$?
  [ "$rc" = 0 ] || { why_curl "$rc"; return 1; }
  case "$code" in 2??) return 0 ;; esac
  echo "the webhook answered HTTP $code"
  return 1
}

deliver_smtp() { # deliver_smtp FILE; prints why it failed
  set -- --ssl-reqd --max-time 30 --url "$(conf smtp_url)" --mail-from "$(conf smtp_from)" --upload-file "$1"
  for r in $(conf smtp_to | tr ',' ' '); do set -- "$@" --mail-rcpt "$r"; done
  [ ! -f "$SECRETS/nhs-notify-ca.pem" ] || set -- "$@" --cacert "$SECRETS/nhs-notify-ca.pem"
  cfg=""
  if [ -n "$(conf smtp_user)" ]; then
    pass=""
    [ ! -f "$SECRETS/nhs-notify-smtp-password" ] || pass=$(cat "$SECRETS/nhs-notify-smtp-password")
    cfg="user = $(cq "$(conf smtp_user):$pass")"
  fi
  rc=0
  printf '%s\n' "$cfg" | curl -s "$@" -K - >/dev/null 2>&1 || rc=$?
  [ "$rc" = 0 ] || { why_curl "$rc"; return 1; }
}

# Claims left by a flush that died go back to the spool.
for s in "$SENDING"/*; do
  [ -f "$s" ] || continue
  kill -0 "${s##*.}" 2>/dev/null || mv -f "$s" "$SPOOL/$(basename "${s%.*}")"
done

for f in "$SPOOL"/*; do
  f=${f##*/}
  case "$f" in '*' | .* | *[!0-9A-Za-z.-]*) continue ;; esac
  tries=${f##*.}
  item=${f%.*}
  ch=${item##*.}
  # Claimed by renaming: two flushes never send one message twice.
  mv "$SPOOL/$f" "$SENDING/$f.$$" 2>/dev/null || continue
  ok=0
  case "$ch" in
    webhook) why=$(deliver_webhook "$SENDING/$f.$$") || ok=1 ;;
    *) why=$(deliver_smtp "$SENDING/$f.$$") || ok=1 ;;
  esac
  if [ "$ok" = 0 ]; then
    rm -f "$SENDING/$f.$$"
    log "delivered $item"
    continue
  fi
  tries=$((tries + 1))
  if [ "$tries" -ge "$MAX_TRIES" ]; then
    rm -f "$SENDING/$f.$$"
    event notify-failed failed "" "" "$ch" "$ch notification $item dropped after $tries failed deliveries: $why"
  else
    mv -f "$SENDING/$f.$$" "$SPOOL/$item.$tries"
    event notify-failed failed "" "" "$ch" "$ch notification $item not delivered (attempt $tries, kept for retry): $why"
  fi
  log "not delivered: $item: $why"
done

# Something left: retry by a timer, unless one is already set.
if [ -n "$(ls "$SPOOL" 2>/dev/null)" ]; then
  retry=$(conf retry_seconds)
  at=$(kv "$BASE/notify/retry" at)
  now=$(date +%s)
  if [ "${at:-0}" -le "$now" ]; then
    printf 'at=%s\n' "$((now + ${retry:-300}))" >"$BASE/notify/retry"
    systemd-run --unit "nhs-notify-retry-$now" --on-active="${retry:-300}" --collect --setenv=PATH="$UNIT_PATH" \
      -p "StandardOutput=append:$DEPLOY_LOG" -p "StandardError=append:$DEPLOY_LOG" \
      /bin/sh "$HERE/notify.sh" >/dev/null 2>&1 || true
  fi
fi
exit 0
