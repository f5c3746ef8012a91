#!/usr/bin/env bash
# Every parser fed bad input from the command line: a clear one-line error, the documented
# exit code and stable error code (--json), and nothing changed in the inventory, the audit
# log or the authorities.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
cw issue --profile tls-server --cn good.example.test --key-type ec-p256 --out-cert "$T/good.pem" --out-key "$T/good.key" 2>/dev/null
openssl x509 -in "$T/good.pem" -outform DER -out "$T/good.der"
s0=$(state)

unchanged() { assert_eq "$s0" "$(state)" "$1 changed the database"; }

# Certificates: truncated DER, garbage PEM, trailing garbage, empty file.
head -c 200 "$T/good.der" >"$T/truncated.der"
assert_fails 3 malformed "truncated DER" cw cert import "$T/truncated.der"; unchanged "truncated DER"
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' >"$T/garbage.pem"
assert_fails 3 malformed "garbage PEM" cw cert import "$T/garbage.pem"; unchanged "garbage PEM"
{ cat "$T/good.der"; printf 'trailing'; } >"$T/trailing.der"
assert_fails 3 malformed "DER with trailing bytes" cw cert import "$T/trailing.der"; unchanged "trailing DER"
: >"$T/empty.pem"
assert_fails 3 malformed "empty file" cw cert import "$T/empty.pem"; unchanged "empty file"
assert_fails 4 not_found "missing file" cw cert import "$T/does-not-exist.pem"; unchanged "missing file"

# PKCS#12: wrong password, no password, corrupt.
cw issue --profile tls-client --cn p12.example.test --key-type ec-p256 --p12 "$T/c.p12" --p12-password-env P12PW >/dev/null 2>&1 <<<"" || true
s0=$(state)
export P12PW=correct-horse
cw issue --profile tls-client --cn p12.example.test --key-type ec-p256 --p12 "$T/c.p12" --p12-password-env P12PW 2>/dev/null >/dev/null
s0=$(state)
export WRONG=battery-staple
assert_fails 3 bad_password "wrong PKCS#12 password" cw cert import "$T/c.p12" --password-env WRONG; unchanged "wrong PKCS#12 password"
assert_fails 3 bad_password "PKCS#12 without password" cw cert import "$T/c.p12"; unchanged "PKCS#12 without password"
head -c 300 "$T/c.p12" >"$T/cut.p12"
assert_fails 3 malformed "truncated PKCS#12" cw cert import "$T/cut.p12" --password-env P12PW; unchanged "truncated PKCS#12"
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
assert_fails 3 bad_signature "CSR with a bad signature" cw issue --profile tls-server --csr "$T/badsig.csr"; unchanged "bad CSR signature"
printf 'not a csr' >"$T/garbage.csr"
assert_fails 3 malformed "garbage CSR" cw issue --profile tls-server --csr "$T/garbage.csr"; unchanged "garbage CSR"
head -c 50 "$T/good.csr" >"$T/cut.csr"
assert_fails 3 malformed "truncated CSR" cw issue --profile tls-server --csr "$T/cut.csr"; unchanged "truncated CSR"

# Requests the profile or RA must refuse.
assert_fails 4 not_found "unknown profile" cw issue --profile no-such-profile --csr "$T/good.csr"; unchanged "unknown profile"
assert_fails 4 not_found "unknown authority" cw issue --profile tls-server --authority nope --csr "$T/good.csr"; unchanged "unknown authority"
assert_fails 6 policy_rejected "validity above the profile maximum" cw issue --profile tls-server --csr "$T/good.csr" --validity 400d; unchanged "validity"
assert_fails 6 policy_rejected "leaf from a root" cw issue --profile tls-server --authority root --csr "$T/good.csr"; unchanged "leaf from root"
assert_fails 6 policy_rejected "key type outside the profile" cw issue --profile code-signing --key-type rsa-2048 --cn signer; unchanged "key type"
assert_fails 6 policy_rejected "email SAN in tls-server" cw issue --profile tls-server --csr "$T/good.csr" --san email:a@example.test; unchanged "email SAN"
assert_fails 3 malformed "invalid DNS name" cw issue --profile tls-server --key-type ec-p256 --san "dns:bad..name"; unchanged "bad DNS"
assert_fails 3 invalid_argument "CSR and key type together" cw issue --profile tls-server --csr "$T/good.csr" --key-type ec-p256; unchanged "csr+key"
assert_fails 3 invalid_argument "bad key type" cw issue --profile tls-server --key-type rsa-1024 --cn x.example.test; unchanged "bad key type"
assert_fails 3 malformed "bad duration" cw issue --profile tls-server --csr "$T/good.csr" --validity 12weeks; unchanged "bad duration"

