#!/bin/sh
# Shared by the CI step scripts (sourced, not run).

repo=$(cd "$(dirname "$0")/../.." && pwd)

# The project's pinned CLI, with its own PULUMI_HOME and no network for plugins.
pulumi() {
  npm run --silent --prefix "$repo" pulumi -- "$@"
}

# summarized TITLE PULUMI_ARGS...: run pulumi, show its output, append the tail of it to
# the GitHub job summary (if any), and exit with pulumi's status.
summarized() {
  title=$1
  shift
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
  status=0
  pulumi "$@" >"$out" 2>&1 || status=$?
  cat "$out"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    {
      printf '%s (exit %s)\n\n```\n' "$title" "$status"
      tail -n 200 "$out"
      printf '```\n'
    } >>"$GITHUB_STEP_SUMMARY"
  fi
  exit "$status"
}
