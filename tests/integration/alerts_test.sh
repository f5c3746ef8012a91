#!/usr/bin/env bash
# Expiry alerts reach a real webhook receiver and a real SMTP server (aiosmtpd, STARTTLS
# required, then AUTH) on loopback exactly once per certificate and threshold, across a restart
# of certward: two certificates at two thresholds make two alerts, each delivered once on
# each channel however many evaluations run. The webhook fails its first two requests: they
# are retried and then delivered. A channel whose receiver always fails is retried, then
# recorded failed. Every request carries a valid HMAC signature. Bad [alerts] configuration
# stops the start with a clear error; a requester may not silence another team's certificate.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "SKIP: python3-aiosmtpd is not installed"; exit 77; }
PEERS="$(dirname "$0")/alerts_peers.py"

start_peer() {  # PORT command...: starts a receiver and waits until it listens
  local port=$1
  shift
  "$@" >>"$T/peers.log" 2>&1 &
  CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $!"
  wait_until 10 bash -c "ss -Hltn 'sport = :$port' | grep -q LISTEN" || { echo "receiver on $port did not start" >&2; cat "$T/peers.log" >&2; exit 1; }
}

# The SMTP server's certificate, trusted by the channel's ca_file.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$T/smtp.key" -out "$T/smtp.crt" 2>/dev/null
echo "hook-secret-$RANDOM$RANDOM" >"$T/hook.secret"
echo "mail-password-$RANDOM" >"$T/mail.password"
chmod 600 "$T/hook.secret" "$T/mail.password"
HOOK_PORT=$(free_port)
SMTP_PORT=$(free_port)
mkdir -p "$T/mail"
start_peer "$HOOK_PORT" "$PY" "$PEERS" webhook "$HOOK_PORT" "$T/hook.log" "$T/hook.secret" 2
start_peer "$SMTP_PORT" "$PY" "$PEERS" smtp "$SMTP_PORT" "$T/mail" "$T/smtp.crt" "$T/smtp.key" alerts "$T/mail.password"

cat >"$T/certward.toml" <<EOF
[alerts]
thresholds = [30, 14, 7, 1]
lifetime_fraction = 1.0
evaluate_interval = "1s"
retry_base = "1s"
retry_max = "2s"
max_attempts = 3
channels = ["hook", "mail"]
escalation = [{ at_days = 7, channels = ["broken"] }]

