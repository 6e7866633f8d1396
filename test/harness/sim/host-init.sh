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

here=$dir/bin
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

# Private views: /etc and /var/lib as overlays (changes stay with this host),
# /nix as a 1 GiB tmpfs (so "disk full" is a real full filesystem), and fresh /run,
# /tmp and /home.
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$dir/etc-upper,workdir=$dir/etc-work" /etc
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$dir/varlib-upper,workdir=$dir/varlib-work" /var/lib
mount -t tmpfs -o size=1g,mode=0755 nix /nix
mount --bind "$dir/home" /home

# The NixOS layout. Debian's tools move into a store path (nosuid, like an unwrapped
# package: its sudo cannot gain root), each simulated tool gets its own store path,
# and the system path links them all, as /run/current-system/sw does on NixOS.
mkdir -p "$SIM_USERLAND/bin" "$SIM_PKG" "$SIM_SYSTEMD/bin" "$SIM_NIX/bin" "$SIM_REBUILD/bin" "$SIM_UTIL/bin" "$SIM_SW/bin"
mount --bind /usr/bin "$SIM_USERLAND/bin"
mount -o remount,bind,ro,nosuid "$SIM_USERLAND/bin"
PATH=$SIM_USERLAND/bin:/usr/sbin
cp "$here"/*.sh "$SIM_PKG/"
wrap() { # wrap STOREBIN NAME SCRIPT: a launcher like nixpkgs' makeWrapper (own PATH)
  {
    printf '#!/bin/sh\n'
    # shellcheck disable=SC2016 # expanded by the wrapper
    [ "$2" = systemd-run ] && printf 'SIM_CALLER_PATH=${PATH-}; export SIM_CALLER_PATH\n'
    printf 'PATH=%s; export PATH\nexec sh %s/%s "$@"\n' "$SIM_PATH" "$SIM_PKG" "$3"
  } >"$1/$2"
  chmod 0555 "$1/$2"
}
for t in systemctl systemd-run journalctl; do wrap "$SIM_SYSTEMD/bin" "$t" "$t.sh"; done
wrap "$SIM_NIX/bin" nix-env nix-env.sh
wrap "$SIM_REBUILD/bin" nixos-rebuild nixos-rebuild.sh
wrap "$SIM_UTIL/bin" logger logger.sh
ln -s "$SIM_USERLAND"/bin/* "$SIM_SW/bin/"
# Debian's alternatives (awk -> /etc/alternatives/awk -> /usr/bin/mawk) point into the
# /usr/bin about to be hidden: link those to the real file in the store path instead.
find /usr/bin -maxdepth 1 -type l -lname '/*' | while IFS= read -r l; do
  t=$(readlink -f "$l")
  case "$t" in /usr/bin/*) t=$SIM_USERLAND/bin/${t#/usr/bin/} ;; esac
  ln -sfn "$t" "$SIM_SW/bin/${l##*/}"
done
for t in systemctl systemd-run journalctl; do ln -sfn "$SIM_SYSTEMD/bin/$t" "$SIM_SW/bin/$t"; done
ln -sfn "$SIM_NIX/bin/nix-env" "$SIM_SW/bin/nix-env"
ln -sfn "$SIM_REBUILD/bin/nixos-rebuild" "$SIM_SW/bin/nixos-rebuild"
ln -sfn "$SIM_UTIL/bin/logger" "$SIM_SW/bin/logger"
# nginx (Debian's package) as its own store path: the proxy generation's nginx.service
# runs it by that path, as NixOS's unit does; nixpkgs' nginx module does not put it on
# the system path, so neither does the simulator.
if [ -x /usr/sbin/nginx ]; then
  mkdir -p "$SIM_NGINX/bin"
  ln -s /usr/sbin/nginx "$SIM_NGINX/bin/nginx"
fi
# Last, as they hide $dir when the hosts live under /run or /tmp.
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=0755 run /run
# sudo works only through its setuid wrapper (security.wrappers).
mkdir -p /run/wrappers/bin
cp "$SIM_USERLAND/bin/sudo" /run/wrappers/bin/sudo
chmod 4755 /run/wrappers/bin/sudo
# /bin holds only sh and /usr/bin only env (/bin is Debian's link to usr/bin).
mount -t tmpfs -o mode=0755 usrbin /usr/bin
cp "$SIM_USERLAND/bin/dash" /usr/bin/sh
cp "$SIM_USERLAND/bin/env" /usr/bin/env

mkdir -p /run/sshd /nix/store /nix/var/nix/profiles /var/lib/nhs-sim/units /var/lib/nixos-home-server
chmod 0755 /run/sshd
: >/var/lib/nhs-sim/control
: >/var/lib/nhs-sim/journal
# Every user may log (journald's /dev/log socket); reading stays with root.
chmod 0622 /var/lib/nhs-sim/journal
: >/var/lib/nhs-sim/sshd.log

# sudo as NixOS configures it (nixos/modules/security/sudo.nix): no secure_path, so
# the caller's PATH survives; the rules themselves stay in sudoers.d for the faults.
cat >/etc/sudoers <<'SUDOERS'
Defaults env_keep+=SSH_AUTH_SOCK
root ALL=(ALL:ALL) SETENV: ALL
@includedir /etc/sudoers.d
SUDOERS
chmod 0440 /etc/sudoers

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
  printf '%s ALL=(ALL:ALL) NOPASSWD: SETENV: ALL\n' "$u" >"/etc/sudoers.d/nhs-$u"
  chmod 0440 "/etc/sudoers.d/nhs-$u"
done
# A generation without nixos-home-server's module leaves these (switch-to-configuration.sh).
mkdir -p "$SIM_INITIAL_ETC/sudoers.d" /etc/ssh/authorized_keys.d
cp -p /etc/sudoers.d/nhs-* "$SIM_INITIAL_ETC/sudoers.d/"
# '*' (not '!') so sshd without PAM still allows key logins for the deploy user.
usermod -p '*' deploy
printf 'admin:%s\n' "$password" | chpasswd

# A login shell's PATH on NixOS: the wrappers, then each profile's bin in the order
# of environment.profiles (see ../README.md).
login_path() {
  h=/home/$1
  [ "$1" = root ] && h=/root
  printf '/run/wrappers/bin:%s/.nix-profile/bin:/nix/profile/bin:/etc/profiles/per-user/%s/bin:/nix/var/nix/profiles/default/bin:/run/current-system/sw/bin' "$h" "$1"
}
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
# NixOS's services.openssh.authorizedKeysFiles: the user's own file, then the keys
# users.users.<name>.openssh.authorizedKeys declares.
AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys.d/%u
Subsystem sftp /usr/lib/openssh/sftp-server
Match User deploy
  SetEnv PATH=$(login_path deploy)
Match User admin
  PasswordAuthentication yes
  SetEnv PATH=$(login_path admin)
Match User root
  SetEnv PATH=$(login_path root)
CONF

initial=/var/lib/nhs-sim/initial
mkdir -p "$initial/nixos/hosts/$name"
printf '{ description = "initial generation of the simulated host %s"; outputs = _: { }; }\n' "$name" >"$initial/flake.nix"
printf 'units=sshd.service nginx.service\n' >"$initial/nixos/hosts/$name/sim.env"
"$SIM_REBUILD/bin/nixos-rebuild" switch --flake "$initial#$name" 2>/dev/null
ln -sfn "$(readlink /run/current-system)" /run/booted-system
