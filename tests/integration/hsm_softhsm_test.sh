#!/usr/bin/env bash
# Authorities whose keys live in a PKCS#11 token (SoftHSM2), driven through the CLI and the
# REST API: a root and an issuing CA generated in the token, a CA bound to a key already
# there; certificates, a CRL and an OCSP response signed by the token and verified by openssl;
# the private keys cannot be read or wrapped out of the token (tried with PyKCS11); the token
# taken away mid-run makes issuance unavailable without recording anything, and it is used
# again once it is back; hostile requests (an unconfigured token, a library named over REST,
# an extractable key, a label taken twice, Ed25519) are refused and change nothing.
source "$(dirname "$0")/lib.sh"

MODULE=/usr/lib/softhsm/libsofthsm2.so
PIN=hsm-pin-4711-x9
start_softhsm ca-token "$PIN"
export CERTWARD_HSM_PIN=$PIN

cat >"$T/certward.toml" <<EOF
[ca]
authority_recheck = "1s"
[ca.pkcs11]
module = "$MODULE"
[ca.pkcs11.tokens."ca-token"]
pin_env = "CERTWARD_HSM_PIN"
[revocation]
refresh_interval = "1s"
ocsp_signer = "ca"
EOF
export CERTWARD_CONFIG=$T/certward.toml

# PyKCS11 on Debian's interpreter: the token as any other PKCS#11 application sees it.
p11() {
  PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$MODULE" "$PIN" "$@" <<'PY'
import sys, PyKCS11
module, pin, cmd, *args = sys.argv[1:]
lib = PyKCS11.PyKCS11Lib(); lib.load(module)
slot = [s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == "ca-token"][0]
s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
s.login(pin)
def priv(label):
    return s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, label)])
if cmd == "count":          # how many private keys carry the label
    print(len(priv(args[0])))
elif cmd == "steal":        # every way to get the private key out; prints what each gave
    k = priv(args[0])[0]
    out = []
    for name, attr in (("value", PyKCS11.CKA_VALUE), ("d", PyKCS11.CKA_PRIVATE_EXPONENT)):
        try:
            v = s.getAttributeValue(k, [attr])[0]
            out.append(f"{name}:{'none' if v is None else 'READ'}")
        except PyKCS11.PyKCS11Error as e:
            out.append(f"{name}:{e.value}")
    try:
        s.setAttributeValue(k, [(PyKCS11.CKA_EXTRACTABLE, True)]); out.append("set:CHANGED")
    except PyKCS11.PyKCS11Error as e:
        out.append("set:refused")
    aes = s.generateKey([(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
                         (PyKCS11.CKA_VALUE_LEN, 32), (PyKCS11.CKA_WRAP, True), (PyKCS11.CKA_TOKEN, False)],
                        PyKCS11.Mechanism(PyKCS11.CKM_AES_KEY_GEN))
    try:
        s.wrapKey(aes, k, PyKCS11.Mechanism(PyKCS11.CKM_AES_KEY_WRAP_PAD)); out.append("wrap:WRAPPED")
    except PyKCS11.PyKCS11Error as e:
        out.append("wrap:refused")
    print(" ".join(out))
elif cmd == "keypair":      # label id-hex extractable(0/1): an EC P-256 pair made by another tool
    label, kid, extractable = args[0], bytes.fromhex(args[1]), args[2] == "1"
    s.generateKeyPair(
        [(PyKCS11.CKA_TOKEN, True), (PyKCS11.CKA_VERIFY, True), (PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_ID, kid),
         (PyKCS11.CKA_EC_PARAMS, bytes.fromhex("06082a8648ce3d030107"))],
        [(PyKCS11.CKA_TOKEN, True), (PyKCS11.CKA_PRIVATE, True), (PyKCS11.CKA_SENSITIVE, not extractable),
         (PyKCS11.CKA_EXTRACTABLE, extractable), (PyKCS11.CKA_SIGN, True), (PyKCS11.CKA_DECRYPT, False),
         (PyKCS11.CKA_DERIVE, False), (PyKCS11.CKA_UNWRAP, False), (PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_ID, kid)],
        mecha=PyKCS11.Mechanism(PyKCS11.CKM_EC_KEY_PAIR_GEN))
elif cmd == "once-extractable":  # label id-hex: extractable at first, then made sensitive
    label, kid = args[0], bytes.fromhex(args[1])
    pub, priv = s.generateKeyPair(
        [(PyKCS11.CKA_TOKEN, True), (PyKCS11.CKA_VERIFY, True), (PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_ID, kid),
         (PyKCS11.CKA_EC_PARAMS, bytes.fromhex("06082a8648ce3d030107"))],
        [(PyKCS11.CKA_TOKEN, True), (PyKCS11.CKA_PRIVATE, True), (PyKCS11.CKA_SENSITIVE, False),
         (PyKCS11.CKA_EXTRACTABLE, True), (PyKCS11.CKA_SIGN, True), (PyKCS11.CKA_DECRYPT, False),
         (PyKCS11.CKA_DERIVE, False), (PyKCS11.CKA_UNWRAP, False), (PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_ID, kid)],
        mecha=PyKCS11.Mechanism(PyKCS11.CKM_EC_KEY_PAIR_GEN))
    s.getAttributeValue(priv, [PyKCS11.CKA_VALUE])  # read out while it could be
    s.setAttributeValue(priv, [(PyKCS11.CKA_SENSITIVE, True)])
    s.setAttributeValue(priv, [(PyKCS11.CKA_EXTRACTABLE, False)])
elif cmd == "swap-public":  # id-hex other-label: the public object under id becomes another key's
    kid, other = bytes.fromhex(args[0]), args[1]
    for o in s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_ID, kid)]):
        s.destroyObject(o)
    src = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_LABEL, other)])[0]
    params, point = s.getAttributeValue(src, [PyKCS11.CKA_EC_PARAMS, PyKCS11.CKA_EC_POINT])
    s.createObject([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_EC),
                    (PyKCS11.CKA_TOKEN, True), (PyKCS11.CKA_ID, kid), (PyKCS11.CKA_VERIFY, True),
                    (PyKCS11.CKA_EC_PARAMS, bytes(params)), (PyKCS11.CKA_EC_POINT, bytes(point))])
