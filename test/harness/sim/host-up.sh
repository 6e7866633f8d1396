#!/bin/sh
# Creates one simulated NixOS host: network namespace nhs-NAME (address
# 10.231.IDX.2, reached from the root namespace over a veth pair), a persistent
# mount namespace with the host's private views, then boots it (host-init.sh).
#   host-up.sh NAME IDX HOSTDIR NSFILE CLIENT_PUBKEY_FILE BOOTSTRAP_PASSWORD_FILE [no-deploy-key]
set -eu
name=$1
idx=$2
dir=$3
nsfile=$4
pubkey=$5
pwfile=$6
deploy_key=${7:-with-deploy-key}
here=$(dirname "$(readlink -f "$0")")
netns=nhs-$name

mkdir -p "$dir/etc-upper" "$dir/etc-work" "$dir/varlib-upper" "$dir/varlib-work" "$dir/home" "$dir/bin"
mkdir -p /nix /var/lib /home
# Copies, not links: the host mounts its own /tmp and /run, which would hide a checkout
# (or a CI clone) that lives under either of them. host-init.sh puts them in the store.
cp "$here"/*.sh "$dir/bin/"

# The namespace files must live on a private mount, or the kernel refuses to bind
# a mount namespace onto them.
nsdir=$(dirname "$nsfile")
mkdir -p "$nsdir"
if ! mountpoint -q "$nsdir"; then
  mount --bind "$nsdir" "$nsdir"
  mount --make-private "$nsdir"
fi
touch "$nsfile"
unshare --mount="$nsfile" --propagation private true

ip netns add "$netns"
ip link add "nhs${idx}h" type veth peer name "nhs${idx}g"
ip link set "nhs${idx}g" netns "$netns"
ip addr add "10.231.$idx.1/24" dev "nhs${idx}h"
ip link set "nhs${idx}h" up
ip -n "$netns" link set "nhs${idx}g" name eth0
ip -n "$netns" addr add "10.231.$idx.2/24" dev eth0
ip -n "$netns" link set eth0 up
ip -n "$netns" link set lo up
# A home LAN: the simulated hosts reach each other's 10.231.x.2 (a blue-green proxy its
# colours) through the root namespace, which forwards only between these veths
# (per-interface forwarding; the global ip_forward stays as it is). No default route:
# nothing else is reachable.
sysctl -q -w "net.ipv4.conf.nhs${idx}h.forwarding=1"
ip -n "$netns" route add 10.231.0.0/16 via "10.231.$idx.1"

nsenter --mount="$nsfile" --net="/run/netns/$netns" sh "$dir/bin/host-init.sh" "$name" "$dir" "$pubkey" "$pwfile" "$deploy_key"
