#!/usr/bin/env bash
# certward init, then issue with each built-in profile: openssl verify accepts the chain and
# `openssl x509 -text` shows exactly the profile's extensions.
source "$(dirname "$0")/lib.sh"

cat >"$T/certward.toml" <<TOML
[ca]
crl_base_url = "http://127.0.0.1:8080/crl"
ocsp_url = "http://127.0.0.1:8080/ocsp"
TOML
export CERTWARD_CONFIG="$T/certward.toml"

cw init >/dev/null
cw ca export root >"$T/root.pem"
cw ca export issuing --chain >"$T/issuing-chain.pem"

# The extension names (and criticality) in the order openssl prints them.
extensions() {
  openssl x509 -in "$1" -noout -text |
    sed -n '/X509v3 extensions:/,/Signature Algorithm:/p' |
    grep -E '^ {12}[A-Za-z]' | sed -E 's/^ +//; s/ *$//' | tr '\n' '|'
}
ext_value() {  # file, extension header -> its first value line
  openssl x509 -in "$1" -noout -text | grep -A1 -F "$2" | tail -1 | sed -E 's/^ +//; s/ *$//'
}

common="X509v3 Subject Key Identifier:|X509v3 Authority Key Identifier:|X509v3 CRL Distribution Points:|Authority Information Access:|"

# tls-server from a server-side key.
cw issue --profile tls-server --cn www.example.test --san dns:api.example.test --key-type ec-p256 \
  --out-cert "$T/server.pem" --out-key "$T/server.key" 2>/dev/null
if openssl verify -x509_strict -purpose sslserver -CAfile "$T/root.pem" -untrusted "$T/issuing-chain.pem" "$T/server.pem" >/dev/null; then pass; else fail "openssl verify rejected the tls-server certificate"; fi
assert_eq "X509v3 Basic Constraints: critical|X509v3 Key Usage: critical|X509v3 Extended Key Usage:|X509v3 Subject Alternative Name:|${common}" "$(extensions "$T/server.pem")" "tls-server extensions"
assert_eq "CA:FALSE" "$(ext_value "$T/server.pem" "X509v3 Basic Constraints")" "tls-server basic constraints"
assert_eq "Digital Signature" "$(ext_value "$T/server.pem" "X509v3 Key Usage")" "tls-server key usage"
assert_eq "TLS Web Server Authentication" "$(ext_value "$T/server.pem" "X509v3 Extended Key Usage")" "tls-server EKU"
assert_eq "DNS:www.example.test, DNS:api.example.test" "$(ext_value "$T/server.pem" "X509v3 Subject Alternative Name")" "tls-server SANs"
assert_eq "URI:http://127.0.0.1:8080/crl/issuing.crl" "$(openssl x509 -in "$T/server.pem" -noout -text | grep -A3 'CRL Distribution' | grep URI | sed -E 's/^ +//')" "CDP"
assert_eq "http://127.0.0.1:8080/ocsp" "$(openssl x509 -in "$T/server.pem" -noout -ocsp_uri)" "OCSP URL"
if openssl pkey -in "$T/server.key" -noout 2>/dev/null; then pass; else fail "generated key is not a readable PKCS#8 key"; fi
assert_eq "600" "$(stat -c %a "$T/server.key")" "key file mode"
assert_eq "$(openssl x509 -in "$T/server.pem" -noout -pubkey)" "$(openssl pkey -in "$T/server.key" -pubout)" "key matches certificate"
if openssl verify -x509_strict -purpose sslserver -verify_hostname api.example.test -CAfile "$T/root.pem" -untrusted "$T/issuing-chain.pem" "$T/server.pem" >/dev/null; then pass; else fail "hostname verification"; fi

# tls-server from an openssl-made CSR, RSA: keyEncipherment is added for RSA.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj "/CN=rsa.example.test" -out "$T/rsa.csr" 2>/dev/null
cw issue --profile tls-server --csr "$T/rsa.csr" --out-cert "$T/rsa.pem" 2>/dev/null
if openssl verify -x509_strict -purpose sslserver -CAfile "$T/root.pem" -untrusted "$T/issuing-chain.pem" "$T/rsa.pem" >/dev/null; then pass; else fail "openssl verify rejected the RSA certificate"; fi
assert_eq "Digital Signature, Key Encipherment" "$(ext_value "$T/rsa.pem" "X509v3 Key Usage")" "RSA tls-server key usage"
assert_eq "DNS:rsa.example.test" "$(ext_value "$T/rsa.pem" "X509v3 Subject Alternative Name")" "CN promoted to SAN"
assert_eq "$(openssl req -in "$T/rsa.csr" -noout -pubkey)" "$(openssl x509 -in "$T/rsa.pem" -noout -pubkey)" "CSR key certified"

