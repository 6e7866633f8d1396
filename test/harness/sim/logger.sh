#!/bin/sh
# Simulated logger (util-linux): `logger [-t TAG] [-p FACILITY.PRIO] [--] MESSAGE...`
# appends to the simulated journal, as journald's /dev/log socket would. The tag is
# the journal's identifier, which the simulated journalctl matches with -t.
set -eu
# Run by full path from $SIM_PKG (host-init.sh's wrappers): no readlink or dirname per call.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

tag=${LOGNAME:-logger}
prio=5
while [ "$#" -gt 0 ]; do
  case "$1" in
    -t | --tag) tag=$2; shift ;;
    -p | --priority)
      case "${2#*.}" in
        emerg) prio=0 ;; alert) prio=1 ;; crit) prio=2 ;; err | error) prio=3 ;;
        warning | warn) prio=4 ;; notice) prio=5 ;; info) prio=6 ;; debug) prio=7 ;;
        *) sim_log "logger: unknown priority name: $2"; exit 1 ;;
      esac
      shift
      ;;
    --) shift; break ;;
    -*) sim_log "logger: unrecognized option '$1' (simulator)"; exit 1 ;;
    *) break ;;
  esac
  shift
done
journal "$prio" "$tag" "$*"
