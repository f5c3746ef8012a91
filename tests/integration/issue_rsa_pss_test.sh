#!/usr/bin/env bash
# RSA-PSS subject keys (id-RSASSA-PSS, RFC 4055) are not plain RSA keys: no built-in profile
# takes them (refused with exit 6 / 422 policy_rejected, nothing written), through the CLI,
# the CLI against a server and the REST API; a configured profile that allows them never
# gives them keyEncipherment; certificates with such keys are still imported as "rsa-pss".
source "$(dirname "$0")/lib.sh"

cat >"$T/certward.toml" <<TOML
[profiles.pss-server]
key_types = ["rsa-pss-2048"]
key_usage = ["digitalSignature", "keyEncipherment", "dataEncipherment"]
TOML
export CERTWARD_CONFIG="$T/certward.toml"
start_server CERTWARD_CONFIG="$T/certward.toml"
remote() { env CERTWARD_SERVER="$BASE" CERTWARD_TOKEN="$ADMIN_TOKEN" CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" "$@"; }

# One DNS name, which every built-in profile takes: only the key can be the reason to refuse.
openssl req -new -newkey rsa-pss -pkeyopt rsa_keygen_bits:2048 -nodes -keyout "$T/pss.key" \
  -subj "/CN=pss.example.test" -out "$T/pss.csr" 2>/dev/null
openssl req -in "$T/pss.csr" -noout -text | grep -q 'Public Key Algorithm: rsassaPss' && pass || fail "openssl made no RSA-PSS CSR"

before=$(state)
for profile in tls-server tls-client code-signing smime device intermediate-ca; do
  assert_fails 6 policy_rejected "CLI: $profile refuses an RSA-PSS CSR" cw issue --profile "$profile" --csr "$T/pss.csr"
  assert_fails 6 policy_rejected "client mode: $profile refuses an RSA-PSS CSR" remote issue --profile "$profile" --csr "$T/pss.csr"
  body=$(jq -n --arg p "$profile" --rawfile csr "$T/pss.csr" '{profile: $p, csr: $csr}')
  assert_eq "422 policy_rejected" "$(api POST /api/v1/certificates "$ADMIN_TOKEN" "$body") $(jq -r .code "$T/resp")" "REST: $profile refuses an RSA-PSS CSR"
  assert_eq "profile '$profile' does not allow RSA-PSS 2048 keys" "$(jq -r .detail "$T/resp")" "REST: $profile names the key"
done
msg=$(cw issue --profile tls-server --csr "$T/pss.csr" 2>&1 || true)
[[ $msg == *"does not allow RSA-PSS 2048 keys"* ]] && pass || fail "CLI: the refusal names the key: $msg"
assert_fails 6 policy_rejected "CLI: a server-generated RSA-PSS key" cw issue --profile tls-server --key-type rsa-pss-2048 --cn pss.example.test
assert_eq "422 policy_rejected" "$(api POST /api/v1/certificates "$ADMIN_TOKEN" '{"profile":"tls-server","key_type":"rsa-pss-2048","common_name":"pss.example.test"}') $(jq -r .code "$T/resp")" "REST: a server-generated RSA-PSS key"
assert_eq "$before" "$(state)" "refusals wrote nothing"

# A profile that allows RSA-PSS keys: issued, verifiable, and only digitalSignature.
cw issue --profile pss-server --csr "$T/pss.csr" --out-cert "$T/pss.pem" --out-chain "$T/pss-chain.pem" 2>/dev/null && pass || fail "CLI: pss-server issues"
assert_eq "Digital Signature" "$(openssl x509 -in "$T/pss.pem" -noout -ext keyUsage | tail -1 | sed -E 's/^ +//')" "CLI: no encipherment for an RSA-PSS key"
if openssl verify -CAfile "$T/root.pem" -untrusted "$T/pss-chain.pem" "$T/pss.pem" >/dev/null; then pass; else fail "the RSA-PSS certificate does not verify"; fi
body=$(jq -n --rawfile csr "$T/pss.csr" '{profile: "pss-server", csr: $csr}')
assert_eq 201 "$(api POST /api/v1/certificates "$ADMIN_TOKEN" "$body")" "REST: pss-server issues"
assert_eq '["digitalSignature"] rsa-pss' "$(jq -c -r '"\(.certificate.key_usage) \(.certificate.key.algorithm)"' "$T/resp")" "REST: no encipherment, algorithm rsa-pss"

# Inventory: an RSA-PSS certificate from elsewhere is imported and recorded as rsa-pss.
openssl req -x509 -newkey rsa-pss -pkeyopt rsa_keygen_bits:2048 -nodes -keyout "$T/x.key" \
  -subj "/CN=elsewhere.example.test" -days 5 -out "$T/x.pem" 2>/dev/null
assert_eq "imported 1, already present 0, failed 0" "$(cw cert import "$T/x.pem")" "CLI: import an RSA-PSS certificate"
openssl req -x509 -newkey rsa-pss -pkeyopt rsa_keygen_bits:2048 -nodes -keyout "$T/y.key" \
  -subj "/CN=other.example.test" -days 5 -out "$T/y.pem" 2>/dev/null
assert_eq 201 "$(api POST /api/v1/certificates/import "$ADMIN_TOKEN" "$(jq -n --rawfile pem "$T/y.pem" '{pem: $pem}')")" "REST: import an RSA-PSS certificate"
assert_eq 4 "$(cw cert list --key-algorithm rsa-pss --json | jq '.items | length')" "CLI: cert list --key-algorithm rsa-pss"
assert_eq 200 "$(api GET '/api/v1/certificates?key_algorithm=rsa-pss' "$ADMIN_TOKEN")" "REST: filter by rsa-pss"
assert_eq "4 2048" "$(jq -r '"\(.items | length) \(.items[0].key_bits)"' "$T/resp")" "REST: four RSA-PSS records of 2048 bits"
assert_eq 0 "$(api GET '/api/v1/certificates?key_algorithm=rsa' "$ADMIN_TOKEN" >/dev/null; jq '[.items[] | select(.common_name | test("pss|elsewhere|other"))] | length' "$T/resp")" "none of them recorded as plain rsa"

stop_server
finish