PY
}

start_server
A=$ADMIN_TOKEN
authorities() { db_scalar "SELECT COUNT(*) FROM authorities"; }
issued() { db_scalar "SELECT COUNT(*) FROM certificates"; }

# ---- Creating authorities in the token ------------------------------------------------------
# The root through the local CLI, in the form the operator's guide gives (its own PIN flag).
unset CERTWARD_CONFIG
cw ca create --name hsm-root --kind root --subject "CN=HSM Root,O=Example" --key-type ec-p384 \
  --key-store pkcs11 --token ca-token --pin-env CERTWARD_HSM_PIN --module "$MODULE" >"$T/out" &&
  pass || fail "ca create --key-store pkcs11 (root)"
export CERTWARD_CONFIG=$T/certward.toml
grep -q 'ec-p384 (token ca-token)' "$T/out" && pass || fail "the CLI shows the key in the token: $(cat "$T/out")"
assert_eq 1 "$(p11 count certward-hsm-root)" "the root's key is in the token under its default label"
# The issuing CA through the REST API: the token and its PIN come from [ca.pkcs11].
assert_eq 201 "$(api POST /api/v1/authorities "$A" '{"name":"hsm-issuing","kind":"issuing","parent":"hsm-root","subject":"CN=HSM Issuing,O=Example","key_type":"ec-p256","key_store":"pkcs11","token":"ca-token","key_label":"issuing-2026"}')" \
  "create an issuing CA in the token over REST"
assert_eq pkcs11 "$(jq -r .key_storage "$T/resp")" "key_storage"
assert_eq ca-token "$(jq -r .key_token "$T/resp")" "key_token"
assert_eq issuing-2026 "$(jq -r .key_label "$T/resp")" "key_label"
assert_eq 1 "$(p11 count issuing-2026)" "the issuing CA's key is in the token"
# Neither row holds key material: only a reference into the token.
assert_eq 0 "$(db_scalar "SELECT COUNT(*) FROM authorities WHERE name LIKE 'hsm-%' AND (sealed_key IS NOT NULL OR key_storage <> 'pkcs11')")" \
  "no sealed key for token authorities"
db_scalar "SELECT key_ref FROM authorities WHERE name = 'hsm-issuing'" | grep -q '"pin_source":"env:CERTWARD_HSM_PIN"' &&
  pass || fail "the row keeps where the PIN is, not the PIN"

