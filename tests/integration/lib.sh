# Shared helpers for the integration tests. Each test sources this file, gets a private
# temporary directory ($T) removed on exit, and drives the real certward binary ($CW).
set -euo pipefail

: "${CERTWARD_BIN:?CERTWARD_BIN must point at the certward binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-it.XXXXXX")
cleanup() {
  local pid i
  for pid in ${CW_BACKGROUND_PIDS:-}; do kill "$pid" 2>/dev/null || true; done
  # A peer that is still winding down (knotd saving its timers) writes into $T: wait for each
  # to be gone, a few seconds at most, before removing the directory under it.
  for pid in ${CW_BACKGROUND_PIDS:-}; do
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
  rm -rf "$T" 2>/dev/null || { sleep 0.5; rm -rf "$T"; }
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

# Runs a command that must fail: exit code $1, stable error code $2 (the REST API's codes).
# Runs it twice: as given (one "certward: ..." line on stderr) and with --json (the code from
# {"error":{"code":...}} on stderr, or from the first failed item of an import report).
assert_fails() {
  local want=$1 code=$2 msg=$3
  shift 3
  assert_exit "$want" "$msg" "$@"
  local rc=0
  "$@" --json >"$T/out" 2>"$T/err" || rc=$?
  local got
  if [[ -s $T/err ]]; then
    got=$(jq -r '.error.code' "$T/err" 2>/dev/null || echo "not JSON: $(head -c 200 "$T/err")")
  else
    got=$(jq -r '[.items[]? | select(.error) | .error.code][0]' "$T/out" 2>/dev/null || echo "no error")
  fi
  assert_eq "$want/$code" "$rc/$got" "$msg (--json)"
}

# Waits for the server's write transactions (background jobs write too) instead of failing.
db_scalar() { sqlite3 -cmd ".timeout 10000" "$CERTWARD_DATA_DIR/certward.db" "$1"; }

# A snapshot of everything a failed command must not have changed.
# Counts (certificates/audit events/authorities), then the audit chain's head hash and a digest
# of every certificate row's mutable columns, so an update in place shows too.
state() {
  local counts digest
  counts=$(db_scalar "SELECT (SELECT COUNT(*) FROM certificates) || '/' || (SELECT COUNT(*) FROM audit_events) || '/' || (SELECT COUNT(*) FROM authorities)")
  digest=$(db_scalar "SELECT (SELECT hash FROM audit_head WHERE id = 1);
    SELECT fingerprint, origin, authority, profile, owner, team, tags, revoked_at, superseded_by FROM certificates ORDER BY fingerprint;
    SELECT name, kind, parent FROM authorities ORDER BY name;" | sha256sum | cut -c1-16)
  echo "$counts/$digest"
}

# Numeric $2 < $1 (fractions allowed, e.g. curl's %{time_total}).
assert_below() {  # limit actual message
  if awk -v a="$2" -v l="$1" 'BEGIN { exit !(a < l) }'; then pass; else fail "$3: $2, want below $1"; fi
}

# Runs a command every 0.1 s until it succeeds; fails once $1 seconds have passed.
wait_until() {  # seconds command...
  local end=$(($(date +%s%N) + $1 * 1000000000))
  shift
  until "$@"; do
    (($(date +%s%N) < end)) || return 1
    sleep 0.1
  done
}

# A free loopback port, for a listener whose address must be known before the server starts
# (certificates name the plain-HTTP listener in their CRL distribution point and OCSP URL).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# free_ports N: N distinct free loopback ports, held open together while they are chosen (two
# free_port calls in a row may return the same port).
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

finish() {
  echo "$checks passed, $failures failed"
  [[ $failures == 0 ]]
}

# start_softhsm LABEL PIN: a SoftHSM2 token in $T/hsm (tokens in $T/hsm/tokens) with its own
# configuration, exported as SOFTHSM2_CONF for certward and the test's own tools.
start_softhsm() {
  mkdir -p "$T/hsm/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T/hsm/tokens" >"$T/hsm/softhsm2.conf"
  export SOFTHSM2_CONF=$T/hsm/softhsm2.conf
  softhsm2-util --init-token --free --label "$1" --so-pin "so-$2" --pin "$2" >/dev/null
}

# Starts `certward serve` on free loopback ports (port 0) and waits until it listens.
# Sets SERVER_PID, BASE (https URL), HTTP_BASE, ADMIN_TOKEN (if printed), and writes the
# root CA to $T/root.pem. Extra environment can be passed as arguments (VAR=value ...).
start_server() {
  : >"$T/serve.out"
  env CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0 "$@" \
    "$CERTWARD_BIN" serve >"$T/serve.out" 2>"$T/serve.err" &
  SERVER_PID=$!
  CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $SERVER_PID"
  local i
  for i in $(seq 1 200); do
    grep -q '^  plain HTTP' "$T/serve.out" 2>/dev/null && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "certward serve exited early:" >&2
      cat "$T/serve.err" >&2
      return 1
    fi
    sleep 0.05
  done
  BASE=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$T/serve.out")
  HTTP_BASE=$(sed -n 's/^  plain HTTP: *\(http:[^ ]*\)\/healthz .*/\1/p' "$T/serve.out")
  ADMIN_TOKEN=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$T/serve.out" | head -1 || true)
  [[ -n $BASE && -n $HTTP_BASE ]] || { echo "no listen address in serve output" >&2; cat "$T/serve.out" >&2; return 1; }
  "$CERTWARD_BIN" ca export root >"$T/root.pem"
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local rc=0
  wait "$SERVER_PID" || rc=$?
  CW_BACKGROUND_PIDS=${CW_BACKGROUND_PIDS//$SERVER_PID/}
  return $rc
}

# api METHOD PATH [TOKEN] [BODY] -> prints the status code; the body is in $T/resp.
api() {
  local method=$1 path=$2 token=${3:-} body=${4:-}
  local args=(-s -o "$T/resp" -w '%{http_code}' --cacert "$T/root.pem" -X "$method")
  [[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  curl "${args[@]}" "$BASE$path"
}

# credential BODY: makes an enrollment credential (a setup call, as must) and sets ID and
# SECRET, the secret shown once.
credential() {
  must 201 POST /api/v1/enrollment/credentials "$1"
  ID=$(jq -r .id "$T/resp")
  SECRET=$(jq -r .secret "$T/resp")
}

# must STATUS METHOD PATH [BODY]: a setup call with the token in $A that must answer STATUS;
# anything else stops the test (what it sets up is not what it tests).
must() {
  local got
  got=$(api "$2" "$3" "$A" "${4:-}")
  [[ $got == "$1" ]] || { echo "setup failed: $2 $3 -> $got: $(cat "$T/resp")" >&2; exit 1; }
}

# managed_next_fp NAME [OLD]: waits (60 s at most) until managed certificate NAME is active with a
# certificate other than OLD, as the local CLI reads it; prints its fingerprint.
managed_next_fp() {
  local i fp
  for ((i = 0; i < 600; i++)); do
    fp=$("$CERTWARD_BIN" --json managed show "$1" 2>/dev/null |
      jq -r 'select(.state == "active") | .fingerprint // empty')
    [[ -n $fp && $fp != "${2:-}" ]] && { echo "$fp"; return 0; }
    sleep 0.1
  done
  return 1
}
