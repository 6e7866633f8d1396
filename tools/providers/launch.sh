#!/bin/sh
# launch.sh PROVIDER_DIR ARGS...: runs a stand-in provider as plain JavaScript. esbuild bundles the
# provider's own TypeScript (packages stay in node_modules) into PROVIDER_DIR/.build/index.js, again
# whenever any source under tools/providers is newer than the bundle, so it is never stale. Loading
# through tsx instead costs each plugin start about 0.2 s (tsx inspects every module required).
set -eu
dir=$1
shift
providers=$(dirname -- "$dir")
repo=$(cd -- "$providers/../.." && pwd -P)
out="$dir/.build/index.js"
if [ ! -f "$out" ] || [ -n "$(find "$providers" -name '*.ts' -newer "$out" | head -n 1)" ]; then
  mkdir -p -- "$dir/.build"
  # A temp file and mv: two engines may start the same plugin at once.
  tmp=$(mktemp "$out.XXXXXX")
  chmod 0644 "$tmp"
  trap 'rm -f -- "$tmp"' EXIT
  "$repo/node_modules/.bin/esbuild" "$dir/index.ts" --bundle --platform=node --packages=external \
    --target=node20 --log-level=warning --outfile="$tmp"
  mv -f -- "$tmp" "$out"
  trap - EXIT
fi
exec node "$out" "$@"
