#!/bin/sh
# The deploy key's forced command: runs only nixos-home-server's own verbs, with
# checked arguments, and logs every call (and every refusal) to the journal.
#
#   dispatch --key MARKER                 sshd's forced command (command= in
#                                          authorized_keys); the request is in
#                                          $SSH_ORIGINAL_COMMAND
#   dispatch VERB ARG...                  the same request from a login that has a
#                                          shell anyway (an admin, the test harness)
#   dispatch --run VERB ARG...            the root half, through `sudo -n` (the one
#                                          command the deploy user's sudo rule allows)
#
# A request is `[/var/lib/nixos-home-server/dispatch] VERB 'ARG' ...`: bare words of
# [A-Za-z0-9_./:=@+,-] or single-quoted words (' as '\''), exactly what the program's
# shellQuote renders. Anything else is refused before the shell sees it; a request
# of that shape is split with eval, which then only removes quotes.
#
# Verbs: receive HASH KEEP (the release ConfigSync uploaded by SFTP to the SSH user's
# home as .nhs-release-HASH.tar.gz) · deploy HASH ARGS · verify HASH
# ARGS · rollback [--to N] · status · generations [--keep N] · probe · secrets (the
# current release's .nhs/secrets.sh, stdin passed on) · authorize ED25519-BASE64
# [CIDRS] (replaces this key's own authorized_keys line; runs as the SSH user) ·
# switch-upstream COLOUR ADDR:PORT PATH (the blue-green proxy's traffic switch).
#
# The sftp subsystem: for a subsystem request sshd runs the forced command with
# SSH_ORIGINAL_COMMAND set to the configured subsystem command (NixOS:
# services.openssh.sftpServerExecutable, ${openssh}/libexec/sftp-server). An absolute
# path ending in /sftp-server, root-owned all the way up, is exec'd with an allow-list
# of requests: what CopyToRemote needs to upload one file (SFTP_REQUESTS), so the key
# can create and write files where the SSH user may, but not read, list, mkdir,
# rename, remove, symlink, link or chmod. Before that, the root half makes the files sshd and the
# login shell read for this user root-owned (protect), so an upload cannot replace
# them. `internal-sftp` cannot be exec'd, so it is refused.
set -eu
BASE=/var/lib/nixos-home-server
SELF=$BASE/dispatch
# NixOS first; nothing here relies on what a login shell or sudo passes on.
PATH=/run/wrappers/bin:/run/current-system/sw/bin:/usr/bin:/bin
export PATH
VERBS="receive deploy verify rollback status generations probe secrets authorize switch-upstream"
# Exactly what pulumi-command's CopyToRemote of one file sends (remote/copyController.go with
# pkg/sftp v1.13: INIT, then Stat, Create = open, writes, Close; no realpath, lstat, fstat, setstat
# or mkdir; tools/providers/README.md). Nothing that reads, lists, makes, moves or removes a name.
SFTP_REQUESTS=open,close,write,stat

key=""
root=0
case "${1:-}" in
  --key) key=${2:-}; shift 2 || shift "$#" ;;
  --run) root=1; shift ;;
esac
if [ "$root" = 1 ] && [ "${1:-}" = --key ]; then key=${2:-}; shift 2 || shift "$#"; fi
from=""
if [ "${1:-}" = --from ]; then from=${2:-}; shift 2 || shift "$#"; fi
caller=${SSH_CLIENT:-local}
caller=${caller%% *}
who=$(id -un 2>/dev/null || echo "uid-$(id -u)")

# audit PRIO MESSAGE: one journal line (tag nhs-dispatch, facility auth).
audit() {
  if ! logger -t nhs-dispatch -p "auth.$1" -- "$2" 2>/dev/null; then
    printf 'nhs-dispatch: warning: could not write the audit log (logger): %s\n' "$2" >&2
  fi
}

refuse() {
  audit warning "refused key=${key:-none} user=$who from=$caller: $1"
  printf 'nhs-dispatch: refused: %s\n' "$1" >&2
  printf 'nhs-result status=usage-error report=refused by the deploy key dispatcher: %s\n' "$1"
  exit 2
}

