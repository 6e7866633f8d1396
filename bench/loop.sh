#!/bin/sh
# The old workflow, as a plain sequential loop: for each host, ssh in, sync the flake tree
# (tar over ssh, into ~/nixos-config), `sudo nixos-rebuild switch --flake`, then the old
# workflow's checks (units active, nothing failed, nginx answers). Exits non-zero on the first
# failure, like `set -e` in the old script.
#   loop.sh KEY KNOWN_HOSTS TREE NAME=USER@ADDRESS:PORT...
set -eu
key=$1
known=$2
tree=$3
shift 3
for spec in "$@"; do
  name=${spec%%=*}
  target=${spec#*=}
  addr=${target%:*}
  port=${target##*:}
  ssh_() {
    ssh -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
      -o UserKnownHostsFile="$known" -o LogLevel=ERROR -p "$port" "$addr" "$@"
  }
  ssh_ true
  tar -czf - -C "$tree" flake.nix flake.lock nixos |
    ssh_ 'rm -rf nixos-config.new && mkdir nixos-config.new && tar -xzf - -C nixos-config.new && rm -rf nixos-config && mv nixos-config.new nixos-config'
  ssh_ "sudo -n nixos-rebuild switch --flake \"\$HOME/nixos-config#$name\"" >/dev/null
  # shellcheck disable=SC2016 # expanded by the remote shell
  ssh_ 'systemctl is-active nginx.service sshd.service >/dev/null && test -z "$(systemctl --failed --no-legend --plain)" && curl -fsS -o /dev/null http://localhost/'
done
