#!/usr/bin/env bash
# Every parser fed bad input from the command line: a clear one-line error, the documented
# exit code, and nothing changed in the inventory, the audit log or the authorities.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
cw issue --profile tls-server --cn good.example.test --key-type ec-p256 --out-cert "$T/good.pem" --out-key "$T/good.key" 2>/dev/null
openssl x509 -in "$T/good.pem" -outform DER -out "$T/good.der"
s0=$(state)

unchanged() { assert_eq "$s0" "$(state)" "$1 changed the database"; }

# Certificates: truncated DER, garbage PEM, trailing garbage, empty file.
head -c 200 "$T/good.der" >"$T/truncated.der"
assert_exit 3 "truncated DER" cw cert import "$T/truncated.der"; unchanged "truncated DER"
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' >"$T/garbage.pem"
assert_exit 3 "garbage PEM" cw cert import "$T/garbage.pem"; unchanged "garbage PEM"
{ cat "$T/good.der"; printf 'trailing'; } >"$T/trailing.der"
assert_exit 3 "DER with trailing bytes" cw cert import "$T/trailing.der"; unchanged "trailing DER"
: >"$T/empty.pem"
assert_exit 3 "empty file" cw cert import "$T/empty.pem"; unchanged "empty file"
assert_exit 4 "missing file" cw cert import "$T/does-not-exist.pem"; unchanged "missing file"

# PKCS#12: wrong password, no password, corrupt.
cw issue --profile tls-client --cn p12.example.test --key-type ec-p256 --p12 "$T/c.p12" --p12-password-env P12PW >/dev/null 2>&1 <<<"" || true
s0=$(state)
export P12PW=correct-horse
cw issue --profile tls-client --cn p12.example.test --key-type ec-p256 --p12 "$T/c.p12" --p12-password-env P12PW 2>/dev/null >/dev/null
s0=$(state)
export WRONG=battery-staple
assert_exit 3 "wrong PKCS#12 password" cw cert import "$T/c.p12" --password-env WRONG; unchanged "wrong PKCS#12 password"
assert_exit 3 "PKCS#12 without password" cw cert import "$T/c.p12"; unchanged "PKCS#12 without password"
head -c 300 "$T/c.p12" >"$T/cut.p12"
assert_exit 3 "truncated PKCS#12" cw cert import "$T/cut.p12" --password-env P12PW; unchanged "truncated PKCS#12"
if openssl pkcs12 -in "$T/c.p12" -passin env:P12PW -noout 2>/dev/null; then pass; else fail "openssl cannot read our PKCS#12"; fi

# CSRs: bad signature, garbage, truncated.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/csr.key" -subj "/CN=csr.example.test" -outform DER -out "$T/good.csr" 2>/dev/null
python3_flip() {  # flips one bit in the last byte (inside the signature)
  local size
  size=$(stat -c %s "$1")
  cp "$1" "$2"
  local last
  last=$(od -An -tu1 -j $((size - 1)) -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((last ^ 1)))" | dd of="$2" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
}
python3_flip "$T/good.csr" "$T/badsig.csr"
assert_exit 3 "CSR with a bad signature" cw issue --profile tls-server --csr "$T/badsig.csr"; unchanged "bad CSR signature"
printf 'not a csr' >"$T/garbage.csr"
assert_exit 3 "garbage CSR" cw issue --profile tls-server --csr "$T/garbage.csr"; unchanged "garbage CSR"
head -c 50 "$T/good.csr" >"$T/cut.csr"
assert_exit 3 "truncated CSR" cw issue --profile tls-server --csr "$T/cut.csr"; unchanged "truncated CSR"

# Requests the profile or RA must refuse.
assert_exit 4 "unknown profile" cw issue --profile no-such-profile --csr "$T/good.csr"; unchanged "unknown profile"
assert_exit 4 "unknown authority" cw issue --profile tls-server --authority nope --csr "$T/good.csr"; unchanged "unknown authority"
assert_exit 6 "validity above the profile maximum" cw issue --profile tls-server --csr "$T/good.csr" --validity 400d; unchanged "validity"
assert_exit 6 "leaf from a root" cw issue --profile tls-server --authority root --csr "$T/good.csr"; unchanged "leaf from root"
assert_exit 6 "key type outside the profile" cw issue --profile code-signing --key-type rsa-2048 --cn signer; unchanged "key type"
assert_exit 6 "email SAN in tls-server" cw issue --profile tls-server --csr "$T/good.csr" --san email:a@example.test; unchanged "email SAN"
assert_exit 3 "invalid DNS name" cw issue --profile tls-server --key-type ec-p256 --san "dns:bad..name"; unchanged "bad DNS"
assert_exit 3 "CSR and key type together" cw issue --profile tls-server --csr "$T/good.csr" --key-type ec-p256; unchanged "csr+key"
assert_exit 3 "bad key type" cw issue --profile tls-server --key-type rsa-1024 --cn x.example.test; unchanged "bad key type"
assert_exit 3 "bad duration" cw issue --profile tls-server --csr "$T/good.csr" --validity 12weeks; unchanged "bad duration"