nl='
'
# one_line VALUE: refuse values with a newline (every verb's values are one line).
one_line() {
  case "$1" in *"$nl"*) refuse "arguments must be one line" ;; esac
}
safe_word() { # safe_word WHAT VALUE: [A-Za-z0-9_./:=@+,-]+ only
  case "$2" in '' | *[!A-Za-z0-9_./:=@+,-]*) refuse "$1 '$2' has characters outside [A-Za-z0-9_./:=@+,-]" ;; esac
}
hash_arg() {
  case "$1" in *[!0-9a-f]* | '') refuse "release hash must be 64 lowercase hex digits, got '$1'" ;; esac
  [ "${#1}" = 64 ] || refuse "release hash must be 64 lowercase hex digits, got '$1'"
}
int_arg() {
  case "$2" in '' | *[!0-9]*) refuse "$1 needs a whole number, got '$2'" ;; esac
}
release_of() { # release_of HASH: the unpacked release, or refuse
  [ -d "$BASE/releases/$1/.nhs" ] || refuse "release $1 is not on this host (receive it first)"
  printf '%s\n' "$BASE/releases/$1"
}

# check VERB ARG...: refuse anything but this tool's verbs with well-formed arguments.
# The scripts check their arguments again in detail; this keeps out every other command.
check() {
  verb=$1
  shift
  for a in "$@"; do one_line "$a"; done
  case "$verb" in
    receive)
      [ "$#" = 2 ] || refuse "receive takes HASH KEEP_RELEASES"
      hash_arg "$1"
      int_arg KEEP_RELEASES "$2"
      ;;
    deploy | verify)
      [ "$#" -ge 1 ] || refuse "$verb takes the release hash first"
      hash_arg "$1"
      h=$1
      shift
      while [ "$#" -gt 0 ]; do
        [ "$#" -ge 2 ] || refuse "$verb: $1 needs a value"
        case "$verb $1" in
          "deploy --name" | "deploy --mode" | "deploy --commit" | "verify --name" | "verify --unit" | "verify --journal") safe_word "$1" "$2" ;;
          "deploy --release") [ "$2" = "$BASE/releases/$h" ] || refuse "deploy: --release must be $BASE/releases/$h" ;;
          "deploy --confirm-timeout" | "deploy --activation-timeout" | "deploy --keep-generations" | "deploy --min-free-mb" | \
            "verify --retries" | "verify --interval" | "verify --timeout" | "verify --min-free-mb" | "verify --generation") int_arg "$1" "$2" ;;
          # A health check is the user's own check from stack config; it runs as root,
          # like everything the NixOS configuration itself declares.
          "verify --http" | "verify --command") ;;
          *) refuse "$verb: unknown argument '$1'" ;;
        esac
        shift 2
      done
      ;;
    rollback)
      case "$#:${1:-}" in
        0:) ;;
        2:--to) int_arg --to "$2" ;;
        *) refuse "rollback takes only [--to N]" ;;
      esac
      ;;
    generations)
      case "$#:${1:-}" in
        0:) ;;
        2:--keep) int_arg --keep "$2" ;;
        *) refuse "generations takes only [--keep N]" ;;
      esac
      ;;
    # secrets: the values come on stdin only, never as arguments.
    status | probe | secrets) [ "$#" = 0 ] || refuse "$verb takes no arguments" ;;
    authorize)
      case "$#" in 1 | 2) ;; *) refuse "authorize takes ED25519-BASE64 [CIDRS]" ;; esac
      case "$1" in AAAAC3NzaC1lZDI1NTE5AAAAI*) ;; *) refuse "authorize takes the base64 of an ssh-ed25519 public key" ;; esac
      case "$1" in *[!A-Za-z0-9+/=]*) refuse "authorize: the key is not base64" ;; esac
      [ "$#" = 1 ] || cidrs "$2"
      ;;
    switch-upstream)
      [ "$#" = 3 ] || refuse "switch-upstream takes COLOUR ADDR:PORT PATH"
      case "$1" in blue | green) ;; *) refuse "switch-upstream: colour must be blue or green, got '$1'" ;; esac
      case "$2" in '' | *[!A-Za-z0-9.:[\]-]* | *[!0-9]) refuse "switch-upstream: upstream must be HOST:PORT, got '$2'" ;; esac
      case "$3" in /*) ;; *) refuse "switch-upstream: path must start with /, got '$3'" ;; esac
      case "$3" in *[!A-Za-z0-9._~/-]*) refuse "switch-upstream: path has characters outside [A-Za-z0-9._~/-]: '$3'" ;; esac
      ;;
    *) refuse "this key runs only nixos-home-server's verbs ($VERBS), not '$verb'" ;;
  esac
}

# keys_lock DIR: ~/.ssh/.nhs-lock, taken by every writer of the user's authorized_keys
# (the bootstrap install, authorize) and by protect, so a read of the file never meets
# protect between its chown and chmod. Each holds it for milliseconds, so one older than
# a minute was left by a killed session (a dropped SSH connection's SIGHUP skips the EXIT
# trap) and is removed, or every verb's root half would wait on it. keys_unlock releases it.
keys_lock() {
  n=0
  until mkdir "$1/.nhs-lock" 2>/dev/null; do
    age=$(($(date +%s) - $(stat -c %Y "$1/.nhs-lock" 2>/dev/null || date +%s)))
    if [ "$age" -ge 60 ] && rmdir "$1/.nhs-lock" 2>/dev/null; then
      audit warning "removed a stale $1/.nhs-lock (${age}s old)"
      continue
    fi
    n=$((n + 1))
    [ "$n" -lt 300 ] || refuse "$1/.nhs-lock: another key install holds it (remove it if none is running)"
    sleep 0.1
  done
  lock=$1/.nhs-lock
}
keys_unlock() {
  [ -z "${lock:-}" ] || rmdir "$lock" 2>/dev/null || true
  lock=""
}

cidrs() { # cidrs LIST: comma-separated IPv4/IPv6 addresses or CIDRs
  case "$1" in '' | *[!0-9A-Fa-f.:/,]*) refuse "from= must be comma-separated addresses or CIDRs, got '$1'" ;; esac
}

# authorize BLOB [CIDRS]: the key rotation, as the SSH user: this key's marker gets
# the new key in the SSH user's authorized_keys, with the same restrictions. The
# dispatcher writes the line itself, so a key can only ever install a restricted key.
authorize() {
  [ -n "$key" ] || refuse "authorize works only through the deploy key's forced command"
  opts="restrict,command=\"$SELF --key $key${2:+ --from $2}\"${2:+,from=\"$2\"}"
  line="$opts ssh-ed25519 $1 $key"
  d=$HOME/.ssh
  f=$d/authorized_keys
  umask 077
  mkdir -p "$d"
  [ -f "$f" ] || : >"$f"
  keys_lock "$d"
  tmp=$(mktemp "$d/.authorized_keys.XXXXXX")
  trap 'rm -f "$tmp"; keys_unlock' EXIT
  # Keep every line but this marker's (other stacks' keys and the admins' stay).
  awk -v m="$key" '$NF != m' "$f" >"$tmp"
  printf '%s\n' "$line" >>"$tmp"
  state=present
  if ! cmp -s "$tmp" "$f"; then
    mv "$tmp" "$f"
    state=installed
    audit notice "authorized key=$key user=$who from=$caller key-blob=$(printf '%s' "$1" | cut -c1-24)..."
  fi
  rm -f "$tmp"
  # Released before the root half, whose protect takes it too.
  keys_unlock
  trap - EXIT
  root_half
  printf 'nhs-result status=ok login=deploy-key key=%s authorized=%s root=yes\n' "$key" "$state"
}

# root_half: the dispatcher's root half runs through sudo -n (the NixOS module's one rule).
root_half() {
  [ "$(id -u)" = 0 ] && return 0
  if ! sudo -n "$SELF" --run probe >/dev/null; then
    printf 'nhs-result status=failed report=%s may not run %s through sudo -n; the NixOS module grants exactly that (security.sudo.extraRules)\n' "$who" "$SELF"
    exit 1
  fi
}

# home_of_caller: the home of the user who called the root half through sudo (root's own
# when root runs it directly), from the user database, not from the caller's environment.
home_of_caller() {
  h=$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)
  case "$h" in /*) printf '%s\n' "$h" ;; *) refuse "no home directory for user ${SUDO_USER:-root}" ;; esac
}

# protect: the files sshd and the user's shell read for the SSH user are root's, so an
# SFTP upload as that user cannot replace them: ~/.ssh/authorized_keys (sshd's
# StrictModes accepts a root-owned file) and ~/.bashrc (NixOS builds bash with
# SSH_SOURCE_BASHRC: `bash -c` from sshd sources it, before the forced command). The SSH
# user's own writes (the bootstrap install, authorize) replace authorized_keys by rename
# in ~/.ssh, which SFTP cannot do, and the next root half makes it root's again.
protect() {
  [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] || return 0
  h=$(home_of_caller)
  if [ -d "$h/.ssh" ] && ! [ -L "$h/.ssh" ]; then
    keys_lock "$h/.ssh"
    trap keys_unlock EXIT
  fi
  # authorized_keys2: older NixOS lists it in AuthorizedKeysFile; an empty root-owned one
  # grants nothing, and an upload cannot create it. Only inside directories that exist.
  set --
  for f in "$h/.ssh/authorized_keys" "$h/.ssh/authorized_keys2" "$h/.bashrc"; do
    if [ -L "$f" ]; then rm -f "$f"; fi
    if ! [ -e "$f" ] && [ -d "${f%/*}" ]; then : >"$f"; fi
    if [ -f "$f" ]; then set -- "$@" "$f"; fi
  done
  # Readable by its user at every step: 0644 first, then root's. One call each for all
  # three: this runs before every root half.
  if [ $# -gt 0 ]; then
    chmod 0644 "$@"
    chown 0:0 "$@"
  fi
  keys_unlock
  trap - EXIT
}

# sftp PATH: the subsystem sshd configured, as the SSH user, limited to SFTP_REQUESTS.
sftp() {
  p=$1
  case "$p" in
    /*/sftp-server) ;;
    *) refuse "the sftp subsystem must be an absolute path to sftp-server, got '$p'" ;;
  esac
  case "$p" in *[!A-Za-z0-9_./+-]* | */./* | */../*) refuse "the sftp subsystem path '$p' is not a plain absolute path" ;; esac
  # Root's binary in root's directories: never a file the SSH user could have uploaded.
  d=$p
  while [ -n "$d" ]; do
    if ! [ -e "$d" ] || [ "$(stat -c %u "$d")" != 0 ]; then refuse "the sftp subsystem $p: $d is not root's"; fi
    d=${d%/*}
  done
  if ! [ -f "$p" ] || ! [ -x "$p" ]; then refuse "the sftp subsystem $p is not an executable file"; fi
  case "$(stat -c %A "$p")" in ?????w???? | ????????w?) refuse "the sftp subsystem $p is writable by others" ;; esac
  root_half
  audit notice "verb=sftp requests=$SFTP_REQUESTS key=${key:-none} user=$who from=$caller"
  exec "$p" -p "$SFTP_REQUESTS" -f AUTH -l INFO
}

# run VERB ARG...: the root half. Checks again: sudo lets the deploy user call it directly.
run() {
  verb=$1
  shift
  check "$verb" "$@"
  protect
  case "$verb" in
    receive)
      # The upload is the SSH user's file: copied as root into a root-owned temp dir, so
      # the file checked is the file unpacked; never followed through a symlink.
      up="$(home_of_caller)/.nhs-release-$1.tar.gz"
      if ! [ -f "$up" ] || [ -L "$up" ]; then refuse "no uploaded release $up (ConfigSync uploads it first)"; fi
      mkdir -p "$BASE/tmp"
      tmp=$(mktemp -d "$BASE/tmp/sync.XXXXXX")
      trap 'rm -rf "$tmp"' EXIT
      cat <"$up" >"$tmp/release.tar.gz"
      tar -xzf "$tmp/release.tar.gz" -C "$tmp" .nhs/receive.sh .nhs/lib.sh
      sh "$tmp/.nhs/receive.sh" "$tmp/release.tar.gz" "$1" "$2"
      # Keep this upload (a rerun after an interrupted up finds it), drop older ones.
      for f in "${up%/*}"/.nhs-release-*.tar.gz; do
        [ "$f" = "$up" ] || rm -f "$f"
      done
      ;;
    deploy | verify)
      r=$(release_of "$1")
      shift
      [ -f "$r/.nhs/$verb.sh" ] || refuse "release $r has no .nhs/$verb.sh"
      exec sh "$r/.nhs/$verb.sh" "$@"
      ;;
    rollback | status | generations | secrets | switch-upstream)
      [ -f "$BASE/current/.nhs/$verb.sh" ] || refuse "no release is current on this host yet"
      exec sh "$BASE/current/.nhs/$verb.sh" "$@"
      ;;
    probe) printf 'nhs-result status=ok login=deploy-key key=%s root=yes\n' "${key:-none}" ;;
  esac
}

if [ "$root" = 1 ]; then
  [ "$(id -u)" = 0 ] || refuse "--run is the root half; call it through sudo"
  [ "$#" -ge 1 ] || refuse "no verb given"
  run "$@"
  exit
fi

if [ -n "$key" ]; then
  # sshd's forced command: the client's command line is only a request.
  if [ -n "$from" ]; then cidrs "$from"; fi
  case "$key" in '' | *[!A-Za-z0-9@_./-]*) refuse "bad --key marker" ;; esac
  req=${SSH_ORIGINAL_COMMAND-}
  [ -n "$req" ] || refuse "no interactive shell for the deploy key; it runs only: $VERBS"
  one_line "$req"
  # The subsystem's command line is the configured path and its flags (sshd_config
  # Subsystem; NixOS appends services.openssh.sftpFlags): the flags are dropped, the
  # dispatcher sets its own.
  case "$req" in
    */sftp-server | */sftp-server\ *) sftp "${req%% *}" ;;
    internal-sftp*) refuse "internal-sftp cannot run under a forced command; set services.openssh.sftpServerExecutable to sftp-server" ;;
  esac
  word="([A-Za-z0-9_./:=@+,-]+|'[^']*'(\\\\''[^']*')*)"
  if ! printf '%s\n' "$req" | LC_ALL=C grep -Eqx "[a-z][a-z-]*( +$word)*|$SELF +[a-z][a-z-]*( +$word)*"; then
    refuse "only '[$SELF] VERB 'ARG'...' requests are accepted, got: $(printf '%s' "$req" | cut -c1-80)"
  fi
  eval "set -- $req"
  [ "$1" != "$SELF" ] || shift
fi
[ "$#" -ge 1 ] || refuse "no verb given; verbs: $VERBS"
check "$@"
case "$1" in
  deploy | verify | receive) rel=$2 ;;
  *) rel=$(readlink "$BASE/current" 2>/dev/null || echo none); rel=${rel##*/} ;;
esac
audit notice "verb=$1 release=$rel key=${key:-none} user=$who from=$caller"
if [ "$1" = authorize ]; then
  shift
  authorize "$@"
elif [ "$(id -u)" = 0 ]; then
  run "$@"
elif [ "$1" = probe ]; then
  # The login works; prove the root half does too, and say which key this is.
  root_half
  printf 'nhs-result status=ok login=deploy-key key=%s root=yes\n' "${key:-none}"
else
  exec sudo -n "$SELF" --run "$@"
fi
