# Shared helpers for the integration tests. Each test sources this file, gets a private
# temporary directory ($T) removed on exit, and drives the real certward binary ($CW).
set -euo pipefail

: "${CERTWARD_BIN:?CERTWARD_BIN must point at the certward binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-it.XXXXXX")
cleanup() {
  local pid
  for pid in ${CW_BACKGROUND_PIDS:-}; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
export CERTWARD_DATA_DIR="$T/data"
unset CERTWARD_MASTER_KEY CERTWARD_CONFIG CERTWARD_DATABASE_DRIVER CERTWARD_DATABASE_URL || true

cw() { "$CERTWARD_BIN" "$@"; }

failures=0
checks=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { checks=$((checks + 1)); }

assert_eq() {  # expected actual message
  if [[ "$1" == "$2" ]]; then pass; else fail "$3: expected '$1', got '$2'"; fi
}

# Runs a command that must fail with exit code $1 and a one-line message on stderr.
assert_exit() {
  local want=$1 msg=$2
  shift 2
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [[ $rc != "$want" ]]; then
    fail "$msg: exit $rc, want $want (stderr: $(head -c 300 "$T/err"))"
    return
  fi
  if [[ $want != 0 ]]; then
    local lines
    lines=$(wc -l <"$T/err")
    if [[ $lines != 1 ]] || ! grep -q '^certward: ' "$T/err"; then
      fail "$msg: want one 'certward: ...' line on stderr, got $lines: $(head -c 300 "$T/err")"
      return
    fi
  fi
  pass
}

db_scalar() { sqlite3 "$CERTWARD_DATA_DIR/certward.db" "$1"; }

# A snapshot of everything a failed command must not have changed.
state() {
  db_scalar "SELECT (SELECT COUNT(*) FROM certificates) || '/' || (SELECT COUNT(*) FROM audit_events) || '/' || (SELECT COUNT(*) FROM authorities)"
}

finish() {
  echo "$checks passed, $failures failed"
  [[ $failures == 0 ]]
}