# ---- Signing: certificates, a CRL and an OCSP response, each checked by openssl ------------
cw ca export hsm-root >"$T/hsm-root.pem"
cw ca export hsm-issuing >"$T/hsm-issuing.pem"
openssl verify -CAfile "$T/hsm-root.pem" "$T/hsm-issuing.pem" >/dev/null && pass || fail "the token root signed the issuing CA"
issue() {  # name -> status; the response in $T/<name>.json, the certificate in $T/<name>.pem
  local code
  code=$(api POST /api/v1/certificates "$A" "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"$1.example.test\",\"authority\":\"hsm-issuing\"}")
  cp "$T/resp" "$T/$1.json"
  [[ $code == 201 ]] && jq -r .certificate_pem "$T/$1.json" >"$T/$1.pem"
  echo "$code"
}
assert_eq 201 "$(issue leaf1)" "issue from the token CA"
openssl verify -CAfile "$T/hsm-root.pem" -untrusted "$T/hsm-issuing.pem" "$T/leaf1.pem" >/dev/null &&
  pass || fail "openssl verifies the chain signed in the token"
# The CLI's own issuance path signs through the token as well.
cw issue --authority hsm-issuing --profile tls-server --cn cli.example.test --key-type ec-p256 \
  --out-cert "$T/cli.pem" >/dev/null 2>&1 && pass || fail "CLI issuance from the token CA"
openssl verify -CAfile "$T/hsm-root.pem" -untrusted "$T/hsm-issuing.pem" "$T/cli.pem" >/dev/null &&
  pass || fail "openssl verifies the CLI's certificate"

assert_eq 201 "$(issue revoked1)" "issue one to revoke"
must 200 POST "/api/v1/certificates/$(jq -r .fingerprint "$T/revoked1.json")/revoke" '{"reason":"keyCompromise"}'
serial=$(jq -r .serial "$T/revoked1.json" | tr a-f A-F)
crl_lists() {
  curl -sf -o "$T/crl.der" "$HTTP_BASE/crl/hsm-issuing.crl" &&
    openssl crl -inform DER -in "$T/crl.der" -noout -text | grep -q "Serial Number: $serial\$"
}
wait_until 10 crl_lists && pass || fail "the token CA's CRL lists the revoked certificate"
openssl crl -inform DER -in "$T/crl.der" -CAfile <(cat "$T/hsm-issuing.pem" "$T/hsm-root.pem") -noout 2>&1 |
  grep -q 'verify OK' && pass || fail "openssl verifies the CRL's signature (made in the token)"
openssl crl -inform DER -in "$T/crl.der" -out "$T/crl.pem"
openssl verify -crl_check -CRLfile "$T/crl.pem" -CAfile "$T/hsm-root.pem" \
  -untrusted "$T/hsm-issuing.pem" "$T/revoked1.pem" >"$T/verify.out" 2>&1 || true
grep -q 'certificate revoked' "$T/verify.out" && pass || fail "openssl verify -crl_check rejects the revoked certificate: $(cat "$T/verify.out")"

ocsp() {  # cert -> openssl ocsp's output in $T/ocsp.out
  openssl ocsp -issuer "$T/hsm-issuing.pem" -cert "$1" -url "$HTTP_BASE/ocsp" \
    -CAfile <(cat "$T/hsm-issuing.pem" "$T/hsm-root.pem") >"$T/ocsp.out" 2>&1
}
# The responder takes up authorities made since it started within refresh_interval (1 s).
wait_until 10 ocsp "$T/leaf1.pem" && pass || fail "openssl ocsp for a good certificate: $(cat "$T/ocsp.out")"
grep -q 'Response verify OK' "$T/ocsp.out" && pass || fail "the OCSP response (signed in the token) verifies"
grep -q ': good' "$T/ocsp.out" && pass || fail "good: $(cat "$T/ocsp.out")"
ocsp "$T/revoked1.pem" || true
grep -q ': revoked' "$T/ocsp.out" && grep -q 'Response verify OK' "$T/ocsp.out" &&
  pass || fail "revoked, verified: $(cat "$T/ocsp.out")"

# ---- The keys never leave the token ---------------------------------------------------------
for label in certward-hsm-root issuing-2026; do
  assert_eq "value:none d:none set:refused wrap:refused" "$(p11 steal "$label")" "$label cannot be read, made extractable or wrapped"
