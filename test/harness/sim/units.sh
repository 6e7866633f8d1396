#!/bin/sh
# How the simulator starts and stops the services a generation declares. sshd is a
# real OpenSSH daemon and nginx a real HTTP server (busybox httpd) on port 80, so a
# broken generation really locks SSH out or really stops serving.
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

unit_start() {
  mkdir -p "$(unit_dir "$1")"
  case "$1" in
    sshd.service)
      /usr/sbin/sshd -f /etc/ssh/nhs_sshd_config -E "$SIM_STATE/sshd.log" </dev/null >/dev/null 2>&1
      ;;
    nginx.service)
      mkdir -p "$SIM_STATE/www"
      setsid busybox httpd -f -p 80 -h "$SIM_STATE/www" </dev/null >/dev/null 2>&1 &
      echo "$!" >"$(unit_dir "$1")/pid"
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
