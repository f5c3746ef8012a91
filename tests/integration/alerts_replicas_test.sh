#!/usr/bin/env bash
# Two replicas on one PostgreSQL database evaluate alerts every second over the same
# inventory: each certificate's alert is raised once and delivered to the webhook exactly once,
# whichever replica evaluated or delivered it; a restart of one replica changes nothing.
if [[ -z "${CERTWARD_TEST_POSTGRES_URL:-}" ]]; then
  exec "${CERTWARD_SOURCE_DIR:?}/scripts/with-postgres.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL="$CERTWARD_TEST_POSTGRES_URL"
pg() { psql -X -q -t -A "$CERTWARD_TEST_POSTGRES_URL" -c "$1"; }
PY=/usr/bin/python3

echo "hook-secret-$RANDOM$RANDOM" >"$T/hook.secret"
HOOK_PORT=$(free_port)
"$PY" "$(dirname "$0")/alerts_peers.py" webhook "$HOOK_PORT" "$T/hook.log" "$T/hook.secret" 0 >>"$T/peers.log" 2>&1 &
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $!"
wait_until 10 bash -c "ss -Hltn 'sport = :$HOOK_PORT' | grep -q LISTEN" || { echo "no webhook receiver" >&2; exit 1; }

cat >"$T/certward.toml" <<EOF
[alerts]
lifetime_fraction = 1.0
evaluate_interval = "1s"
retry_base = "1s"
retry_max = "2s"
channels = ["hook"]

[[alerts.channel]]
name = "hook"
type = "webhook"
format = "teams"
url = "http://127.0.0.1:$HOOK_PORT/hook"
secret = "file:$T/hook.secret"
EOF
export CERTWARD_CONFIG=$T/certward.toml
cw init >/dev/null

N=20
for i in $(seq 1 $N); do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $((i % 5 + 1)) \
    -subj "/CN=r$i.example.test" -keyout /dev/null -out "$T/r$i.crt" 2>/dev/null
done
cw cert import "$T"/r*.crt >/dev/null

start_server CERTWARD_LOG_LEVEL=warn
A_BASE=$BASE A=$ADMIN_TOKEN
FIRST_PID=$SERVER_PID
start_server CERTWARD_LOG_LEVEL=warn
SECOND_PID=$SERVER_PID
delivered() { [[ $(jq -s 'length' "$T/hook.log" 2>/dev/null) -ge $N ]]; }
wait_until 60 delivered || fail "not every alert was delivered: $(jq -s 'length' "$T/hook.log" 2>/dev/null)"
sleep 4  # several more evaluations on both replicas
SERVER_PID=$FIRST_PID
stop_server
start_server CERTWARD_LOG_LEVEL=warn
sleep 3
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM managed_alerts WHERE kind = 'expiry'")" "one alert per certificate"
assert_eq "$N" "$(jq -s 'length' "$T/hook.log")" "one webhook request per alert"
assert_eq "$N" "$(jq -s '[.[].alert] | unique | length' "$T/hook.log")" "each alert delivered once"
assert_eq "true" "$(jq -s 'all(.[]; .signed and .body["@type"] == "MessageCard")' "$T/hook.log")" "signed Teams cards"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM alert_deliveries WHERE state = 'sent' AND attempts = 1")" "each delivery sent at its first attempt"
stop_server
SERVER_PID=$SECOND_PID
stop_server
finish
