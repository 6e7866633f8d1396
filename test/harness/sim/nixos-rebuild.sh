#!/bin/sh
# Simulated nixos-rebuild: switch|boot|test|dry-activate|build --flake DIR#NAME,
# --rollback, list-generations. "Building" makes a fake store path whose name is a
# hash of the release tree, the host name and the generation's faults, so the same
# release always yields the same path.
#
# What a generation does comes from the release itself, in
# DIR/nixos/hosts/NAME/sim.env (key=value):
#   units=sshd.service nginx.service     services the generation runs
#   faults=a,b                           generation faults (below)
#   proxy=PORT                           nixos/services/proxy.nix is on: nginx.service is
#                                        a real nginx proxying to the blue-green upstream
# plus the host's control file key build_faults=a,b (set by the test harness).
# Faults: activate-fails (switch-to-configuration fails after the profile moved),
# unit-fails:UNIT (the unit crashes after the switch), breaks-ssh (nothing accepts
# SSH connections), slow-activation:SEC, restarts-sshd (the switch restarts sshd).
# The control key switch_delay=SEC slows every switch on the host (not a generation's). They belong to the generation, so they
# vanish when the host switches back to an older one.
set -eu
# Run by full path from $SIM_PKG (host-init.sh's wrappers): no readlink or dirname per call.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

mode=""
flake=""
rollback=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    switch | boot | test | dry-activate | build | list-generations) mode=$1 ;;
    --flake) flake=$2; shift ;;
    --rollback) rollback=1 ;;
    -v | --verbose | --fast | --no-build-nix | -L | --print-build-logs) ;;
    *) sim_log "error: unknown argument '$1' (simulated nixos-rebuild)"; exit 1 ;;
  esac
  shift
done
[ -n "$mode" ] || { sim_log "Usage: nixos-rebuild [switch|boot|test|dry-activate|build|list-generations] --flake DIR#NAME"; exit 1; }

# proxy_nginx_conf PORT: the nginx.conf nixos/services/proxy.nix renders through nixpkgs'
# nginx module (pid, error_log, daemon off; the include before the virtual host; the
# proxy location and its headers), with the simulator's log and temp paths. Keep in
# step with proxy.nix (test/unit/nix.test.ts compares the two).
proxy_nginx_conf() {
  cat <<CONF
pid /run/nginx/nginx.pid;
error_log $SIM_STATE/nginx-error.log;
daemon off;
user nobody nogroup;
events {
}
http {
  access_log $SIM_STATE/nginx-access.log;
  client_body_temp_path $SIM_STATE/nginx/client_body;
  proxy_temp_path $SIM_STATE/nginx/proxy;
  fastcgi_temp_path $SIM_STATE/nginx/fastcgi;
  uwsgi_temp_path $SIM_STATE/nginx/uwsgi;
  scgi_temp_path $SIM_STATE/nginx/scgi;
  include /var/lib/nixos-home-server/proxy/upstream.conf;
  server {
    listen 0.0.0.0:$1 default_server;
    server_name nhs-proxy;
    location / {
      proxy_pass http://nhs_bluegreen;
      add_header X-NHS-Colour \$nhs_colour always;
      add_header X-NHS-Upstream \$upstream_addr always;
    }
  }
}
CONF
}

