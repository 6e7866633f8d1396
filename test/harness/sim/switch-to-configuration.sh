#!/bin/sh
# Simulated switch-to-configuration of one store path: every fake generation's
# bin/switch-to-configuration execs this with its own path. Applies the generation's
# units and faults (see nixos-rebuild.sh for the faults list).
set -eu
# Run by full path from $SIM_PKG (host-init.sh's wrappers): no readlink or dirname per call.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=units.sh
. "$here/units.sh"

store=${1:?store path}
action=${2:-}
faults=$(cat "$store/faults")
units=$(cat "$store/units")

fault_value() { # fault_value NAME: the argument of a NAME:VALUE fault
  printf '%s\n' "$faults" | tr ',' '\n' | sed -n "s/^$1://p" | tail -n 1
}

case "$action" in
  switch | boot | test | dry-activate) ;;
  *)
    sim_log "Usage: switch-to-configuration [switch|boot|test|dry-activate]"
    exit 1
    ;;
esac

if [ "$action" = dry-activate ]; then
  sim_log "would start the following units: $units"
  exit 0
fi

delay=$(control switch_delay)
if [ "${delay:-0}" -gt 0 ]; then
  sim_log "switching slowly ($delay s, host fault)"
  sleep "$delay"
fi
slow=$(fault_value slow-activation)
if [ -n "$slow" ]; then
  sim_log "activating slowly ($slow s)"
  sleep "$slow"
fi

if [ "$action" = boot ] || [ "$action" = switch ]; then
  printf '%s\n' "$store" >"$SIM_STATE/bootloader"
fi

# access: /etc as this generation declares it. With nixos-home-server's module
# (nixos/users.nix): the deploy key in /etc/ssh/authorized_keys.d/USER (users.users.
# <name>.openssh.authorizedKeys.keys), the deploy user's single sudo rule rendered as
# nixpkgs' sudo module renders security.sudo.extraRules, and the dispatcher copied
# from the store by an activation script. Without it: the host's initial rules; a
# copied dispatcher stays, as activation scripts undo nothing.
access() {
  rm -f /etc/sudoers.d/nhs-*
  if [ -f "$store/access/user" ]; then
    u=$(cat "$store/access/user")
    printf '%s ALL=(root) NOPASSWD: /var/lib/nixos-home-server/dispatch\n' "$u" >"/etc/sudoers.d/nhs-$u"
    chmod 0440 "/etc/sudoers.d/nhs-$u"
    mkdir -p /etc/ssh/authorized_keys.d /var/lib/nixos-home-server
    cp "$store/access/keys" "/etc/ssh/authorized_keys.d/$u"
    chmod 0444 "/etc/ssh/authorized_keys.d/$u"
    cp "$store/access/dispatch" /var/lib/nixos-home-server/dispatch.tmp
    chmod 0755 /var/lib/nixos-home-server/dispatch.tmp
    mv -f /var/lib/nixos-home-server/dispatch.tmp /var/lib/nixos-home-server/dispatch
  else
    cp -p "$SIM_INITIAL_ETC"/sudoers.d/nhs-* /etc/sudoers.d/
    rm -f /etc/ssh/authorized_keys.d/*
  fi
}

if [ "$action" = switch ] || [ "$action" = test ]; then
  access
  old=$(readlink /run/current-system 2>/dev/null || true)
  ln -sfn "$store" /run/current-system.tmp
  mv -T /run/current-system.tmp /run/current-system
  if [ -n "$old" ] && [ -f "$old/units" ]; then
    old_units=$(cat "$old/units")
    for u in $old_units; do
      has_word "$units" "$u" || unit_stop "$u"
    done
  fi
  mkdir -p "$SIM_STATE/www"
  printf '%s\n' "$store" >"$SIM_STATE/www/index.html"
  if [ -f "$store/proxy" ]; then
    # proxy.nix's systemd.tmpfiles.rules: the directory, the port file (f+: rewritten),
    # and the initial upstream (C: only when there is none; a switch's file stays).
    p=/var/lib/nixos-home-server/proxy
    mkdir -p "$p"
    chmod 0755 "$p"
    cut -d' ' -f1 "$store/proxy" >"$p/port"
    if [ ! -e "$p/upstream.conf" ]; then
      # shellcheck disable=SC2016 # nginx's variable
      printf '# nhs-colour=none\nupstream nhs_bluegreen {\n  server 127.0.0.1:1;\n}\nmap "" $nhs_colour {\n  default none;\n}\n' >"$p/upstream.conf"
    fi
  fi
  for u in $units; do
    if has_word "$(fault_value unit-fails)" "$u"; then
      # The service starts, then crashes: activation itself still succeeds.
      unit_fail "$u"
    elif [ "$u" = sshd.service ] && has_word "$faults" breaks-ssh; then
      # Like a firewall or network change that locks everyone out: the unit looks
      # fine but nothing accepts connections any more.
      kill_group "$(unit_dir "$u")/pid"
      set_unit_state "$u" active
    elif [ "$u" = sshd.service ] && has_word "$faults" restarts-sshd; then
      # NixOS's sshd.service has KillMode=process: a restart replaces the listener,
      # open sessions live on.
      unit_stop "$u"
      unit_start "$u"
    elif ! unit_running "$u"; then
      unit_start "$u"
    elif [ -f "$(unit_dir "$u")/exec" ] && [ "$(unit_exec "$u")" != "$(cat "$(unit_dir "$u")/exec")" ]; then
      # The unit's command changed (another nginx config): NixOS restarts it
      # (nginx.service has stopIfChanged = false: a restart, not stop then start).
      unit_stop "$u"
      unit_start "$u"
    fi
  done
fi

if has_word "$faults" activate-fails; then
  journal 3 switch-to-configuration "activation script snippet 'etc' failed"
  sim_log "error: activation of $store failed"
  exit 4
fi
exit 0