# A requester confined by configuration: a profile restricted to a domain.
cat >"$T/restricted.toml" <<TOML
[profiles.internal-web]
allowed_domains = ["corp.example.test"]
allow_wildcards = false
TOML
assert_fails 6 policy_rejected "name outside the profile's domains" cw -c "$T/restricted.toml" issue --profile internal-web --key-type ec-p256 --cn www.other.test; unchanged "outside domains"
assert_fails 6 policy_rejected "wildcard refused" cw -c "$T/restricted.toml" issue --profile internal-web --key-type ec-p256 --cn "*.corp.example.test"; unchanged "wildcard"
assert_fails 6 policy_rejected "lookalike domain" cw -c "$T/restricted.toml" issue --profile internal-web --key-type ec-p256 --cn evilcorp.example.test.attacker.test; unchanged "lookalike"
cw -c "$T/restricted.toml" issue --profile internal-web --key-type ec-p256 --cn app.corp.example.test --out-cert "$T/in.pem" --out-key "$T/in.key" 2>/dev/null && pass || fail "allowed name refused"
s0=$(state)

# Labels on a certificate: refused changes leave it (and the audit log) as it was.
fp_good=$(openssl x509 -in "$T/good.pem" -outform DER | sha256sum | cut -d' ' -f1)
assert_fails 3 invalid_argument "tag with a space" cw cert set "$fp_good" --add-tag "two words"; unchanged "bad tag"
assert_fails 3 invalid_argument "tag too long" cw cert set "$fp_good" --tags "$(head -c 65 /dev/zero | tr '\0' t)"; unchanged "long tag"
assert_fails 3 invalid_argument "unknown team" cw cert set "$fp_good" --team nowhere; unchanged "unknown team"
assert_fails 3 invalid_argument "owner and --no-owner" cw cert set "$fp_good" --owner a --no-owner; unchanged "owner conflict"
assert_fails 3 invalid_argument "nothing to change" cw cert set "$fp_good"; unchanged "nothing to change"
assert_fails 4 not_found "unknown certificate" cw cert set 0123456789abcdef --owner x; unchanged "unknown certificate"
assert_fails 3 invalid_argument "issue with a bad tag" cw issue --profile tls-server --key-type ec-p256 --cn t.example.test --tag "a,b"; unchanged "issue bad tag"
assert_fails 3 invalid_argument "import with a bad tag" cw cert import "$T/one.pem" --tag "x y"; unchanged "import bad tag"
cw cert set "$fp_good" --owner ops@example.test --add-tag Edge >/dev/null && pass || fail "cert set"
assert_eq "ops@example.test edge" "$(cw --json cert show "$fp_good" | jq -r '.owner + " " + (.tags | join(","))')" "cert set stored"
s0=$(state)

# Configuration and flags.
printf 'unknown_key = 1\n' >"$T/bad.toml"
assert_fails 3 malformed "unknown configuration key" cw -c "$T/bad.toml" cert list; unchanged "bad config"
printf '[database\n' >"$T/broken.toml"
assert_fails 3 malformed "broken TOML" cw -c "$T/broken.toml" cert list; unchanged "broken toml"
printf '[profiles.x]\nkey_types = ["rsa-1024"]\n' >"$T/badprofile.toml"
assert_fails 3 malformed "bad profile key type" cw -c "$T/badprofile.toml" cert list; unchanged "bad profile"
assert_exit 2 "unknown flag" cw issue --profile tls-server --no-such-flag; unchanged "unknown flag"
assert_exit 2 "missing subcommand" cw; unchanged "no subcommand"
assert_fails 3 invalid_argument "bad status filter" cw cert list --status sparkly; unchanged "bad status"
assert_fails 3 invalid_argument "bad cursor" cw cert list --cursor nonsense; unchanged "bad cursor"
assert_fails 3 invalid_argument "not a fingerprint" cw cert show zz-not-hex; unchanged "bad id"
assert_fails 4 not_found "unknown fingerprint" cw cert show 0123456789abcdef; unchanged "unknown id"

# CA import: key that does not match, non-CA certificate, wrong passphrase, bad name.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$T/ext-ca.key" -out "$T/ext-ca.pem" -days 365 \
  -subj "/CN=External CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