if [ "$mode" = list-generations ]; then
  c=$(current_generation)
  for l in "$SIM_PROFILE"-*-link; do
    [ -L "$l" ] || continue
    n=${l#"$SIM_PROFILE"-}
    n=${n%-link}
    mark=""
    [ "$n" = "$c" ] && mark=" current"
    printf '%s %s %s%s\n' "$n" "$(date -r "$l" '+%Y-%m-%d %H:%M:%S')" "$(readlink "$l")" "$mark"
  done | sort -n
  exit 0
fi

if [ "$rollback" = 1 ]; then
  nix-env -p "$SIM_PROFILE" --rollback
  [ "$mode" = test ] && exec "$(readlink -f "$SIM_PROFILE")/bin/switch-to-configuration" test
  exec "$SIM_PROFILE/bin/switch-to-configuration" "$mode"
fi

[ -n "$flake" ] || { sim_log "error: --flake DIR#NAME is required (simulator)"; exit 1; }
dir=${flake%%#*}
name=${flake#*#}
[ "$name" != "$flake" ] || { sim_log "error: flake reference '$flake' names no configuration"; exit 1; }
if [ ! -f "$dir/flake.nix" ]; then
  sim_log "error: path '$dir/flake.nix' does not exist"
  exit 1
fi
if [ ! -d "$dir/nixos/hosts/$name" ]; then
  sim_log "error: flake 'path:$dir' does not provide attribute 'nixosConfigurations.\"$name\".config.system.build.toplevel'"
  exit 1
fi

simenv=$dir/nixos/hosts/$name/sim.env
units=$(kv "$simenv" units)
[ -n "$units" ] || units="sshd.service nginx.service"
faults=$(kv "$simenv" faults)
proxy=$(kv "$simenv" proxy)
extra=$(control build_faults)
[ -n "$extra" ] && faults="${faults:+$faults,}$extra"

sim_log "building the system configuration..."
hash=$( (cd "$dir" && find . -type f ! -path './.nhs/*' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  printf '%s\n%s\n%s\n' "$name" "$units" "$faults") | sha256sum | cut -c1-32)
store=/nix/store/$hash-nixos-system-$name-26.05.sim
if [ ! -d "$store" ]; then
  mkdir -p "$store.tmp/bin"
  printf '#!/bin/sh\nPATH=%s; export PATH\nexec sh %s/switch-to-configuration.sh "%s" "$@"\n' "$SIM_PATH" "$SIM_PKG" "$store" >"$store.tmp/bin/switch-to-configuration"
  ln -s "$SIM_SW" "$store.tmp/sw"
  chmod 0755 "$store.tmp/bin/switch-to-configuration"
  printf '%s\n' "$units" >"$store.tmp/units"
  printf '%s\n' "$faults" >"$store.tmp/faults"
  if [ -n "$proxy" ]; then
    # What proxy.nix makes of services.nginx, in its own content-addressed store path
    # (like the module's configFile), so an unchanged config keeps nginx running.
    conf=$(proxy_nginx_conf "$proxy")
    cpath=/nix/store/$(printf '%s' "$conf" | sha256sum | cut -c1-32)-nginx.conf
    [ -f "$cpath" ] || printf '%s\n' "$conf" >"$cpath"
    printf '%s %s\n' "$proxy" "$cpath" >"$store.tmp/proxy"
  fi
  printf '26.05.sim\n' >"$store.tmp/nixos-version"
  # What nixos/users.nix makes of the release's nixos/generated/deploy.json (the
  # simulator evaluates no Nix): the key in authorized_keys.d, the one sudo rule, and
  # the dispatcher as a store path (see access() in switch-to-configuration.sh).
  json=$dir/nixos/generated/deploy.json
  if [ -f "$json" ] && [ -f "$dir/.nhs/dispatch.sh" ]; then
    mkdir -p "$store.tmp/access"
    sed -n 's/^  "user": "\(.*\)",*$/\1/p' "$json" >"$store.tmp/access/user"
    sed -n 's/^  "authorizedKey": "\(.*\)",*$/\1/p' "$json" | sed 's/\\"/"/g; s/\\\\/\\/g' >"$store.tmp/access/keys"
    cp "$dir/.nhs/dispatch.sh" "$store.tmp/access/dispatch"
    chmod 0555 "$store.tmp/access/dispatch"
  fi
  mv -T "$store.tmp" "$store"
fi

case "$mode" in
  build) printf '%s\n' "$store" ;;
  switch | boot)
    nix-env -p "$SIM_PROFILE" --set "$store"
    exec "$store/bin/switch-to-configuration" "$mode"
    ;;
  test | dry-activate) exec "$store/bin/switch-to-configuration" "$mode" ;;
esac
