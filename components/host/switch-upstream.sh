#!/bin/sh
# Blue-green traffic switch on the proxy host (nixos/services/proxy.nix): points
# nginx's upstream at COLOUR, reloads nginx gracefully, then checks through the
# proxy that COLOUR answers PATH. If anything fails, the previous upstream comes
# back (and is reloaded), and the switch fails with a report.
#   switch-upstream.sh COLOUR ADDR:PORT PATH
# The upstream lives outside the Nix store, so a switch needs no rebuild: proxy.nix
# includes $PROXY_DIR/upstream.conf in nginx's http block. `systemctl reload nginx`
# is what NixOS's unit does on reload: `nginx -t`, then SIGHUP (nixpkgs
# nixos/modules/services/web-servers/nginx/default.nix, ExecReload): a config that
# does not test keeps the old one running, and the old workers finish their requests.
set -eu
SCRIPT=switch-upstream
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

PROXY_DIR=$BASE/proxy
CONF=$PROXY_DIR/upstream.conf
# Must match proxy.nix: the port the proxy listens on, read from its own file.
PORT_FILE=$PROXY_DIR/port
# nixpkgs' nginx module writes the master's pid here (its nginx.conf: pid /run/nginx/nginx.pid).
NGINX_PID=/run/nginx/nginx.pid

[ "$#" = 3 ] || usage_error "switch-upstream takes COLOUR ADDR:PORT PATH"
colour=$1
upstream=$2
path=$3
case "$colour" in blue | green) ;; *) usage_error "colour must be blue or green, got '$colour'" ;; esac
case "$upstream" in
  *[!A-Za-z0-9.:[\]-]* | :* | *: | '') usage_error "upstream must be HOST:PORT, got '$upstream'" ;;