# The other built-in leaf profiles.
check_profile() {  # profile purpose expected-extensions issue-args...
  local profile=$1 purpose=$2 want=$3
  shift 3
  cw issue --profile "$profile" --out-cert "$T/$profile.pem" --out-key "$T/$profile.key" "$@" 2>/dev/null
  if openssl verify -x509_strict -purpose "$purpose" -CAfile "$T/root.pem" -untrusted "$T/issuing-chain.pem" "$T/$profile.pem" >/dev/null; then pass; else fail "openssl verify rejected the $profile certificate"; fi
  assert_eq "$want" "$(extensions "$T/$profile.pem")" "$profile extensions"
}
check_profile tls-client sslclient "X509v3 Basic Constraints: critical|X509v3 Key Usage: critical|X509v3 Extended Key Usage:|X509v3 Subject Alternative Name:|${common}" --key-type ec-p256 --cn client.example.test --san email:alice@example.test
check_profile code-signing any "X509v3 Basic Constraints: critical|X509v3 Key Usage: critical|X509v3 Extended Key Usage:|X509v3 Subject Alternative Name:|${common}" --key-type ec-p256 --cn signer.example.test
# The common name is a requested name in every profile: it must be one, and it joins the SANs.
assert_eq "DNS:signer.example.test" "$(ext_value "$T/code-signing.pem" "X509v3 Subject Alternative Name")" "code-signing CN is a SAN"
s0=$(state)
assert_exit 3 "a common name that is no name" cw issue --profile code-signing --key-type ec-p256 --cn "Example Code Signer"
assert_eq "$s0" "$(state)" "refused common name changed the database"
check_profile smime smimesign "X509v3 Basic Constraints: critical|X509v3 Key Usage: critical|X509v3 Extended Key Usage:|X509v3 Subject Alternative Name:|${common}" --key-type ec-p256 --san email:bob@example.test
check_profile device sslclient "X509v3 Basic Constraints: critical|X509v3 Key Usage: critical|X509v3 Extended Key Usage:|X509v3 Subject Alternative Name:|${common}" --key-type ed25519 --cn device-42 --san uri:spiffe://example.test/device/42
assert_eq "Code Signing" "$(ext_value "$T/code-signing.pem" "X509v3 Extended Key Usage")" "code-signing EKU"
assert_eq "E-mail Protection" "$(ext_value "$T/smime.pem" "X509v3 Extended Key Usage")" "smime EKU"
assert_eq "TLS Web Client Authentication, TLS Web Server Authentication" "$(ext_value "$T/device.pem" "X509v3 Extended Key Usage")" "device EKU"

# intermediate-ca through `ca create`: path length and name constraints.
cw ca create --name team-ca --kind issuing --parent root --subject "CN=Team CA,O=Example" --permit dns:team.example.test --permit ip:10.0.0.0/8 >/dev/null
cw ca export team-ca >"$T/team-ca.pem"
assert_eq "X509v3 Basic Constraints: critical|X509v3 Key Usage: critical|${common}X509v3 Name Constraints: critical|" \
  "$(extensions "$T/team-ca.pem")" "intermediate-ca extensions"
assert_eq "CA:TRUE, pathlen:0" "$(ext_value "$T/team-ca.pem" "X509v3 Basic Constraints")" "intermediate-ca basic constraints"
assert_eq "Digital Signature, Certificate Sign, CRL Sign" "$(ext_value "$T/team-ca.pem" "X509v3 Key Usage")" "intermediate-ca key usage"
if openssl verify -x509_strict -CAfile "$T/root.pem" "$T/team-ca.pem" >/dev/null; then pass; else fail "team CA does not verify"; fi
cw issue --profile tls-server --authority team-ca --cn a.team.example.test --key-type ec-p256 --out-chain "$T/team-leaf-chain.pem" --out-key "$T/team-leaf.key" 2>/dev/null
if openssl verify -x509_strict -purpose sslserver -CAfile "$T/root.pem" -untrusted "$T/team-leaf-chain.pem" "$T/team-leaf-chain.pem" >/dev/null; then pass; else fail "leaf under a name-constrained CA"; fi

# The RA refuses names outside the constraints of any CA on the path, and changes nothing.
s0=$(state)
assert_exit 6 "DNS name outside the CA's name constraints" cw issue --profile tls-server --authority team-ca --cn www.other.test --key-type ec-p256
assert_exit 6 "IP outside the CA's name constraints" cw issue --profile tls-server --authority team-ca --cn b.team.example.test --san ip:192.168.1.1 --key-type ec-p256
assert_eq "$s0" "$(state)" "refused issuance changed the database"
cw issue --profile tls-server --authority team-ca --cn c.team.example.test --san ip:10.1.2.3 --key-type ec-p256 --out-chain "$T/ip-chain.pem" --out-key "$T/ip.key" 2>/dev/null
if openssl verify -x509_strict -purpose sslserver -CAfile "$T/root.pem" -untrusted "$T/ip-chain.pem" "$T/ip-chain.pem" >/dev/null; then pass; else fail "IP inside the name constraints"; fi

# Everything issued is in the inventory, and the audit chain holds.
assert_eq "$(db_scalar "SELECT COUNT(*) FROM certificates")" "$(cw cert list --json --limit 1000 | grep -c '"fingerprint"')" "inventory rows listed"
cw audit verify >/dev/null && pass || fail "audit verify"
finish
