# Helpers for the benchmark scripts; source it after `set -euo pipefail`. It sets T (a
# temporary directory, removed on exit) and an EXIT trap that stops, by PID, every process
# appended to the `pids` array.
#
#   source "$root_dir/bench/lib.sh"
#   bench_init floor           # the name used in T's directory and in die's messages

bench_init() {
  bench_name=$1
  pids=()
  T=$(mktemp -d "${TMPDIR:-/tmp}/certward-$bench_name.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}

die() {
  echo "$bench_name: $*" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts `certward serve` on 127.0.0.1 (both listeners on free ports) with DATA_DIR and CONFIG,
# output in $T/serve.out and $T/serve.err, and waits until it serves. Sets cw_pid, cw_base (the
# HTTPS base URL) and cw_token (the one-time admin token, when the directory was new).
start_certward() {  # DATA_DIR CONFIG
  env CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0 CERTWARD_DATA_DIR="$1" \
    CERTWARD_CONFIG="$2" "$CERTWARD_BIN" serve >"$T/serve.out" 2>"$T/serve.err" &
  cw_pid=$!
  pids+=("$cw_pid")
  local _
  for _ in $(seq 1 300); do
    grep -q '^  plain HTTP' "$T/serve.out" 2>/dev/null && break
    kill -0 "$cw_pid" 2>/dev/null || die "certward serve exited early: $(cat "$T/serve.err")"
    sleep 0.05
  done
  cw_base=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$T/serve.out")
  [[ $cw_base == https://127.0.0.1:* ]] || die "certward is not on loopback: '$cw_base'"
  cw_token=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$T/serve.out" | head -1 || true)
}

# Stops the certward that start_certward started; a non-zero exit on SIGTERM is a failure.
stop_certward() {
  kill -TERM "$cw_pid"
  wait "$cw_pid" || die "certward serve exited non-zero on SIGTERM: $(tail -3 "$T/serve.err")"
}
