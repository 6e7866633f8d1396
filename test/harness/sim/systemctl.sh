#!/bin/sh
# Simulated systemctl over the simulator's units: is-active, is-failed, --failed,
# start, stop, restart, reload, reset-failed, list-units, status, show -P ActiveEnterTimestamp.
set -eu
# Run by full path from $SIM_PKG (host-init.sh's wrappers): no readlink or dirname per call.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=units.sh
. "$here/units.sh"

verb=""
legend=1
quiet=0
failed_only=0
units=""
prop=""
stamp=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --no-legend) legend=0 ;;
    --plain | --no-pager | --full | -l | --all | -a) ;;
    -q | --quiet) quiet=1 ;;
    --failed | --state=failed) failed_only=1 ;;
    --type=* | --output=*) ;;
    -P | --property) prop=$2; shift ;;
    --value) ;;
    --timestamp=*) stamp=${1#--timestamp=} ;;
    -*) sim_log "systemctl: unrecognized option '$1' (simulator)"; exit 1 ;;
    *)
      if [ -z "$verb" ]; then verb=$1; else units="$units $1"; fi
      ;;
  esac
  shift
done
[ -n "$verb" ] || verb=list-units

norm() { # a bare name means NAME.service
  case "$1" in
    *.service | *.timer | *.target | *.socket) printf '%s\n' "$1" ;;
    *) printf '%s.service\n' "$1" ;;
  esac
}

all_units() {
  [ -d "$SIM_UNITS" ] || return 0
  for d in "$SIM_UNITS"/*; do
    [ -d "$d" ] && basename "$d"
  done
}

case "$verb" in
  list-units)
    n=0
    for u in $(all_units); do
      s=$(unit_state "$u")
      if [ "$failed_only" = 1 ] && [ "$s" != failed ]; then continue; fi
      if [ "$failed_only" = 0 ] && [ "$s" = inactive ]; then continue; fi
      sub=running
      [ "$s" = failed ] && sub=failed
      printf '%s loaded %s %s %s\n' "$u" "$s" "$sub" "$u"
      n=$((n + 1))
    done
    [ "$legend" = 0 ] || printf '\n%s loaded units listed.\n' "$n"
    ;;
  is-active | is-failed)
    rc=1
    [ -n "$units" ] || { sim_log "Too few arguments."; exit 1; }
    for u in $units; do
      s=$(unit_state "$(norm "$u")")
      [ "$quiet" = 1 ] || printf '%s\n' "$s"
      if [ "$verb" = is-active ] && [ "$s" = active ]; then rc=0; fi
      if [ "$verb" = is-failed ] && [ "$s" = failed ]; then rc=0; fi
    done
    exit "$rc"
    ;;
  stop)
    for u in $units; do
      u=$(norm "$u")
      case "$u" in
        *.timer | nhs-* | run-*) kill_group "$(unit_dir "$u")/pid"; rm -rf "$(unit_dir "$u")" ;;
        *) [ -d "$(unit_dir "$u")" ] && unit_stop "$u" ;;
      esac
    done
    ;;
  start | restart)
    for u in $units; do
      u=$(norm "$u")
      [ "$verb" = restart ] && unit_stop "$u"
      unit_running "$u" || unit_start "$u"
    done
    ;;
  reload)
    for u in $units; do unit_reload "$(norm "$u")" || exit 1; done
    ;;
  reset-failed)
    for u in ${units:-$(all_units)}; do
      u=$(norm "$u")
      [ "$(unit_state "$u")" = failed ] && set_unit_state "$u" inactive
    done
    ;;
  status)
    for u in $units; do
      u=$(norm "$u")
      printf '* %s\n     Active: %s\n' "$u" "$(unit_state "$u")"
    done
    ;;
  show)
    # Only what the host scripts read: -P ActiveEnterTimestamp --timestamp=unix, which
    # systemd prints as @SECONDS (empty if the unit never became active).
    if [ "$prop" != ActiveEnterTimestamp ] || [ "$stamp" != unix ]; then sim_log "systemctl: show supports only -P ActiveEnterTimestamp --timestamp=unix (simulator)"; exit 1; fi
    for u in $units; do
      f=$(unit_dir "$(norm "$u")")/active-enter
      if [ -f "$f" ]; then printf '@%s\n' "$(cat "$f")"; else echo; fi
    done
    ;;
  daemon-reload) ;;
  *) sim_log "systemctl: unsupported verb '$verb' (simulator)"; exit 1 ;;
esac
exit 0
