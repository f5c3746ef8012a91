# Shared by the managed-certificate tests with real peers (managed_nginx_test.sh,
# managed_ssh_test.sh): an nginx on 127.0.0.1 whose server blocks read their certificates from
# files certward deploys, what it serves read with `openssl s_client` (never with certward's
# own code), and helpers for managed certificates through the REST API.
#
# Peers are started once per test file, from its temporary directory, and stopped by PID.
source "$(dirname "$0")/lib.sh"

for tool in openssl jq curl python3 sqlite3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
NGINX_BIN=/usr/sbin/nginx
[[ -x $NGINX_BIN ]] || { echo "missing $NGINX_BIN" >&2; exit 1; }

PEER_PIDS=()
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_peers() {
  local pid
  for pid in "${PEER_PIDS[@]}"; do stop_pid "$pid"; done
}
trap 'stop_peers; cleanup' EXIT

# The SHA-256 of a PEM certificate file's first certificate, lower-case hex as the API writes it.
file_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2 | tr -d : | tr A-F a-f; }
# What nginx serves for SNI $1: the leaf's SHA-256, by a real handshake.
served_fp() {
  openssl s_client -connect "127.0.0.1:$NGINX_PORT" -servername "$1" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2 | tr -d : | tr A-F a-f
}
served_serial() {
  openssl s_client -connect "127.0.0.1:$NGINX_PORT" -servername "$1" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
# nginx applies a reload in its own time (old workers finish first): waits until SNI $1
# serves $2.
serves() { wait_until "${3:-10}" bash -c "[[ \$(openssl s_client -connect 127.0.0.1:$NGINX_PORT -servername '$1' </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2 | tr -d : | tr A-F a-f) == '$2' ]]"; }
# Whether key file $1 holds the key of certificate file $2.
key_matches() {
  [[ "$(openssl pkey -in "$1" -pubout 2>/dev/null)" == "$(openssl x509 -in "$2" -noout -pubkey)" ]]
}

# A self-signed P-256 certificate for $1 (a DNS name) as $2.key and $2.crt: what a server has
# before certward manages it.
self_signed() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
    -addext "subjectAltName=DNS:$1" -keyout "$2.key" -out "$2.crt" 2>/dev/null
  chmod 600 "$2.key"
}