assert_fails 6 policy_rejected "CA import with a mismatched key" cw ca import --name ext --cert "$T/ext-ca.pem" --key "$T/csr.key"; unchanged "mismatched key"
assert_fails 6 policy_rejected "CA import of a leaf" cw ca import --name ext --cert "$T/good.pem" --key "$T/good.key"; unchanged "leaf import"
openssl pkcs8 -topk8 -in "$T/ext-ca.key" -passout pass:right -out "$T/ext-ca-enc.key" 2>/dev/null
export KEYPW=wrong
assert_fails 3 bad_password "CA import with a wrong key passphrase" cw ca import --name ext --cert "$T/ext-ca.pem" --key "$T/ext-ca-enc.key" --key-passphrase-env KEYPW; unchanged "wrong passphrase"
assert_fails 3 invalid_argument "bad authority name" cw ca import --name "Bad Name" --cert "$T/ext-ca.pem" --key "$T/ext-ca.key"; unchanged "bad name"
assert_fails 5 conflict "duplicate authority" cw ca create --name issuing --kind issuing --parent root --subject "CN=Dup"; unchanged "duplicate authority"
# One authority-creation rule for the CLI and REST (ca::create_authority): path length 0..16.
assert_fails 3 invalid_argument "path length above 16" cw ca create --name deep --kind intermediate --parent root --subject "CN=Deep" --path-length 17; unchanged "path length above 16"
assert_fails 3 invalid_argument "root path length above 16" cw ca create --name deep --kind root --subject "CN=Deep" --path-length 100; unchanged "root path length above 16"
assert_fails 3 invalid_argument "subtree that is no domain" cw ca create --name sub --kind issuing --parent root --subject "CN=Sub" --permit "dns:a.test,excluded;DNS:b.test"; unchanged "subtree that is no domain"

# Private keys in every container the key parser takes, each broken: PEM, DER, PKCS#8 plain and
# encrypted, traditional EC.
ca_key() { cw ca import --name ext --cert "$T/ext-ca.pem" --key "$1" "${@:2}"; }
printf -- '-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n' >"$T/garbage.key"
assert_fails 3 malformed "garbage PEM key" ca_key "$T/garbage.key"; unchanged "garbage PEM key"
head -c 120 "$T/ext-ca.key" >"$T/cut.key"
assert_fails 3 malformed "truncated PEM key" ca_key "$T/cut.key"; unchanged "truncated PEM key"
: >"$T/empty.key"
assert_fails 3 malformed "empty key file" ca_key "$T/empty.key"; unchanged "empty key file"
openssl pkcs8 -topk8 -nocrypt -in "$T/ext-ca.key" -outform DER -out "$T/p8.der"
head -c 60 "$T/p8.der" >"$T/p8-cut.der"
assert_fails 3 malformed "truncated PKCS#8 DER" ca_key "$T/p8-cut.der"; unchanged "truncated PKCS#8 DER"
{ cat "$T/p8.der"; printf 'x'; } >"$T/p8-trailing.der"
assert_fails 3 malformed "PKCS#8 DER with a trailing byte" ca_key "$T/p8-trailing.der"; unchanged "PKCS#8 trailing"
openssl ec -in "$T/ext-ca.key" -outform DER -out "$T/trad.der" 2>/dev/null
head -c 40 "$T/trad.der" >"$T/trad-cut.der"
assert_fails 3 malformed "truncated traditional EC DER" ca_key "$T/trad-cut.der"; unchanged "traditional EC DER"
openssl pkey -in "$T/ext-ca.key" -pubout -out "$T/pub.pem"
assert_fails 3 malformed "public key given as the private key" ca_key "$T/pub.pem"; unchanged "public key"
assert_fails 3 malformed "certificate given as the private key" ca_key "$T/ext-ca.pem"; unchanged "certificate as key"
openssl pkcs8 -topk8 -in "$T/ext-ca.key" -passout pass:right -outform DER -out "$T/enc.der" 2>/dev/null
unset KEYPW
assert_fails 3 bad_password "encrypted PKCS#8 without a passphrase" ca_key "$T/ext-ca-enc.key"; unchanged "no passphrase"
export KEYPW=right
# One flipped byte near the end lands in the ciphertext: the right passphrase cannot open it.
# Flipped, not overwritten: the ciphertext is random, and a byte set to a fixed value is
# already that value in one run out of 256.
size=$(stat -c %s "$T/enc.der")
cp "$T/enc.der" "$T/enc-flipped.der"
byte=$(od -An -tu1 -j $((size - 3)) -N1 "$T/enc.der" | tr -d ' ')
printf "\\$(printf '%03o' $((byte ^ 0xff)))" | dd of="$T/enc-flipped.der" bs=1 seek=$((size - 3)) conv=notrunc 2>/dev/null
cmp -s "$T/enc.der" "$T/enc-flipped.der" && fail "the corrupted copy of enc.der is unchanged"
assert_fails 3 bad_password "encrypted PKCS#8 DER with a corrupted ciphertext" ca_key "$T/enc-flipped.der" --key-passphrase-env KEYPW; unchanged "corrupted ciphertext"
head -c 80 "$T/enc.der" >"$T/enc-cut.der"
assert_fails 3 malformed "truncated encrypted PKCS#8 DER" ca_key "$T/enc-cut.der" --key-passphrase-env KEYPW; unchanged "truncated encrypted"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.key" 2>/dev/null
assert_fails 6 policy_rejected "a valid key of another algorithm" ca_key "$T/rsa.key"; unchanged "other algorithm"

