#!/bin/sh
# Host-side receive: unpack a release tarball into releases/<hash> atomically, swap
# the current/previous symlinks, prune old releases.
#   receive.sh TARBALL HASH KEEP_RELEASES
#
# It is started by the dispatcher's `receive` verb (dispatch.sh; the program sends
# renderSyncBootstrap() of components/lib/remoteCommand.ts) after ConfigSync has
# uploaded the deterministic release .tar.gz to the SSH user's home (CopyToRemote,
# SFTP through the dispatcher's sftp verb). The root half copies it into a temp dir
# it removes on exit, unpacks only .nhs/receive.sh and .nhs/lib.sh, and runs this
# with HASH = sha256 of the .tar.gz and KEEP = N.
# The tarball's entries are relative paths without a leading "./" (".nhs/receive.sh",
# "flake.nix", "nixos/...").
set -eu
SCRIPT=receive
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

[ "$#" = 3 ] || usage_error "receive.sh TARBALL HASH KEEP_RELEASES"
tarball=$1
hash=$2
keep=$3
case "$keep" in
  '' | *[!0-9]*) usage_error "KEEP_RELEASES needs a whole number, got '$keep'" ;;
esac
case "$hash" in
  *[!0-9a-f]* | '') usage_error "HASH must be a lowercase hex sha256, got '$hash'" ;;
esac
[ "${#hash}" = 64 ] || usage_error "HASH must be 64 hex digits, got ${#hash}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -f "$tarball" ] || precondition "bad release: tarball $tarball does not exist"

releases=$BASE/releases
mkdir -p "$releases" "$STATE"
got=$(sha256sum "$tarball" | cut -d' ' -f1)
[ "$got" = "$hash" ] || precondition "bad release: sha256 of the received tarball is $got, expected $hash (transfer corrupted?)"

dest=$releases/$hash
if [ -d "$dest" ]; then
  log "release $hash already present"
else
  step "unpack $hash"
  rm -rf "$dest.tmp"
  mkdir "$dest.tmp"
  tar -xzf "$tarball" -C "$dest.tmp" || { rm -rf "$dest.tmp"; precondition "bad release: tarball does not unpack"; }
  [ -f "$dest.tmp/flake.nix" ] || { rm -rf "$dest.tmp"; precondition "bad release: no flake.nix in the tarball"; }
  mv -T "$dest.tmp" "$dest"
fi
# tar restores the archive's fixed mtime; pruning goes by arrival, so stamp it.
touch "$dest"

# swap LINK TARGET: replace a symlink atomically.
swap() {
  ln -sfn "$2" "$tmp/link"
  mv -T "$tmp/link" "$1"
}
cur=$(readlink "$BASE/current" 2>/dev/null || true)
if [ "$cur" != "releases/$hash" ]; then
  [ -z "$cur" ] || swap "$BASE/previous" "$cur"
  swap "$BASE/current" "releases/$hash"
  log "current -> releases/$hash${cur:+ (previous -> $cur)}"
fi

if [ "$keep" -gt 0 ]; then
  prev=$(readlink "$BASE/previous" 2>/dev/null || true)
  pend=$(kv "$PENDING" release)
  # Newest first; keep the KEEP newest plus current, previous and the pending one.
  for d in $(cd "$releases" && ls -1t); do
    case "$d" in *.tmp) continue ;; esac
    [ -d "$releases/$d" ] || continue
    keep=$((keep - 1))
    [ "$keep" -lt 0 ] || continue
    case "releases/$d" in "$cur" | "$prev" | "releases/$hash") continue ;; esac
    [ "$releases/$d" = "$pend" ] && continue
    log "pruning release $d"
    rm -rf "${releases:?}/$d"
  done
fi
EV_RELEASE=$hash EV_COMMIT="" sh "$dest/.nhs/event.sh" received ok "" "" "" "release $hash received" || true
result "status=ok release=$dest hash=$hash"