# start_nginx DIR NAME=FILES-PREFIX...: nginx on a free port of 127.0.0.1 with one TLS server
# block per NAME, whose key and full chain are FILES-PREFIX.key and FILES-PREFIX.crt (a
# self-signed certificate is put there first), and a default server for other.example.test.
# Sets NGINX_PORT, NGINX_PREFIX, NGINX_CONF, NGINX_RELOAD (the reload argv as JSON).
start_nginx() {
  NGINX_PREFIX=$1
  shift
  mkdir -p "$NGINX_PREFIX/logs"
  NGINX_PORT=$(free_port)
  NGINX_CONF=$NGINX_PREFIX/nginx.conf
  self_signed other.example.test "$NGINX_PREFIX/other"
  {
    echo "daemon off;"
    echo "pid $NGINX_PREFIX/nginx.pid;"
    echo "error_log $NGINX_PREFIX/logs/error.log;"
    echo "worker_processes 1;"
    echo "events { worker_connections 64; }"
    echo "http {"
    echo "  access_log off;"
    local t
    for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $NGINX_PREFIX/tmp-$t;"; done
    echo "  server {"
    echo "    listen 127.0.0.1:$NGINX_PORT ssl default_server;"
    echo "    server_name other.example.test;"
    echo "    ssl_certificate $NGINX_PREFIX/other.crt;"
    echo "    ssl_certificate_key $NGINX_PREFIX/other.key;"
    echo "    return 204;"
    echo "  }"
    local spec name files
    for spec in "$@"; do
      name=${spec%%=*} files=${spec#*=}
      [[ -s $files.crt ]] || self_signed "$name" "$files"
      echo "  server {"
      echo "    listen 127.0.0.1:$NGINX_PORT ssl;"
      echo "    server_name $name;"
      echo "    ssl_certificate $files.crt;"
      echo "    ssl_certificate_key $files.key;"
      echo "    return 204;"
      echo "  }"
    done
    echo "}"
  } >"$NGINX_CONF"
  "$NGINX_BIN" -p "$NGINX_PREFIX" -e "$NGINX_PREFIX/logs/error.log" -c "$NGINX_CONF" \
    >"$NGINX_PREFIX/logs/nginx.out" 2>&1 &
  NGINX_PID=$!
  PEER_PIDS+=("$NGINX_PID")
  if ! wait_until 10 bash -c "openssl s_client -connect 127.0.0.1:$NGINX_PORT </dev/null >/dev/null 2>&1"; then
    echo "nginx did not start:" >&2
    cat "$NGINX_PREFIX/logs/nginx.out" "$NGINX_PREFIX/logs/error.log" >&2 2>/dev/null
    exit 1
  fi
  NGINX_RELOAD=$(jq -nc --arg n "$NGINX_BIN" --arg p "$NGINX_PREFIX" --arg c "$NGINX_CONF" \
    '[$n, "-p", $p, "-e", ($p + "/logs/error.log"), "-c", $c, "-s", "reload"]')
}

# Managed certificates through the REST API, with the admin token in $A.
managed_field() { api GET "/api/v1/managed/$1" "$A" >/dev/null && jq -r ".$2" "$T/resp"; }
in_state() { [[ "$(managed_field "$1" state)" == "$2" ]]; }
deployed() { [[ "$(managed_field "$1" deployed)" == true && "$(managed_field "$1" state)" == active ]]; }
# The kinds of its timeline, oldest first, space-separated.
timeline_kinds() {
  api GET "/api/v1/managed/$1/timeline?limit=200" "$A" >/dev/null
  jq -r '[.items[].kind] | join(" ")' "$T/resp"
}
# The timeline as JSON (the items), in $T/timeline.json.
timeline_json() {
  api GET "/api/v1/managed/$1/timeline?limit=200" "$A" >/dev/null
  jq '.items' "$T/resp" >"$T/timeline.json"
}
# The alerts raised for managed certificate named $1, as JSON lines.
alerts_for() {
  api GET "/api/v1/alerts?limit=500" "$A" >/dev/null
  jq -c --arg n "$1" '.items[] | select(.managed_name == $n)' "$T/resp"
}

# start_managed_server [LIFECYCLE-LINE...]: `certward serve` whose reconciler polls every
# 100 ms, without jitter, and retries a failed deployment only when the test changes something
# (a change moves the retry to now); the lines given are added to [lifecycle]. Sets A.
start_managed_server() {
  {
    echo "[lifecycle]"
    printf '%s\n' "$@"
    echo 'poll_interval_ms = 100'
    echo 'jitter_percent = 0'
    echo 'retry_base = "10m"'
    echo 'retry_max = "1h"'
    echo 'sweep_interval = "10m"'
  } >"$T/certward.toml"
  export CERTWARD_CONFIG=$T/certward.toml
  start_server
  A=$ADMIN_TOKEN
}

# wait_renewal_served SNI OLD-FINGERPRINT OLD-NOT-AFTER: waits until nginx serves another
# certificate than OLD for SNI, at most until 5 s before OLD expires. Sets RENEWED_FP (empty
# when it did not happen) and records the check.
wait_renewal_served() {
  local sni=$1 old=$2 deadline now_fp
  deadline=$(($(date -d "$3" +%s) - 5))
  RENEWED_FP=""
  while (($(date +%s) < deadline)); do
    now_fp=$(served_fp "$sni")
    if [[ -n $now_fp && $now_fp != "$old" ]]; then RENEWED_FP=$now_fp; break; fi
    sleep 1
  done
  if [[ -n $RENEWED_FP ]]; then
    echo "$sni: nginx serves the renewal $RENEWED_FP, $(($(date -d "$3" +%s) - $(date +%s))) s before the old one expires"
    pass
  else
    fail "$sni: nginx still serves $old (or nothing) 5 s before it expires"
  fi
}