[[alerts.channel]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:$HOOK_PORT/hook"
secret = "file:$T/hook.secret"

[[alerts.channel]]
name = "broken"
type = "webhook"
format = "slack"
url = "http://127.0.0.1:$HOOK_PORT/broken"
secret = "file:$T/hook.secret"

[[alerts.channel]]
name = "mail"
type = "smtp"
host = "127.0.0.1"
port = $SMTP_PORT
starttls = "required"
ca_file = "$T/smtp.crt"
username = "alerts"
password = "file:$T/mail.password"
from = "certward@example.test"
to = ["pki-team@example.test"]
EOF
export CERTWARD_CONFIG=$T/certward.toml
cw init >/dev/null

# Hostile configuration: each stops the start with one clear line, nothing served.
bad_config() {  # what, then the [[alerts.channel]] lines
  local what=$1
  shift
  { printf '[alerts]\n[[alerts.channel]]\n'; printf '%s\n' "$@"; } >"$T/bad.toml"
  local rc=0
  CERTWARD_CONFIG=$T/bad.toml "$CERTWARD_BIN" alerts list >/dev/null 2>"$T/bad.err" || rc=$?
  if [[ $rc == 0 ]] || ! grep -q "$what" "$T/bad.err"; then
    fail "bad channel ($what): exit $rc, stderr $(head -c 300 "$T/bad.err")"
  else
    pass
  fi
}
bad_config "http:// or https://" 'name = "x"' 'type = "webhook"' 'url = "ftp://127.0.0.1/x"' 'secret = "env:X"'
bad_config "'format' must be" 'name = "x"' 'type = "webhook"' 'url = "http://127.0.0.1/x"' 'secret = "env:X"' 'format = "discord"'
bad_config "needs 'secret'" 'name = "x"' 'type = "webhook"' 'url = "http://127.0.0.1/x"'
bad_config "not hold it" 'name = "x"' 'type = "webhook"' 'url = "http://127.0.0.1/x"' 'secret = "hunter2"'
if grep -q hunter2 "$T/bad.err"; then fail "an inline secret is echoed in the error"; else pass; fi

# Two certificates of team "web": 10 days left (threshold 14) and 2 days left (threshold 7).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 10 -subj /CN=soon.example.test \
  -keyout /dev/null -out "$T/soon.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=sooner.example.test \
  -keyout /dev/null -out "$T/sooner.crt" 2>/dev/null
cw cert import "$T/soon.crt" "$T/sooner.crt" --team web >/dev/null

start_server CERTWARD_LOG_LEVEL=info
A=$ADMIN_TOKEN
hook_ok() { [[ $(jq -s '[.[] | select(.path == "/hook" and .status == 204)] | length' "$T/hook.log" 2>/dev/null) == "$1" ]]; }
mails() { find "$T/mail" -type f | wc -l; }
broken_failed() { [[ $(db_scalar "SELECT COUNT(*) FROM alert_deliveries WHERE channel = 'broken' AND state = 'failed'") == 1 ]]; }
wait_until 60 hook_ok 2 || fail "the webhook did not get both alerts: $(cat "$T/hook.log" 2>/dev/null)"
wait_until 60 bash -c "[[ \$(find '$T/mail' -type f | wc -l) == 2 ]]" || fail "the SMTP server did not get both alerts: $(mails)"
wait_until 60 broken_failed || fail "the broken channel was not recorded failed"
sleep 3  # several more evaluations
assert_eq 2 "$(db_scalar "SELECT COUNT(*) FROM managed_alerts WHERE kind = 'expiry'")" "one alert per certificate and threshold"
assert_eq "14d 7d" "$(db_scalar "SELECT GROUP_CONCAT(t, ' ') FROM (SELECT substr(dedupe_key, 73) AS t FROM managed_alerts ORDER BY t)" | tr -d '\n')" "the thresholds reached"
assert_eq 2 "$(mails)" "two emails"
assert_eq 4 "$(jq -s '[.[] | select(.path == "/hook")] | length' "$T/hook.log")" "two failed webhook requests retried, two delivered"
assert_eq "true" "$(jq -s 'all(.[]; .signed)' "$T/hook.log")" "every request signed"
assert_eq 3 "$(jq -s '[.[] | select(.path == "/broken")] | length' "$T/hook.log")" "the broken channel tried max_attempts times"
assert_eq "hook:sent:4" "$(db_scalar "SELECT channel || ':' || MIN(state) || ':' || SUM(attempts) FROM alert_deliveries WHERE channel = 'hook' AND state = 'sent' GROUP BY channel")" "hook deliveries: sent, after four attempts in all"
assert_eq "broken:failed:3" "$(db_scalar "SELECT channel || ':' || state || ':' || attempts FROM alert_deliveries WHERE channel = 'broken'")" "the broken delivery recorded failed"
assert_eq "mail:sent:2" "$(db_scalar "SELECT channel || ':' || MIN(state) || ':' || COUNT(*) FROM alert_deliveries WHERE channel = 'mail' AND state = 'sent' GROUP BY channel")" "mail deliveries sent"
grep -q "Subject: certward" "$T"/mail/*.eml && pass || fail "no certward subject in the mail"
if grep -rq "$(cat "$T/mail.password")\|$(cat "$T/hook.secret")" "$T/serve.out" "$T/serve.err"; then fail "a secret was logged"; else pass; fi

# The API and the CLI show the deliveries.
assert_eq 200 "$(api GET /api/v1/alerts "$A")" "list alerts"
assert_eq 5 "$(jq '[.items[] | select(.kind == "expiry") | .deliveries[]] | length' "$T/resp")" "deliveries listed (2 + 2 + 1 escalated)"
assert_eq null "$(jq -r .next_before "$T/resp")" "a page shorter than asked for is the last"
assert_eq 200 "$(api GET "/api/v1/alerts?limit=1" "$A")" "a page of one"
[[ $(jq -r .next_before "$T/resp") != null ]] && pass || fail "a full page has a next one"
cw alerts list --json >"$T/list.json"
assert_eq 2 "$(jq '[.items[] | select(.kind == "expiry")] | length' "$T/list.json")" "cli alerts list"

# A requester of another team sees none of them and may not silence them.
must 201 POST /api/v1/teams '{"name":"ops","allowed_profiles":["tls-server"],"allowed_domains":["ops.example.test"]}'
must 201 POST /api/v1/principals '{"name":"ops-bot","role":"requester","team":"ops"}'
must 201 POST /api/v1/tokens '{"principal":"ops-bot","ttl":"1d"}'
OPS=$(jq -r .token "$T/resp")
assert_eq 200 "$(api GET /api/v1/alerts "$OPS")" "requester lists"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "another team's alerts are not shown"
fp=$(openssl x509 -in "$T/soon.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
assert_eq 404 "$(api POST /api/v1/alerts/silences "$OPS" "{\"certificate\": \"$fp\", \"until\": \"1d\"}")" "requester silences another team's certificate"
assert_eq 403 "$(api POST /api/v1/alerts/silences "$OPS" '{"team": "web", "until": "1d"}')" "requester silences another team"
assert_eq 403 "$(api GET /api/v1/alerts/rules "$OPS")" "requester reads the channels"
# An operator reads the channels, but not a webhook's path (often its credential).
assert_eq 200 "$(api GET /api/v1/alerts/rules "$A")" "admin reads the channels"
assert_eq "http://127.0.0.1:$HOOK_PORT/..." "$(jq -r '.channel[] | select(.type == "webhook") | .url' "$T/resp" | sort -u)" "a webhook is shown by its origin"
assert_eq 0 "$(db_scalar "SELECT COUNT(*) FROM alert_silences")" "nothing silenced"

# A restart raises and sends nothing again.
stop_server
before_hook=$(wc -l <"$T/hook.log")
start_server CERTWARD_LOG_LEVEL=info
sleep 4
assert_eq "$before_hook" "$(wc -l <"$T/hook.log")" "no webhook request after the restart"
assert_eq 2 "$(mails)" "no email after the restart"
assert_eq 2 "$(db_scalar "SELECT COUNT(*) FROM managed_alerts WHERE kind = 'expiry'")" "no alert after the restart"

# A silence stops the next threshold's alert: a new certificate at 1 day is silenced by team.
A=$ADMIN_TOKEN
cw alerts silence --team web --until 1d --reason "maintenance" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=silenced.example.test \
  -keyout /dev/null -out "$T/silenced.crt" 2>/dev/null
cw cert import "$T/silenced.crt" --team web >/dev/null
sleep 3
assert_eq 2 "$(db_scalar "SELECT COUNT(*) FROM managed_alerts WHERE kind = 'expiry'")" "a silenced team raises nothing"
stop_server
finish
