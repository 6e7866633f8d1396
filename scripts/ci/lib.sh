#!/bin/sh
# Shared by the CI step scripts (sourced, not run).

repo=$(cd "$(dirname "$0")/../.." && pwd)

# The project's pinned CLI, with its own PULUMI_HOME and no network for plugins.
pulumi() {
  npm run --silent --prefix "$repo" pulumi -- "$@"
}

# summary TITLE FILE STATUS: append a step result to the GitHub job summary, if any.
summary() {
  [ -n "${GITHUB_STEP_SUMMARY:-}" ] || return 0
  {
    printf '%s (exit %s)\n\n```\n' "$1" "$3"
    tail -n 200 "$2"
    printf '```\n'
  } >>"$GITHUB_STEP_SUMMARY"
}
