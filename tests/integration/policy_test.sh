#!/usr/bin/env bash
# Compliance policies against a real server: a rule declared in certward.toml and rules made
# through the API; an RSA-1024 certificate and a SHA-1-signed one (made with openssl, issued by
# an outside CA, imported as found in the wild) listed as violations through the API and the
# CLI (client and local mode), and the same two found by a network scan of TLS endpoints; a CSR that breaks a rule refused at issuance naming the rule; a
# rule scoped to one team that does not touch another; a requester that can neither make nor
# change rules and sees only its team's violations; hostile rules refused with nothing stored.
source "$(dirname "$0")/lib.sh"

cat >"$T/certward.toml" <<'EOF'
[[policy.rule]]
id = "no-sha1"
kind = "sha1_in_chain"
severity = "critical"
description = "SHA-1 anywhere in a chain"
EOF
start_server CERTWARD_CONFIG="$T/certward.toml"
A=$ADMIN_TOKEN
export CERTWARD_CONFIG="$T/certward.toml"
remote() { env CERTWARD_TOKEN="$1" CERTWARD_SERVER="$BASE" CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" "${@:2}"; }
rules_count() { db_scalar "SELECT COUNT(*) FROM policy_rules"; }

# An outside CA, and what it signed: an RSA-1024 leaf, and a leaf signed with SHA-1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ext-ca.key" -subj "/CN=Outside CA" \
  -days 30 -addext basicConstraints=critical,CA:TRUE -out "$T/ext-ca.pem" 2>/dev/null
leaf() {  # name key-args digest
  openssl req -new -newkey "$2" -nodes -keyout "$T/$1.key" -subj "/CN=$1.ops.example.test" \
    -out "$T/$1.csr" 2>/dev/null
  openssl x509 -req -in "$T/$1.csr" -CA "$T/ext-ca.pem" -CAkey "$T/ext-ca.key" -CAcreateserial \
    -days 30 "-$3" -extfile <(printf 'subjectAltName=DNS:%s.ops.example.test\n' "$1") \
    -out "$T/$1.pem" 2>/dev/null
}
leaf weak rsa:1024 sha256
leaf sha1 rsa:2048 sha1
fp_of() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
WEAK=$(fp_of "$T/weak.pem")
SHA1=$(fp_of "$T/sha1.pem")
openssl x509 -in "$T/sha1.pem" -noout -text | grep -q 'Signature Algorithm: sha1WithRSAEncryption' ||
  { echo "openssl did not sign with SHA-1" >&2; exit 1; }
body=$(jq -n --rawfile a "$T/weak.pem" --rawfile b "$T/sha1.pem" '{pem: ($a + $b), team: "ops"}')
must 201 POST /api/v1/certificates/import "$body"

# Teams, a requester of each.
must 201 POST /api/v1/teams '{"name":"payments","allowed_profiles":["tls-server"],"allowed_domains":["payments.example.test"]}'
must 201 POST /api/v1/teams '{"name":"ops","allowed_profiles":["tls-server"],"allowed_domains":["ops.example.test"]}'
for who in alice:payments bob:ops; do
  must 201 POST /api/v1/principals "{\"name\":\"${who%%:*}\",\"role\":\"requester\",\"team\":\"${who#*:}\"}"
  must 201 POST /api/v1/tokens "{\"principal\":\"${who%%:*}\",\"ttl\":\"1d\"}"
  declare "TOKEN_${who%%:*}=$(jq -r .token "$T/resp")"
done
R=$TOKEN_alice
must 201 POST /api/v1/principals '{"name":"olga","role":"operator"}'
must 201 POST /api/v1/tokens '{"principal":"olga","ttl":"1d"}'
O=$(jq -r .token "$T/resp")

# Rules: administrators make them; operators read them; requesters do neither.
RULE='{"id":"min-rsa-2048","kind":"min_key_size","min_bits":{"rsa":2048},"severity":"high"}'
s0=$(state)
assert_eq 403 "$(api POST /api/v1/policy/rules "$R" "$RULE")" "requester creates a rule"
assert_eq 403 "$(api POST /api/v1/policy/rules "$O" "$RULE")" "operator creates a rule"
assert_eq 403 "$(api GET /api/v1/policy/rules "$R")" "requester lists rules"
assert_eq "$s0" "$(state)" "refused rule changes changed nothing"
assert_eq 0 "$(rules_count)" "no rule stored by the refused requests"
assert_eq 201 "$(api POST /api/v1/policy/rules "$A" "$RULE")" "admin creates a rule"
assert_eq 200 "$(api GET /api/v1/policy/rules "$O")" "operator lists rules"
assert_eq "no-sha1:config min-rsa-2048:api" "$(jq -r '[.items[] | "\(.id):\(.source)"] | join(" ")' "$T/resp")" "declared and stored rules"
assert_eq 403 "$(api PUT /api/v1/policy/rules/min-rsa-2048 "$R" '{"kind":"required_owner"}')" "requester alters a rule"
assert_eq 403 "$(api DELETE /api/v1/policy/rules/min-rsa-2048 "$R")" "requester deletes a rule"
assert_eq 409 "$(api DELETE /api/v1/policy/rules/no-sha1 "$A")" "a declared rule is read-only"
printf '%s' "$RULE" >"$T/rule.json"
assert_fails 6 unauthorized "requester adds a rule (CLI)" remote "$R" policy add "$T/rule.json"

# Hostile rules: a clear error, nothing stored, nothing audited.
s0=$(state)
for bad in '{"id":"x","kind":"required_san_pattern","patterns":["(a+)+$"]}' \
  '{"id":"x","kind":"min_key_size","min_bits":{"rsa":1e400}}' \
  '{"id":"x","kind":"min_key_size","min_bits":{"rsa":99999999999999999999999}}' \
  '{"id":"x","kind":"teleport"}' '{"id":"x","kind":"required_owner","extra":1}' \
  '{"id":"../x","kind":"required_owner"}' '[1,2]'; do
  code=$(api POST /api/v1/policy/rules "$A" "$bad")
  [[ $code == 400 ]] && pass || fail "hostile rule $bad: $code $(cat "$T/resp")"
done
assert_eq "$s0" "$(state)" "hostile rules changed nothing"
assert_eq 1 "$(rules_count)" "hostile rules stored nothing"

# Violations: both certificates, through the API and the CLI (client and local mode).
assert_eq 200 "$(api GET '/api/v1/policy/violations?limit=1000' "$A")" "list violations"
assert_eq "min-rsa-2048 $WEAK" "$(jq -r ".items[] | select(.subject_id == \"$WEAK\") | \"\(.rule) \(.subject_id)\"" "$T/resp")" "RSA-1024 listed"
assert_eq "no-sha1 $SHA1" "$(jq -r ".items[] | select(.subject_id == \"$SHA1\") | \"\(.rule) \(.subject_id)\"" "$T/resp")" "SHA-1 listed"
assert_eq "rsa key of 1024 bits < 2048" "$(jq -r ".items[] | select(.subject_id == \"$WEAK\") | .message" "$T/resp")" "why"
assert_eq 200 "$(api GET '/api/v1/policy/violations?rule=no-sha1' "$A")" "filter by rule"
assert_eq "$SHA1" "$(jq -r '[.items[].subject_id] | join(" ")' "$T/resp")" "only the SHA-1 one"
assert_eq 200 "$(api GET '/api/v1/policy/violations?severity=critical' "$A")" "filter by severity"
assert_eq "no-sha1" "$(jq -r '[.items[].rule] | unique | join(" ")' "$T/resp")" "critical only"
assert_eq 400 "$(api GET '/api/v1/policy/violations?rule=nope' "$A")" "unknown rule"
assert_eq 400 "$(api GET '/api/v1/policy/violations?cursor=zz' "$A")" "bad cursor"
remote "$A" --json policy violations >"$T/cli.json"
assert_eq 2 "$(jq "[.items[] | select(.subject_id == \"$WEAK\" or .subject_id == \"$SHA1\")] | length" "$T/cli.json")" "CLI (client mode) lists both"
cw --json policy violations >"$T/local.json"
assert_eq 2 "$(jq "[.items[] | select(.subject_id == \"$WEAK\" or .subject_id == \"$SHA1\")] | length" "$T/local.json")" "CLI (local mode) lists both"
cw policy violations >"$T/table.txt"
grep -q "min-rsa-2048" "$T/table.txt" && pass || fail "CLI table names the rule"

# Requesters see their own team's violations only.
assert_eq 200 "$(api GET /api/v1/policy/violations "$TOKEN_bob")" "ops requester"
assert_eq 2 "$(jq '.items | length' "$T/resp")" "ops sees its two"
assert_eq 200 "$(api GET /api/v1/policy/violations "$R")" "payments requester"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "payments sees none of ops'"
assert_eq 403 "$(api GET '/api/v1/policy/violations?team=ops' "$R")" "payments asks for ops'"

# Issuance: a CSR that breaks a rule is refused naming it, whatever the channel; a rule scoped
# to one team does not touch another.
must 201 POST /api/v1/policy/rules '{"id":"payments-rsa-3072","kind":"min_key_size","min_bits":{"rsa":3072},"teams":["payments"]}'
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/p.key" -subj "/CN=www.payments.example.test" -out "$T/p.csr" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/o.key" -subj "/CN=www.ops.example.test" -out "$T/o.csr" 2>/dev/null
s0=$(state)
assert_eq 422 "$(api POST /api/v1/certificates "$R" "$(jq -nc --rawfile c "$T/p.csr" '{profile: "tls-server", csr: $c}')")" "payments RSA-2048 refused"
assert_eq policy_rejected "$(jq -r .code "$T/resp")" "refusal code"
assert_eq "refused by policy rule 'payments-rsa-3072': rsa key of 2048 bits < 3072" "$(jq -r .detail "$T/resp")" "refusal names the rule"
assert_fails 6 policy_rejected "payments RSA-2048 refused (CLI)" remote "$R" issue --profile tls-server --csr "$T/p.csr"
grep -q "payments-rsa-3072" "$T/err" && pass || fail "CLI refusal names the rule: $(cat "$T/err")"
assert_eq "$s0" "$(state)" "a refused issuance changed nothing"
assert_eq 201 "$(api POST /api/v1/certificates "$TOKEN_bob" "$(jq -nc --rawfile c "$T/o.csr" '{profile: "tls-server", csr: $c}')")" "ops RSA-2048 issued"
# The weak imported certificate belongs to ops: the payments rule does not list it either.
assert_eq 200 "$(api GET '/api/v1/policy/violations?rule=payments-rsa-3072' "$A")" "payments rule violations"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "the payments rule touches no ops certificate"

# The same found by discovery: a TLS endpoint (openssl s_server) serving an RSA-1024 leaf and
# one serving a SHA-1-signed leaf, scanned; both are listed with origin "discovered".
leaf scanned-weak rsa:1024 sha256
leaf scanned-sha1 rsa:2048 sha1
listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
SERVERS=()
for name in scanned-weak scanned-sha1; do
  port=$(free_port)
  openssl s_server -accept "127.0.0.1:$port" -cert "$T/$name.pem" -key "$T/$name.key" -www -quiet \
    -cipher 'DEFAULT:@SECLEVEL=0' \
    >>"$T/s_server.log" 2>&1 &
  SERVERS+=($!)
  CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $!"
  wait_until 10 listening "$port" || fail "s_server for $name did not start"
  TARGETS+=("127.0.0.1:$port")
done
cw --json scan net "${TARGETS[@]}" >"$T/scan.json" 2>"$T/scan.err" || fail "scan: $(head -c 300 "$T/scan.err")"
for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done
SCANNED_WEAK=$(fp_of "$T/scanned-weak.pem")
SCANNED_SHA1=$(fp_of "$T/scanned-sha1.pem")
assert_eq 200 "$(api GET /api/v1/policy/violations "$A")" "violations after the scan"
assert_eq "min-rsa-2048 discovered" "$(jq -r ".items[] | select(.subject_id == \"$SCANNED_WEAK\") | \"\(.rule) \(.origin)\"" "$T/resp")" "a discovered RSA-1024 certificate is listed"
assert_eq "no-sha1 discovered" "$(jq -r ".items[] | select(.subject_id == \"$SCANNED_SHA1\") | \"\(.rule) \(.origin)\"" "$T/resp")" "a discovered SHA-1-signed certificate is listed"

# Every rule change is audited.
assert_eq 2 "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'policy.rule.create'")" "rule creations audited"

stop_server
finish
