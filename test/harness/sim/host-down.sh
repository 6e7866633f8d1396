#!/bin/sh
# Removes one simulated host (or a leftover of a killed run): kills every process
# in its network namespace, deletes the namespace (and its veth), releases the
# mount namespace and deletes the host's directory. Safe to run twice.
#   host-down.sh NAME HOSTDIR NSFILE
set -eu
name=$1
dir=$2
nsfile=$3
netns=nhs-$name

if [ -e "/run/netns/$netns" ]; then
  for round in 1 2 3; do
    pids=$(ip netns pids "$netns" 2>/dev/null || true)
    [ -n "$pids" ] || break
    sig=TERM
    [ "$round" = 1 ] || sig=KILL
    for p in $pids; do kill "-$sig" "$p" 2>/dev/null || true; done
    sleep 0.2
  done
  ip netns del "$netns" 2>/dev/null || true
fi
if [ -e "$nsfile" ]; then
  umount "$nsfile" 2>/dev/null || umount -l "$nsfile" 2>/dev/null || true
  rm -f "$nsfile"
fi
case "$dir" in
  */nhs-hosts/*) rm -rf "$dir" ;;
esac
