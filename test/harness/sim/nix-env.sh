#!/bin/sh
# Simulated `nix-env -p PROFILE` for system profiles: --set, --switch-generation,
# --list-generations, --delete-generations, --rollback.
set -eu
# Run by full path from $SIM_PKG (host-init.sh's wrappers): no readlink or dirname per call.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

profile=$SIM_PROFILE
[ "${1:-}" = -p ] && { profile=$2; shift 2; }
[ "${1:-}" = --profile ] && { profile=$2; shift 2; }

gens() {
  for l in "$profile"-*-link; do
    [ -L "$l" ] || continue
    n=${l#"$profile"-}
    printf '%s\n' "${n%-link}"
  done | sort -n
}
cur() {
  t=$(readlink "$profile" 2>/dev/null || true)
  t=${t##*-system-}
  t=${t#system-}
  printf '%s\n' "${t%-link}"
}
point_to() { # atomically make the profile point at generation $1
  ln -sfn "$(basename "$profile")-$1-link" "$profile.tmp"
  mv -T "$profile.tmp" "$profile"
}

op=${1:-}
case "$op" in
  --set)
    store=$2
    c=$(cur)
    if [ -n "$c" ] && [ "$(readlink "$profile-$c-link")" = "$store" ]; then
      exit 0 # same path as the current generation: nix makes no new one
    fi
    last=$(gens | tail -n 1)
    n=$((${last:-0} + 1))
    ln -s "$store" "$profile-$n-link"
    point_to "$n"
    ;;
  --switch-generation | -G)
    n=$2
    if [ ! -L "$profile-$n-link" ]; then
      sim_log "error: generation $n does not exist"
      exit 1
    fi
    sim_log "switching profile from version $(cur) to $n"
    point_to "$n"
    ;;
  --rollback)
    c=$(cur)
    prev=$(gens | awk -v c="$c" '$1 < c' | tail -n 1)
    [ -n "$prev" ] || { sim_log "error: no generation older than the current (${c}) generation"; exit 1; }
    sim_log "switching profile from version $c to $prev"
    point_to "$prev"
    ;;
  --list-generations)
    c=$(cur)
    for n in $(gens); do
      d=$(date -r "$profile-$n-link" '+%Y-%m-%d %H:%M:%S')
      if [ "$n" = "$c" ]; then
        printf '%5s   %s   (current)\n' "$n" "$d"
      else
        printf '%5s   %s\n' "$n" "$d"
      fi
    done
    ;;
  --delete-generations)
    shift
    c=$(cur)
    for n in "$@"; do
      if [ "$n" = "$c" ]; then
        continue # nix never deletes the current generation
      fi
      if [ -L "$profile-$n-link" ]; then
        sim_log "removing profile version $n"
        rm -f "$profile-$n-link"
      fi
    done
    ;;
  *)
    sim_log "error: unsupported nix-env operation '$op' (simulator)"
    exit 1
    ;;
esac
