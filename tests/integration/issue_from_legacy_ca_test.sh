#!/usr/bin/env bash
# CAs without a subjectKeyIdentifier (made with `subjectKeyIdentifier = none`, as CAs older
# than the extension are) are imported through the CLI and the REST API and then issue:
# what they sign names them by the SHA-1 of their public key (RFC 5280 4.2.1.2), and
# `openssl verify` chains the leaves to them.
source "$(dirname "$0")/lib.sh"

cat >"$T/legacy.cnf" <<'CNF'
[req]
distinguished_name = dn
[dn]
[v3_legacy_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = none
authorityKeyIdentifier = none
CNF
openssl req -x509 -config "$T/legacy.cnf" -extensions v3_legacy_ca -newkey rsa:2048 -nodes \
  -keyout "$T/root.key" -subj "/CN=Legacy Root/O=Old" -days 3650 -out "$T/legacy-root.pem" 2>/dev/null
openssl req -new -config "$T/legacy.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$T/mid.key" -subj "/CN=Legacy Issuing/O=Old" -out "$T/mid.csr" 2>/dev/null
openssl x509 -req -in "$T/mid.csr" -CA "$T/legacy-root.pem" -CAkey "$T/root.key" -CAcreateserial \
  -extfile "$T/legacy.cnf" -extensions v3_legacy_ca -days 1825 -out "$T/legacy-mid.pem" 2>/dev/null
for f in legacy-root legacy-mid; do
  openssl x509 -in "$T/$f.pem" -noout -text | grep -q 'Key Identifier' && fail "$f carries a key identifier" || pass
done
# The key identifier OpenSSL computes for a key ("hash"): SHA-1 of the subjectPublicKey bits.
key_id() {
  openssl req -new -x509 -key "$1" -subj /CN=probe -days 1 -addext subjectKeyIdentifier=hash 2>/dev/null |
    openssl x509 -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr 'A-F' 'a-f'
}
aki_of() { openssl x509 -in "$1" -noout -ext authorityKeyIdentifier | tail -1 | sed 's/keyid://' | tr -d ' :' | tr 'A-F' 'a-f'; }

# CLI: import the legacy root, create an issuing CA under it, issue a leaf from that.
cw init >/dev/null
cw ca import --name legacy-root --cert "$T/legacy-root.pem" --key "$T/root.key" >/dev/null && pass || fail "CLI: ca import of a root without SKI"
cw ca create --kind issuing --name legacy-issuing --parent legacy-root --subject "CN=Legacy Issuing 2,O=Old" >/dev/null && pass || fail "CLI: issuing CA under the legacy root"
cw ca export legacy-issuing >"$T/issuing.pem"
assert_eq "$(key_id "$T/root.key")" "$(aki_of "$T/issuing.pem")" "the issuing CA's AKI is the root key's hash"
cw issue --profile tls-server --authority legacy-issuing --cn www.legacy.test --key-type ec-p256 \
  --out-cert "$T/leaf1.pem" --out-chain "$T/leaf1-chain.pem" --out-key "$T/leaf1.key" 2>/dev/null && pass || fail "CLI: issue under the legacy root"
if openssl verify -CAfile "$T/legacy-root.pem" -untrusted "$T/leaf1-chain.pem" "$T/leaf1.pem" >/dev/null; then pass; else fail "openssl verify: leaf under the legacy root"; fi

# CLI: import the legacy intermediate with its root as chain and issue from it directly.
cw ca import --name legacy-mid --cert "$T/legacy-mid.pem" --key "$T/mid.key" --chain "$T/legacy-root.pem" >/dev/null && pass || fail "CLI: ca import of an intermediate without SKI"
cw issue --profile tls-server --authority legacy-mid --cn api.legacy.test --key-type ec-p256 \
  --out-cert "$T/leaf2.pem" --out-chain "$T/leaf2-chain.pem" --out-key "$T/leaf2.key" 2>/dev/null && pass || fail "CLI: issue from the legacy intermediate"
assert_eq "$(key_id "$T/mid.key")" "$(aki_of "$T/leaf2.pem")" "the leaf's AKI is the intermediate key's hash"
if openssl verify -CAfile "$T/legacy-root.pem" -untrusted "$T/leaf2-chain.pem" "$T/leaf2.pem" >/dev/null; then pass; else fail "openssl verify: leaf from the legacy intermediate"; fi

# REST: the same intermediate imported under another name through the API, then used.
start_server
body=$(jq -n --rawfile cert "$T/legacy-mid.pem" --rawfile key "$T/mid.key" --rawfile chain "$T/legacy-root.pem" \
  '{name: "legacy-mid-api", certificate_pem: $cert, private_key_pem: $key, chain_pem: $chain}')
assert_eq 201 "$(api POST /api/v1/authorities/import "$ADMIN_TOKEN" "$body")" "REST: import an intermediate without SKI"
assert_eq 201 "$(api POST /api/v1/certificates "$ADMIN_TOKEN" '{"profile":"tls-server","authority":"legacy-mid-api","key_type":"ec-p256","common_name":"rest.legacy.test"}')" "REST: issue from it"
jq -r .certificate_pem "$T/resp" >"$T/leaf3.pem"
jq -r .chain_pem "$T/resp" >"$T/leaf3-chain.pem"
if openssl verify -CAfile "$T/legacy-root.pem" -untrusted "$T/leaf3-chain.pem" "$T/leaf3.pem" >/dev/null; then pass; else fail "openssl verify: REST leaf"; fi
stop_server
finish
