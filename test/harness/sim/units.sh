#!/bin/sh
# How the simulator starts and stops the services a generation declares. sshd is a
# real OpenSSH daemon and nginx a real HTTP server (busybox httpd) on port 80, so a
# broken generation really locks SSH out or really stops serving. A generation with
# proxy.nix (its store path has `proxy`) runs a real nginx (Debian's) instead, with
# the generation's nginx.conf, and `systemctl reload nginx` does what NixOS's unit
# does (ExecReload: nginx -t, then kill -HUP the main process).
# shellcheck disable=SC2034 # sourced after lib.sh

unit_running() {
  case "$1" in
    sshd.service | nginx.service)
      pidf="$(unit_dir "$1")/pid"
      [ -f "$pidf" ] && alive "$(cat "$pidf")"
      ;;
    *) [ "$(unit_state "$1")" = active ] ;;
  esac
}

# unit_exec UNIT: what the current generation runs for UNIT (restart when it changes).
unit_exec() {
  if [ "$1" = nginx.service ] && [ -f /run/current-system/proxy ]; then
    printf '%s -c %s\n' "$SIM_NGINX/bin/nginx" "$(cut -d' ' -f2 /run/current-system/proxy)"
  else
    printf '%s\n' "$1"
  fi
}

# unit_reload UNIT: ExecReload of NixOS's nginx.service; other units have none.
unit_reload() {
  if [ "$1" != nginx.service ] || [ ! -f /run/current-system/proxy ]; then
    sim_log "Failed to reload $1: Job type reload is not applicable for unit $1."
    return 1
  fi
  if ! unit_running "$1"; then
    sim_log "$1 is not active, cannot reload."
    return 1
  fi
  # shellcheck disable=SC2046 # the unit's command line, word-split like ExecReload's
  if ! $(cat "$(unit_dir "$1")/exec") -t 2>>"$SIM_STATE/nginx-error.log"; then
    journal 3 "$1" "nginx.service: Control process exited, code=exited, status=1/FAILURE"
    sim_log "Job for $1 failed. See \"systemctl status $1\" and \"journalctl -xeu $1\" for details."
    return 1
  fi
  kill -s HUP "$(cat "$(unit_dir "$1")/pid")"
  journal 6 "$1" "Reloaded $1."
}

unit_start() {
  mkdir -p "$(unit_dir "$1")"
  case "$1" in
    sshd.service)
      /usr/sbin/sshd -f /etc/ssh/nhs_sshd_config -E "$SIM_STATE/sshd.log" </dev/null >/dev/null 2>&1
      ;;
    nginx.service)
      cmd=$(unit_exec "$1")
      if [ "$cmd" = nginx.service ]; then
        mkdir -p "$SIM_STATE/www"
        # -vv: one "ADDR:PORT: url:PATH" line per request, the access log tests count.
        setsid busybox httpd -f -vv -p 80 -h "$SIM_STATE/www" </dev/null >/dev/null 2>>"$SIM_STATE/www-access.log" &
      else
        # RuntimeDirectory=nginx; the config says daemon off, so $! is the main process.
        mkdir -p /run/nginx "$SIM_STATE/nginx"
        # shellcheck disable=SC2086 # the unit's command line
        setsid $cmd </dev/null >/dev/null 2>>"$SIM_STATE/nginx-error.log" &
      fi
      echo "$!" >"$(unit_dir "$1")/pid"
      printf '%s\n' "$cmd" >"$(unit_dir "$1")/exec"
      ;;
  esac
  set_unit_state "$1" active
  journal 6 "$1" "Started $1."
}

unit_stop() {
  kill_group "$(unit_dir "$1")/pid"
  set_unit_state "$1" inactive
  journal 6 "$1" "Stopped $1."
}

unit_fail() {
  kill_group "$(unit_dir "$1")/pid"
  set_unit_state "$1" failed
  journal 3 "$1" "Main process exited, code=exited, status=1/FAILURE"
  journal 3 "$1" "Failed with result 'exit-code'."
}