done

# ---- Binding a key already in the token -----------------------------------------------------
p11 keypair ext-ok 0a0b0c 0
p11 keypair ext-leaky 0d0e0f 1
assert_eq 201 "$(api POST /api/v1/authorities "$A" '{"name":"hsm-bound","kind":"issuing","parent":"hsm-root","subject":"CN=HSM Bound","key_store":"pkcs11","token":"ca-token","key_id":"0A0B0C","existing_key":true}')" \
  "bind an existing key by id"
assert_eq ext-ok "$(jq -r .key_label "$T/resp")" "the bound key's label is found"
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","common_name":"bound.example.test","authority":"hsm-bound"}')" \
  "issue from the bound key"

# ---- Hostile requests: refused, nothing created --------------------------------------------
a0=$(authorities)
c0=$(issued)
refused() {  # status code body message
  assert_eq "$1" "$(api POST /api/v1/authorities "$A" "$3")" "$4"
  assert_eq "$2" "$(jq -r .code "$T/resp")" "$4: code"
}
refused 422 policy_rejected '{"name":"leaky","kind":"issuing","parent":"hsm-root","subject":"CN=Leaky","key_store":"pkcs11","token":"ca-token","key_label":"ext-leaky","existing_key":true}' \
  "an extractable key is not bound"
refused 409 conflict '{"name":"rootclone","kind":"issuing","parent":"hsm-root","subject":"CN=Clone","key_store":"pkcs11","token":"ca-token","key_label":"certward-hsm-root","existing_key":true}' \
  "the root's key bound again as an issuing CA"
refused 409 conflict '{"name":"bound-twice","kind":"issuing","parent":"hsm-root","subject":"CN=Twice","key_store":"pkcs11","token":"ca-token","key_id":"0a0b0c","existing_key":true}' \
  "a bound key bound a second time"
p11 once-extractable was-readable 0e0e0e
refused 422 policy_rejected '{"name":"was-readable","kind":"issuing","parent":"hsm-root","subject":"CN=Was","key_store":"pkcs11","token":"ca-token","key_label":"was-readable","existing_key":true}' \
  "a key that was once extractable (CKA_NEVER_EXTRACTABLE false)"
p11 keypair swap-victim 0f0f0f 0
p11 keypair swap-other 0f0f10 0
p11 swap-public 0f0f0f swap-other
refused 422 policy_rejected '{"name":"swapped","kind":"issuing","parent":"hsm-root","subject":"CN=Swapped","key_store":"pkcs11","token":"ca-token","key_id":"0f0f0f","existing_key":true}' \
  "a public key object that is not the private key's"
grep -q 'do not verify' "$T/resp" && pass || fail "the refusal says why: $(cat "$T/resp")"
refused 400 invalid_argument '{"name":"other-token","kind":"root","subject":"CN=X","key_store":"pkcs11","token":"not-configured"}' \
  "a token missing from [ca.pkcs11]"
refused 400 malformed '{"name":"lib","kind":"root","subject":"CN=X","key_store":"pkcs11","token":"ca-token","module":"/tmp/evil.so"}' \
  "a library named over REST"
refused 400 malformed '{"name":"pin","kind":"root","subject":"CN=X","key_store":"pkcs11","token":"ca-token","pin_source":"file:/etc/shadow"}' \
  "a PIN source named over REST"
refused 400 invalid_argument '{"name":"hsm","kind":"root","subject":"CN=X","key_store":"hsm","token":"ca-token"}' \
  "an unknown key store"
refused 400 invalid_argument '{"name":"soft","kind":"root","subject":"CN=X","token":"ca-token"}' \
  "token fields without key_store pkcs11"
refused 409 conflict '{"name":"again","kind":"root","subject":"CN=X","key_store":"pkcs11","token":"ca-token","key_label":"issuing-2026"}' \
  "a label already in the token"
refused 400 invalid_argument '{"name":"ed","kind":"root","subject":"CN=X","key_type":"ed25519","key_store":"pkcs11","token":"ca-token"}' \
  "Ed25519 in a token"
refused 404 not_found '{"name":"ghost","kind":"root","subject":"CN=X","key_store":"pkcs11","token":"ca-token","key_label":"no-such","existing_key":true}' \
  "an existing key that is not there"