# Bundles and PKCS#7: one bad block spoils the whole file; nothing from it is imported.
for n in one two; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$n.key" -out "$T/$n.pem" \
    -days 30 -subj "/CN=$n.bundle.test" 2>/dev/null
done
{ cat "$T/one.pem"; printf -- '-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n'; cat "$T/two.pem"; } >"$T/mixed.pem"
assert_fails 3 malformed "bundle with one bad block" cw cert import "$T/mixed.pem"; unchanged "mixed bundle"
{ cat "$T/one.pem"; head -n 5 "$T/two.pem"; } >"$T/cut-bundle.pem"
assert_fails 3 malformed "bundle whose last block is cut" cw cert import "$T/cut-bundle.pem"; unchanged "cut bundle"
openssl crl2pkcs7 -nocrl -certfile "$T/one.pem" -certfile "$T/two.pem" -outform DER -out "$T/two.p7b"
head -c 300 "$T/two.p7b" >"$T/cut.p7b"
assert_fails 3 malformed "truncated PKCS#7" cw cert import "$T/cut.p7b"; unchanged "truncated PKCS#7"
openssl crl2pkcs7 -nocrl -certfile "$T/one.pem" -certfile "$T/two.pem" -out "$T/two-p7.pem"
sed '3s/./#/' "$T/two-p7.pem" >"$T/bad-p7.pem"
assert_fails 3 malformed "PKCS#7 PEM with a bad character" cw cert import "$T/bad-p7.pem"; unchanged "bad PKCS#7 PEM"
openssl crl2pkcs7 -nocrl -outform DER -out "$T/empty.p7b"
assert_fails 3 malformed "PKCS#7 without certificates" cw cert import "$T/empty.p7b"; unchanged "empty PKCS#7"
# The intact files import both certificates.
cw cert import "$T/two.p7b" >/dev/null && pass || fail "intact PKCS#7"
assert_eq 2 "$(db_scalar "SELECT COUNT(*) FROM certificates WHERE subject LIKE '%bundle.test%'")" "both certificates from the PKCS#7"
s0=$(state)
export KEYPW=right
cw ca import --name ext-root --cert "$T/ext-ca.pem" --key "$T/ext-ca-enc.key" --key-passphrase-env KEYPW >/dev/null && pass || fail "CA import with the right passphrase"
s0=$(state)
assert_fails 6 policy_rejected "leaf from an imported root" cw issue --profile tls-server --authority ext-root --cn x.example.test --key-type ec-p256; unchanged "leaf from imported root"
# A self-signed CA imported as "issuing" may sign leaves directly (roots sign only CAs).
cw ca import --name ext --kind issuing --cert "$T/ext-ca.pem" --key "$T/ext-ca-enc.key" --key-passphrase-env KEYPW >/dev/null && pass || fail "CA import as issuing"
cw issue --profile tls-server --authority ext --cn ext.example.test --key-type ec-p256 --out-cert "$T/ext-leaf.pem" --out-key "$T/ext-leaf.key" 2>/dev/null
if openssl verify -CAfile "$T/ext-ca.pem" "$T/ext-leaf.pem" >/dev/null; then pass; else fail "leaf from the imported CA"; fi

# The master key: a world-readable key file is refused.
chmod 644 "$CERTWARD_DATA_DIR/master.key"
assert_fails 6 policy_rejected "world-readable master key" cw issue --profile tls-server --cn x.example.test --key-type ec-p256
chmod 600 "$CERTWARD_DATA_DIR/master.key"
cw audit verify >/dev/null && pass || fail "audit verify"
finish