esac
uport=${upstream##*:}
need_int port "$uport"
case "$path" in /*) ;; *) usage_error "path must start with /, got '$path'" ;; esac
case "$path" in *[!A-Za-z0-9._~/-]*) usage_error "path has characters outside [A-Za-z0-9._~/-]: '$path'" ;; esac
[ -d "$PROXY_DIR" ] || precondition "$PROXY_DIR does not exist; is homeServer.services.proxy.enable set on this host?"
[ -f "$PORT_FILE" ] || precondition "$PORT_FILE does not exist; is homeServer.services.proxy.enable set on this host?"
port=$(cat "$PORT_FILE")
need_int "proxy port ($PORT_FILE)" "$port"

# done_ CODE FIELDS: the result line and exit (not lib.sh's finish: last-result stays the deploy's).
done_() {
  code=$1
  shift
  result "$@"
  exit "$code"
}

# One switch at a time on this proxy.
mkdir "$PROXY_DIR/.lock" 2>/dev/null || precondition "$PROXY_DIR/.lock is held: another switch is running (if none is, a killed one left it: remove the directory)"
tmp=""
trap 'rmdir "$PROXY_DIR/.lock"' EXIT

previous=none
if [ -f "$CONF" ]; then
  previous=$(sed -n 's/^# nhs-colour=\([a-z]*\)$/\1/p' "$CONF" | tail -n 1)
  [ -n "$previous" ] || previous=none
fi
saved=$PROXY_DIR/upstream.conf.previous
[ ! -f "$CONF" ] || cp -p "$CONF" "$saved"

# write_conf COLOUR ADDR:PORT: temp file + rename, so nginx never reads half a file.
write_conf() {
  tmp=$(mktemp "$PROXY_DIR/.upstream.XXXXXX")
  trap 'rm -rf "$tmp"; rmdir "$PROXY_DIR/.lock"' EXIT
  {
    printf '# written by nixos-home-server switch-upstream; included by proxy.nix\n'
    printf '# nhs-colour=%s\n' "$1"
    printf 'upstream nhs_bluegreen {\n  server %s;\n}\n' "$2"
    # The colour rides along in every answer (X-NHS-Colour), from the same config
    # generation as the upstream, so the check below sees which colour answered.
    # shellcheck disable=SC2016 # nginx's variable, not the shell's
    printf 'map "" $nhs_colour {\n  default %s;\n}\n' "$1"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$CONF"
  tmp=""
}

# answer: the colour the proxy names for PATH, if it answers 200.
answer() {
  curl -s -o /dev/null --max-time 5 -D - "http://127.0.0.1:$port$path" 2>/dev/null | tr -d '\r' | awk '
    NR == 1 { ok = ($2 == "200") }
    tolower($1) == "x-nhs-colour:" { c = $2 }
    END { if (ok) print c }'
}

# workers: nginx's workers that still take new connections. On a reload the master
# starts new workers, then each old one retitles itself "nginx: worker process is
# shutting down" as it closes its listening sockets, and finishes its requests.
workers() {
  master=$(cat "$NGINX_PID" 2>/dev/null) || return 0
  for d in /proc/[0-9]*; do
    # The parent pid is the second field after the command name's closing parenthesis.
    [ "$(sed 's/.*) //' "$d/stat" 2>/dev/null | cut -d' ' -f2)" = "$master" ] || continue
    ! taking "${d#/proc/}" || printf '%s\n' "${d#/proc/}"
  done
}

# taking PID: PID is an nginx worker that accepts new connections.
taking() {
  title=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  case "$title" in *"shutting down"*) return 1 ;; "nginx: worker process"*) return 0 ;; *) return 1 ;; esac
}

# reload: graceful reload (NixOS's ExecReload: nginx -t, then SIGHUP), returning once
# no worker from before it takes new connections, so every later request meets the
# new config. Fails 1 if nginx refused it, 2 if old workers still accept after 10 s.
reload() {
  old=$(workers)
  systemctl reload nginx.service >&2 || return 1
  n=0
  for p in $old; do
    while taking "$p"; do
      n=$((n + 1))
      [ "$n" -lt 100 ] || return 2
      sleep 0.1
    done
  done
}

# serving COLOUR: wait until the proxy answers PATH from COLOUR.
serving() {
  n=0
  while :; do
    seen=$(answer)
    [ "$seen" = "$1" ] && return 0
    n=$((n + 1))
    [ "$n" -lt 20 ] || return 1
    sleep 0.5
  done
}

# restore REASON: the previous upstream back, reloaded; then fail.
restore() {
  log "switch to $colour failed: $1; restoring $previous"
  if [ -f "$saved" ]; then
    cp -p "$saved" "$CONF"
    if ! reload || { [ "$previous" != none ] && ! serving "$previous"; }; then
      done_ 4 "status=rollback-failed colour=$colour upstream=$upstream previous=$previous report=switch to $colour ($upstream) failed: $1; restoring $previous failed too; the proxy needs a human"
    fi
  fi
  done_ 1 "status=failed colour=$previous upstream=$upstream previous=$previous report=switch to $colour ($upstream) failed: $1; traffic stays on $previous"
}

# Before nginx sees it: the colour must answer PATH from here, or nothing changes.
code=$(curl -g -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$upstream$path" 2>/dev/null || true)
if [ "$code" != 200 ]; then
  done_ 1 "status=failed colour=$previous upstream=$upstream previous=$previous report=$colour ($upstream) answers $path with ${code:-nothing} (not 200) from the proxy host; the proxy was not changed, traffic stays on $previous"
fi

step "pointing the proxy at $colour ($upstream)"
write_conf "$colour" "$upstream"
rc=0
reload || rc=$?
case "$rc" in
  0) ;;
  1) restore "nginx refused the new upstream (systemctl reload nginx.service: nginx -t failed or nginx is not running)" ;;
  *) restore "nginx's workers from before the reload still took new connections after 10 s" ;;
esac
serving "$colour" || restore "http://127.0.0.1:$port$path through the proxy answered ${seen:-no 200} instead of $colour"
rm -f "$saved"
done_ 0 "status=ok colour=$colour upstream=$upstream previous=$previous report=the proxy sends $path to $colour ($upstream); $previous stays as it is"
