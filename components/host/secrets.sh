#!/bin/sh
# Installs the server's secrets from stdin into /var/lib/nixos-home-server/secrets/,
# outside the release and the Nix store, before the rebuild reads them.
#   secrets.sh < lines of NAME<TAB>OWNER<TAB>GROUP<TAB>MODE<TAB>UNITS<TAB>BASE64
# UNITS: comma-separated units restarted when that secret's value changed, or "-". Each file
# is written to a temp file with its owner, group and mode, then renamed into place;
# an unchanged value is left alone; a file no longer listed is removed. Values only
# pass through stdin, shell variables and builtins: never in a command's arguments.
set -eu
SCRIPT=secrets
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

umask 077
mkdir -p "$SECRETS"
chown root:root "$SECRETS" 2>/dev/null || true
# Traversable, not listable: each service reads only the file it owns.
chmod 0711 "$SECRETS"
tab=$(printf '\t')
names=" "
changed=""
restart=""
warn=""
n=0
while IFS="$tab" read -r name owner group mode units value; do
  [ -n "$name" ] || continue
  [ -n "$value" ] || usage_error "secret $name: expected 6 tab-separated fields"
  case "$name" in
    .* | *[!A-Za-z0-9._-]*) usage_error "secret name must be letters, digits, '.', '_' or '-', got '$name'" ;;
  esac
  case "$mode" in
    0[0-7][0-7][0-7]) ;;
    *) usage_error "secret $name: mode must be octal like 0400, got '$mode'" ;;
  esac
  t=$SECRETS/.$name.tmp
  printf '%s' "$value" | base64 -d >"$t" || { rm -f "$t"; usage_error "secret $name: value is not base64"; }
  if ! chown "$owner:$group" "$t" 2>/dev/null; then
    # The user may come with the generation about to be built: root keeps it for now.
    warn="$warn${warn:+,}$name"
    log "warning: secret $name: $owner:$group does not exist yet; left root-owned until the next upload"
  fi
  chmod "$mode" "$t"
  if [ -f "$SECRETS/$name" ] && cmp -s "$t" "$SECRETS/$name" &&
    [ "$(stat -c '%U:%G %a' "$t")" = "$(stat -c '%U:%G %a' "$SECRETS/$name")" ]; then
    rm -f "$t"
  else
    mv -f "$t" "$SECRETS/$name"
    changed="$changed${changed:+,}$name"
    [ "$units" = - ] || restart="$restart $(printf '%s' "$units" | tr ',' ' ')"
  fi
  names="$names$name "
  n=$((n + 1))
done
value=""

removed=""
for f in "$SECRETS"/* "$SECRETS"/.*.tmp; do
  [ -f "$f" ] || continue
  b=${f##*/}
  case "$names" in *" $b "*) continue ;; esac
  rm -f "$f"
  case "$b" in .*) ;; *) removed="$removed${removed:+,}$b" ;; esac
done

restarted=""
for u in $restart; do
  case " $restarted " in *" $u "*) continue ;; esac
  if systemctl is-active --quiet "$u"; then
    systemctl restart "$u" >&2 || log "warning: restarting $u failed"
    restarted="$restarted $u"
  fi
done
[ -z "$changed$removed" ] || log "changed: ${changed:-none}; removed: ${removed:-none}; restarted:${restarted:- none}"
result "status=ok secrets=$n changed=${changed:--} removed=${removed:--} restarted=$(printf '%s' "${restarted# }" | tr ' ' ',' | grep . || echo -)${warn:+ owner-missing=$warn}"