# A requester confined by configuration: a profile restricted to a domain.
cat >"$T/restricted.toml" <<TOML
[profiles.internal-web]
allowed_domains = ["corp.example.test"]
allow_wildcards = false
TOML
assert_exit 6 "name outside the profile's domains" cw -c "$T/restricted.toml" issue --profile internal-web --key-type ec-p256 --cn www.other.test; unchanged "outside domains"
assert_exit 6 "wildcard refused" cw -c "$T/restricted.toml" issue --profile internal-web --key-type ec-p256 --cn "*.corp.example.test"; unchanged "wildcard"
assert_exit 6 "lookalike domain" cw -c "$T/restricted.toml" issue --profile internal-web --key-type ec-p256 --cn evilcorp.example.test.attacker.test; unchanged "lookalike"
cw -c "$T/restricted.toml" issue --profile internal-web --key-type ec-p256 --cn app.corp.example.test --out-cert "$T/in.pem" --out-key "$T/in.key" 2>/dev/null && pass || fail "allowed name refused"
s0=$(state)

# Configuration and flags.
printf 'unknown_key = 1\n' >"$T/bad.toml"
assert_exit 3 "unknown configuration key" cw -c "$T/bad.toml" cert list; unchanged "bad config"
printf '[database\n' >"$T/broken.toml"
assert_exit 3 "broken TOML" cw -c "$T/broken.toml" cert list; unchanged "broken toml"
printf '[profiles.x]\nkey_types = ["rsa-1024"]\n' >"$T/badprofile.toml"
assert_exit 3 "bad profile key type" cw -c "$T/badprofile.toml" cert list; unchanged "bad profile"
assert_exit 2 "unknown flag" cw issue --profile tls-server --no-such-flag; unchanged "unknown flag"
assert_exit 2 "missing subcommand" cw; unchanged "no subcommand"
assert_exit 3 "bad status filter" cw cert list --status sparkly; unchanged "bad status"
assert_exit 3 "bad cursor" cw cert list --cursor nonsense; unchanged "bad cursor"
assert_exit 3 "not a fingerprint" cw cert show zz-not-hex; unchanged "bad id"
assert_exit 4 "unknown fingerprint" cw cert show 0123456789abcdef; unchanged "unknown id"

# CA import: key that does not match, non-CA certificate, wrong passphrase, bad name.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$T/ext-ca.key" -out "$T/ext-ca.pem" -days 365 \
  -subj "/CN=External CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
assert_exit 6 "CA import with a mismatched key" cw ca import --name ext --cert "$T/ext-ca.pem" --key "$T/csr.key"; unchanged "mismatched key"
assert_exit 6 "CA import of a leaf" cw ca import --name ext --cert "$T/good.pem" --key "$T/good.key"; unchanged "leaf import"
openssl pkcs8 -topk8 -in "$T/ext-ca.key" -passout pass:right -out "$T/ext-ca-enc.key" 2>/dev/null
export KEYPW=wrong
assert_exit 3 "CA import with a wrong key passphrase" cw ca import --name ext --cert "$T/ext-ca.pem" --key "$T/ext-ca-enc.key" --key-passphrase-env KEYPW; unchanged "wrong passphrase"
assert_exit 3 "bad authority name" cw ca import --name "Bad Name" --cert "$T/ext-ca.pem" --key "$T/ext-ca.key"; unchanged "bad name"
assert_exit 5 "duplicate authority" cw ca create --name issuing --kind issuing --parent root --subject "CN=Dup"; unchanged "duplicate authority"
export KEYPW=right
cw ca import --name ext-root --cert "$T/ext-ca.pem" --key "$T/ext-ca-enc.key" --key-passphrase-env KEYPW >/dev/null && pass || fail "CA import with the right passphrase"
s0=$(state)
assert_exit 6 "leaf from an imported root" cw issue --profile tls-server --authority ext-root --cn x.example.test --key-type ec-p256; unchanged "leaf from imported root"
# A self-signed CA imported as "issuing" may sign leaves directly (roots sign only CAs).
cw ca import --name ext --kind issuing --cert "$T/ext-ca.pem" --key "$T/ext-ca-enc.key" --key-passphrase-env KEYPW >/dev/null && pass || fail "CA import as issuing"
cw issue --profile tls-server --authority ext --cn ext.example.test --key-type ec-p256 --out-cert "$T/ext-leaf.pem" --out-key "$T/ext-leaf.key" 2>/dev/null
if openssl verify -CAfile "$T/ext-ca.pem" "$T/ext-leaf.pem" >/dev/null; then pass; else fail "leaf from the imported CA"; fi

# The master key: a world-readable key file is refused.
chmod 644 "$CERTWARD_DATA_DIR/master.key"
assert_exit 6 "world-readable master key" cw issue --profile tls-server --cn x.example.test --key-type ec-p256
chmod 600 "$CERTWARD_DATA_DIR/master.key"
cw audit verify >/dev/null && pass || fail "audit verify"
finish
