#!/usr/bin/env bash
# Revocation through the REST API and the CLI (local and client mode): one certificate, bulk
# by selection with a dry run and an expected count, an authority; the inventory's status
# filter; who may revoke what; a revoked client certificate no longer authenticates; and bad
# requests change nothing.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
cw ca export issuing --chain >"$T/client-ca.pem"
printf '[server]\nclient_ca_file = "%s"\n' "$T/client-ca.pem" >"$T/certward.toml"
export CERTWARD_CONFIG=$T/certward.toml
start_server
A=$ADMIN_TOKEN
issue() {  # cn [team] -> fingerprint
  local team=${2:-}
  must 201 POST /api/v1/certificates "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"$1\"${team:+,\"team\":\"$team\"}}"
  jq -r .fingerprint "$T/resp"
}
must 201 POST /api/v1/teams '{"name":"payments","allowed_profiles":["tls-server"],"allowed_domains":["payments.example.test"]}'
must 201 POST /api/v1/teams '{"name":"web","allowed_profiles":["tls-server"],"allowed_domains":["web.example.test"]}'
for spec in alice:requester:payments ann:auditor:-; do
  IFS=: read -r name role team <<<"$spec"
  team_json=$([[ $team == - ]] && echo '' || echo ",\"team\":\"$team\"")
  must 201 POST /api/v1/principals "{\"name\":\"$name\",\"role\":\"$role\"$team_json}"
  must 201 POST /api/v1/tokens "{\"principal\":\"$name\",\"ttl\":\"1d\"}"
  declare "TOKEN_$name=$(jq -r .token "$T/resp")"
done

# One certificate over REST: status, reason, time and invalidity date in the inventory.
fp=$(issue one.payments.example.test payments)
assert_eq 200 "$(api POST "/api/v1/certificates/$fp/revoke" "$A" '{"reason":"keyCompromise","invalidity_date":"2026-01-01T00:00:00Z"}')" "revoke over REST"
assert_eq "revoked keyCompromise 2026-01-01T00:00:00Z" "$(jq -r '"\(.status) \(.revocation_reason) \(.invalidity_date)"' "$T/resp")" "revoked record"
assert_eq 409 "$(api POST "/api/v1/certificates/$fp/revoke" "$A" '{"reason":"keyCompromise"}')" "revoking twice"
assert_eq 200 "$(api GET '/api/v1/certificates?status=revoked' "$A")" "status filter"
assert_eq "$fp" "$(jq -r '.items[].fingerprint' "$T/resp")" "the revoked certificate, and only it"
assert_eq 1 "$(cw audit list --action certificate.revoke --json | jq '.items | length')" "audited"

# Bad requests change nothing.
fp2=$(issue two.payments.example.test payments)
s0=$(state)
for body in '{"reason":"certificateHold"}' '{"reason":"nonsense"}' '{"invalidity_date":"2999-01-01T00:00:00Z"}' '{"reason":"keyCompromise","extra":1}'; do
  assert_eq 400 "$(api POST "/api/v1/certificates/$fp2/revoke" "$A" "$body")" "bad revocation $body"
done
assert_eq 404 "$(api POST "/api/v1/certificates/$(printf 'ab%.0s' {1..32})/revoke" "$A" '{}')" "unknown certificate"
cw cert import /usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt >/dev/null
s0=$(state)
isrg=$(openssl x509 -in /usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt -outform DER | sha256sum | cut -d' ' -f1)
assert_eq 400 "$(api POST "/api/v1/certificates/$isrg/revoke" "$A" '{}')" "a certificate certward did not issue"
assert_eq invalid_argument "$(jq -r .code "$T/resp")" "not issued here: code"
issuing_fp=$(cw ca export issuing | openssl x509 -outform DER | sha256sum | cut -d' ' -f1)
assert_eq 400 "$(api POST "/api/v1/certificates/$issuing_fp/revoke" "$A" '{}')" "a CA certificate goes with its authority"
assert_eq "$s0" "$(state)" "refused revocations changed the database"

