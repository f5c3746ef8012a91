#!/usr/bin/env bash
# Policy-violation and discovery-change alerts reach a real webhook receiver on loopback, each
# once across a restart of certward:
# - two imported certificates of team "web" that break a rule (an RSA-1024 key) are told of in
#   one digest; a third that breaks it later in a digest of its own; one of team "ops" in ops'
#   digest, which web's requester does not see;
# - a TLS endpoint (openssl s_server) that showed one certificate and now shows another that
#   only discovery knows raises one alert; the same endpoint moving to a certificate certward
#   issued raises none.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
PEERS="$(dirname "$0")/alerts_peers.py"
PIDS=()
stop_pids() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_pids; cleanup' EXIT
listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }

echo "hook-secret-$RANDOM$RANDOM" >"$T/hook.secret"
chmod 600 "$T/hook.secret"
HOOK_PORT=$(free_port)
"$PY" "$PEERS" webhook "$HOOK_PORT" "$T/hook.log" "$T/hook.secret" 0 >>"$T/peers.log" 2>&1 &
PIDS+=($!)
wait_until 10 listening "$HOOK_PORT" || { echo "webhook receiver did not start" >&2; exit 1; }

cat >"$T/certward.toml" <<EOF
[alerts]
thresholds = [1]
evaluate_interval = "1s"
policy_interval = "1s"
retry_base = "1s"
retry_max = "2s"
channels = ["hook"]

[[alerts.channel]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:$HOOK_PORT/hook"
secret = "file:$T/hook.secret"

[[policy.rule]]
id = "rsa-2048"
kind = "min_key_size"
min_bits = { rsa = 2048 }
severity = "critical"
EOF
export CERTWARD_CONFIG=$T/certward.toml
cw init >/dev/null

rsa1024() {  # CN FILE
  openssl req -x509 -newkey rsa:1024 -nodes -days 90 -subj "/CN=$1" -keyout /dev/null -out "$2" 2>/dev/null
}
rsa1024 weak1.example.test "$T/weak1.crt"
rsa1024 weak2.example.test "$T/weak2.crt"
rsa1024 weak-ops.example.test "$T/weak-ops.crt"
cw cert import "$T/weak1.crt" "$T/weak2.crt" --team web >/dev/null
cw cert import "$T/weak-ops.crt" --team ops >/dev/null

start_server CERTWARD_LOG_LEVEL=info
A=$ADMIN_TOKEN
hook_kind() { jq -s --arg k "$1" '[.[] | select(.body.kind == $k and .status == 204)] | length' "$T/hook.log" 2>/dev/null; }
kind_is() { [[ $(hook_kind "$1") == "$2" ]]; }
wait_until 30 kind_is policy_violation 2 || fail "the policy digests did not arrive: $(cat "$T/hook.log" 2>/dev/null)"
sleep 3  # more looks: nothing new
assert_eq 2 "$(hook_kind policy_violation)" "one digest per team, once"
assert_eq "critical" "$(jq -rs '[.[] | select(.body.kind == "policy_violation")][0].body.severity' "$T/hook.log")" "a critical rule's digest is critical"
assert_eq "2 1" "$(db_scalar "SELECT GROUP_CONCAT(n, ' ') FROM (SELECT json_extract(detail, '$.count') AS n FROM managed_alerts WHERE kind = 'policy_violation' ORDER BY n DESC)")" "web's digest names two, ops' one"
assert_eq "true" "$(jq -s 'all(.[]; .signed)' "$T/hook.log")" "every request signed"

# A certificate that breaks the rule later comes in a digest of its own.
rsa1024 weak3.example.test "$T/weak3.crt"
cw cert import "$T/weak3.crt" --team web >/dev/null
wait_until 30 kind_is policy_violation 3 || fail "the later violation was not told of"

# Team scope: web's requester sees web's digests, not ops'.
must 201 POST /api/v1/teams '{"name":"web","allowed_profiles":["tls-server"],"allowed_domains":["web.example.test"]}'
must 201 POST /api/v1/principals '{"name":"web-bot","role":"requester","team":"web"}'
must 201 POST /api/v1/tokens '{"principal":"web-bot","ttl":"1d"}'
WEB=$(jq -r .token "$T/resp")
assert_eq 200 "$(api GET /api/v1/alerts "$WEB")" "requester lists alerts"
assert_eq "web web" "$(jq -r '[.items[] | select(.kind == "policy_violation") | .team] | join(" ")' "$T/resp")" "only web's digests"

# Discovery: an endpoint serving a certificate, scanned, then serving another.
TLS_PORT=$(free_port)
serve_tls() {  # CERT KEY
  "$T/stop_tls" 2>/dev/null || true
  openssl s_server -accept "127.0.0.1:$TLS_PORT" -cert "$1" -key "$2" -www -quiet >>"$T/s_server.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  printf '#!/bin/sh\nkill -TERM %s 2>/dev/null; while kill -0 %s 2>/dev/null; do sleep 0.1; done\n' "$pid" "$pid" >"$T/stop_tls"
  chmod +x "$T/stop_tls"
  wait_until 10 listening "$TLS_PORT" || { fail "s_server did not start"; return 1; }
}
scan() { cw --json scan net "127.0.0.1:$TLS_PORT" >"$T/scan.json" 2>"$T/scan.err" || fail "scan: $(head -c 300 "$T/scan.err")"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=first.example.test \
  -keyout "$T/first.key" -out "$T/first.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=stranger.example.test \
  -keyout "$T/stranger.key" -out "$T/stranger.crt" 2>/dev/null
serve_tls "$T/first.crt" "$T/first.key"
scan
sleep 3
assert_eq 0 "$(hook_kind discovery_change)" "a place seen for the first time is not a change"
sleep 1  # the next sighting's second
serve_tls "$T/stranger.crt" "$T/stranger.key"
scan
wait_until 30 kind_is discovery_change 1 || fail "the endpoint's change was not reported: $(tail -3 "$T/hook.log")"
assert_eq "stranger.example.test" "$(jq -rs '[.[] | select(.body.kind == "discovery_change")][0].body.detail.subject' "$T/hook.log" | sed 's/.*CN *= *//')" "the alert names the new certificate"

# Moving to a certificate certward issued is a renewal, not news.
cw issue --profile tls-server --key-type ec-p256 --san dns:renewed.example.test \
  --out-cert "$T/renewed.crt" --out-key "$T/renewed.key" >/dev/null 2>"$T/issue.err" || fail "issue: $(cat "$T/issue.err")"
sleep 1
serve_tls "$T/renewed.crt" "$T/renewed.key"
scan
sleep 3
assert_eq 1 "$(hook_kind discovery_change)" "an issued certificate at the place raises nothing"

# A restart tells of nothing again.
stop_server
before=$(wc -l <"$T/hook.log")
start_server CERTWARD_LOG_LEVEL=info
sleep 4
assert_eq "$before" "$(wc -l <"$T/hook.log")" "no webhook request after the restart"
assert_eq 4 "$(db_scalar "SELECT COUNT(*) FROM managed_alerts WHERE kind IN ('policy_violation', 'discovery_change')")" "three digests and one change, once"
stop_server
finish
