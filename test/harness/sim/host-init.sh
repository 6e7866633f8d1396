#!/bin/sh
# Runs inside a new simulated host's namespaces: mounts its private views, creates
# the deploy and bootstrap users, sudo rules, host key and sshd config, then boots
# generation 1 with the simulated nixos-rebuild.
#   host-init.sh NAME HOSTDIR CLIENT_PUBKEY_FILE BOOTSTRAP_PASSWORD_FILE [no-deploy-key]
# With no-deploy-key the deploy user starts with an empty authorized_keys (for tests
# that install the deploy key with the bootstrap credentials).
set -eu
name=$1
dir=$2
pubkey=$(cat "$3")
password=$(cat "$4")
deploy_key=${5:-with-deploy-key}

# Private views: /etc and /var/lib as overlays (changes stay with this host),
# /nix as a 1 GiB tmpfs (so "disk full" is a real full filesystem), and fresh /run,
# /tmp, /home and /usr/local/bin (the simulator's tools).
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$dir/etc-upper,workdir=$dir/etc-work" /etc
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$dir/varlib-upper,workdir=$dir/varlib-work" /var/lib
mount -t tmpfs -o size=1g,mode=0755 nix /nix
mount --bind "$dir/home" /home
mount --bind "$dir/bin" /usr/local/bin
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=0755 run /run

mkdir -p /run/sshd /nix/store /nix/var/nix/profiles /var/lib/nhs-sim/units /var/lib/nixos-home-server
chmod 0755 /run/sshd
: >/var/lib/nhs-sim/control
: >/var/lib/nhs-sim/journal
: >/var/lib/nhs-sim/sshd.log

for u in deploy admin; do
  id "$u" >/dev/null 2>&1 || useradd -m -s /bin/sh "$u"
  mkdir -p "/home/$u/.ssh"
  if [ "$u" = deploy ] && [ "$deploy_key" = no-deploy-key ]; then
    : >"/home/$u/.ssh/authorized_keys"
  else
    printf '%s\n' "$pubkey" >"/home/$u/.ssh/authorized_keys"
  fi
  chown -R "$u:$u" "/home/$u/.ssh"
  chmod 0700 "/home/$u/.ssh"
  chmod 0600 "/home/$u/.ssh/authorized_keys"
  printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$u" >"/etc/sudoers.d/nhs-$u"
  chmod 0440 "/etc/sudoers.d/nhs-$u"
done
# '*' (not '!') so sshd without PAM still allows key logins for the deploy user.
usermod -p '*' deploy
printf 'admin:%s\n' "$password" | chpasswd

rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f /etc/ssh/ssh_host_ed25519_key
cat >/etc/ssh/nhs_sshd_config <<CONF
Port 22
ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /var/lib/nhs-sim/units/sshd.service/pid
LogLevel VERBOSE
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
Subsystem sftp /usr/lib/openssh/sftp-server
Match User admin
  PasswordAuthentication yes
CONF

initial=/var/lib/nhs-sim/initial
mkdir -p "$initial/nixos/hosts/$name"
printf '{ description = "initial generation of the simulated host %s"; outputs = _: { }; }\n' "$name" >"$initial/flake.nix"
printf 'units=sshd.service nginx.service\n' >"$initial/nixos/hosts/$name/sim.env"
PATH=/usr/local/bin:$PATH /usr/local/bin/nixos-rebuild.sh switch --flake "$initial#$name" 2>/dev/null
ln -sfn "$(readlink /run/current-system)" /run/booted-system
