#!/usr/bin/env bash
# with-postgres.sh <command> [args...]
# Runs <command> against a throwaway PostgreSQL (scripts/pg-test-server.sh) with
# CERTWARD_TEST_POSTGRES_URL and CERTWARD_REQUIRE_POSTGRES=1 exported, stops the server
# afterwards whatever happens, and exits with the command's status.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 <command> [args...]" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/certward-pg.XXXXXX")
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  "$here/pg-test-server.sh" stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

url=$("$here/pg-test-server.sh" start "$dir")
export CERTWARD_TEST_POSTGRES_URL="$url"
export CERTWARD_REQUIRE_POSTGRES=1

status=0
"$@" || status=$?
exit "$status"