# Who may revoke what: requesters their team's only (another team's is absent), auditors never.
fp_web=$(issue site.web.example.test web)
assert_eq 404 "$(api POST "/api/v1/certificates/$fp_web/revoke" "$TOKEN_alice" '{}')" "requester, another team's certificate"
assert_eq 403 "$(api POST "/api/v1/certificates/$fp2/revoke" "$TOKEN_ann" '{}')" "auditor"
assert_eq 200 "$(api POST "/api/v1/certificates/$fp2/revoke" "$TOKEN_alice" '{"reason":"superseded"}')" "requester, own team"
assert_eq 403 "$(api POST /api/v1/certificates/revoke "$TOKEN_alice" '{"team":"web","dry_run":true}')" "requester bulk over another team"

# The CLI, locally and through the server.
fp3=$(issue three.payments.example.test payments)
cw cert revoke "${fp3:0:16}" --reason cessationOfOperation >/dev/null && pass || fail "cert revoke (local)"
assert_eq cessationOfOperation "$(cw cert show "$fp3" --json | jq -r .revocation_reason)" "local revocation recorded"
fp4=$(issue four.payments.example.test payments)
env CERTWARD_SERVER="$BASE" CERTWARD_TOKEN="$A" CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" cert revoke "$fp4" \
  --reason affiliationChanged >/dev/null && pass || fail "cert revoke (client mode)"
assert_fails 3 invalid_argument "an id and a selection" cw cert revoke "$fp4" --team payments
assert_fails 3 invalid_argument "bulk without --expect" cw cert revoke --team web
assert_fails 5 conflict "revoking twice (CLI)" cw cert revoke "$fp4"

# Bulk: a dry run lists exactly what a revocation with its count then revokes.
for i in $(seq 1 5); do issue "bulk$i.web.example.test" web >/dev/null; done
cw cert set "$fp_web" --add-tag keep >/dev/null
dry=$(cw cert revoke --team web --dry-run --json)
n=$(jq .matched <<<"$dry")
assert_eq 6 "$n" "dry run count"
s0=$(state)
assert_fails 5 conflict "a stale count" cw cert revoke --team web --expect 5
assert_eq "$s0" "$(state)" "a stale count revoked something"
done_json=$(cw cert revoke --team web --expect "$n" --reason superseded --json)
assert_eq "$(jq -c '[.items[].fingerprint]' <<<"$dry")" "$(jq -c '[.items[].fingerprint]' <<<"$done_json")" "revoked what the dry run showed"
assert_eq 0 "$(api GET '/api/v1/certificates?team=web&status=valid' "$A" >/dev/null; jq '.items | length' "$T/resp")" "none of the team's left valid"

# An authority: its parent lists it, it signs nothing more, and it cannot be enabled again.
must 201 POST /api/v1/authorities '{"name":"sub","kind":"issuing","parent":"root","subject":"CN=Sub CA"}'
assert_eq 200 "$(api POST /api/v1/authorities/sub/revoke "$A" '{"reason":"cACompromise"}')" "revoke an authority"
assert_eq revoked "$(jq -r .status "$T/resp")" "authority status"
assert_eq 422 "$(api POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","common_name":"x.example.test","authority":"sub"}')" "a revoked authority signs nothing"
assert_eq 409 "$(api POST /api/v1/authorities/sub/enable "$A")" "revocation is final"
assert_eq 400 "$(api POST /api/v1/authorities/root/revoke "$A" '{}')" "a root cannot be revoked"
assert_fails 5 conflict "revoking it again (CLI)" cw ca revoke sub

# mTLS: a revoked client certificate no longer authenticates.
cw principal create robot --role operator >/dev/null
cw issue --profile tls-client --key-type ec-p256 --cn robot.payments.example.test \
  --out-cert "$T/robot.pem" --out-key "$T/robot.key" 2>/dev/null
cw principal map robot --cert "$T/robot.pem" >/dev/null
mtls() { curl -s -o "$T/resp" -w '%{http_code}' --cacert "$T/root.pem" --cert "$T/robot.pem" --key "$T/robot.key" "$BASE/api/v1/whoami"; }
assert_eq 200 "$(mtls)" "client certificate before"
robot_fp=$(openssl x509 -in "$T/robot.pem" -outform DER | sha256sum | cut -d' ' -f1)
cw cert revoke "$robot_fp" --reason keyCompromise >/dev/null
assert_eq 401 "$(mtls)" "a revoked client certificate does not authenticate"

stop_server
cw audit verify >/dev/null && pass || fail "audit verify"
finish