refused 409 conflict '{"name":"hsm-issuing","kind":"issuing","parent":"hsm-root","subject":"CN=Dup","key_store":"pkcs11","token":"ca-token"}' \
  "an authority name taken"
assert_eq 0 "$(p11 count certward-hsm-issuing)" "a refused authority leaves no key in the token"
refused 400 malformed '{"name":"bad-sub","kind":"issuing","parent":"hsm-root","subject":"CN=Sub","validity":"-1d","key_store":"pkcs11","token":"ca-token"}' \
  "a bad subordinate request"
assert_eq 0 "$(p11 count certward-bad-sub)" "no key made for a refused subordinate"
assert_eq "$a0" "$(authorities)" "no authority created by a refused request"
assert_eq "$c0" "$(issued)" "no certificate recorded by a refused request"
assert_fails 3 invalid_argument "the CLI refuses token flags without --key-store pkcs11" \
  cw ca create --name x --kind root --subject CN=X --token ca-token
assert_fails 3 invalid_argument "the CLI refuses --pin-env with --pin-file" \
  cw ca create --name x --kind root --subject CN=X --key-store pkcs11 --token ca-token --pin-env A --pin-file /x

# ---- The token goes away mid-run, and comes back ---------------------------------------------
c0=$(issued)
mv "$T/hsm/tokens" "$T/hsm/tokens.away"
mv "$T/hsm/softhsm2.conf" "$T/hsm/softhsm2.conf.away"
sleep 1.2  # past the module's pause between reconnection attempts
for i in 1 2 3; do
  assert_eq 503 "$(issue gone$i)" "issuance while the token is gone ($i)"
  assert_eq unavailable "$(jq -r .code "$T/gone$i.json")" "unavailable ($i)"
done
grep -q 'ca-token' "$T/gone1.json" && pass || fail "the error names the token: $(cat "$T/gone1.json")"
assert_eq "$c0" "$(issued)" "nothing recorded while the token is gone"
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","common_name":"soft.example.test"}')" \
  "the software authority is not affected"
c1=$(issued)
mv "$T/hsm/tokens.away" "$T/hsm/tokens"
mv "$T/hsm/softhsm2.conf.away" "$T/hsm/softhsm2.conf"
back() { [[ $(issue back) == 201 ]]; }
wait_until 10 back && pass || fail "issuance resumes when the token is back: $(cat "$T/back.json")"
openssl verify -CAfile "$T/hsm-root.pem" -untrusted "$T/hsm-issuing.pem" "$T/back.pem" >/dev/null &&
  pass || fail "the certificate after reconnection verifies"
assert_eq $((c1 + 1)) "$(issued)" "exactly one more certificate after the token came back"

stop_server

# Once an authority exists, its token is reached through [ca.pkcs11] alone: a library written
# into its database row is not loaded, and a token missing from the configuration is
# unavailable (not the PIN source the row remembers).
sqlite3 "$CERTWARD_DATA_DIR/certward.db" \
  "UPDATE authorities SET key_ref = json_set(key_ref, '$.module', '$T/evil.so', '$.pin_source', 'file:/etc/shadow') WHERE name = 'hsm-issuing'"
start_server
assert_eq 201 "$(issue from-config)" "the configured library and PIN are used, not the row's"
stop_server
grep -v 'pin_env' "$T/certward.toml" | sed 's/^\[ca.pkcs11.tokens."ca-token"\]$//' >"$T/no-token.toml"
start_server CERTWARD_CONFIG="$T/no-token.toml"
assert_eq 503 "$(issue unconfigured)" "a token missing from the configuration"
grep -q 'not configured' "$T/unconfigured.json" && pass || fail "says so: $(cat "$T/unconfigured.json")"
stop_server
# The PIN is nowhere: not in the output, the logs or the database.
! grep -q "$PIN" "$T/serve.out" "$T/serve.err" && pass || fail "the PIN appears in the server's output"
! sqlite3 "$CERTWARD_DATA_DIR/certward.db" .dump | grep -q "$PIN" && pass || fail "the PIN is in the database"
cw audit verify >/dev/null && pass || fail "audit verify"
cw audit list --action authority.create --json | jq -e '[.items[] | select(.details.key_storage == "pkcs11")] | length == 3' >/dev/null &&
  pass || fail "the three token authorities are audited with their key storage"
finish
