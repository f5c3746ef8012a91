#!/usr/bin/env bash
# CMP (RFC 9483, over HTTP as RFC 6712) against a real `certward serve`, driven by OpenSSL's
# own client, `openssl cmp`: ir protected by a shared secret (a one-time credential with its
# expected subject, and a static one with implicit confirmation), cr and kur signed by the
# certificates issued, p10cr, rr (after which `openssl ocsp` says revoked) and genm for the CA
# certificates; every certificate verified with `openssl verify`. Hostile: a wrong secret, an
# unknown reference, a used one-time credential, a replayed ir (transactionID in use), an
# unprotected request, a kur signed by another certificate than the one it updates, a cr
# signed by a certificate not enrolled over CMP, bytes that are no PKIMessage, and a
# certificate the client refuses in its certConf (revoked); each refused with CMP's own error
# and nothing issued.
source "$(dirname "$0")/lib.sh"

start_server
A=$ADMIN_TOKEN
HOSTPORT=${HTTP_BASE#http://}
must 201 POST /api/v1/teams '{"name":"plant","allowed_profiles":["device"],"allowed_domains":["plant.example.test"]}'
"$CERTWARD_BIN" ca export issuing >"$T/issuing.pem"
cd "$T"
for i in 1 2 3 4 5 6 7 8; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "k$i.pem" 2>/dev/null; done

# cmp ARGS... -> exit code; output in $T/cmp.out
cmp_() {
  local rc=0
  timeout 60 openssl cmp -server "$HOSTPORT" -path .well-known/cmp -recipient /CN=certward \
    -msg_timeout 20 "$@" >cmp.out 2>&1 || rc=$?
  echo "$rc"
}
trusted=(-trusted root.pem -untrusted issuing.pem)
verify() { openssl verify -CAfile root.pem -untrusted issuing.pem "$1" >/dev/null; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'; }
count() { db_scalar "SELECT COUNT(*) FROM certificates"; }

# --- ir with a one-time shared secret ----------------------------------------------------------
credential '{"kind":"cmp","team":"plant","profile":"device","expected_subject":"d1.plant.example.test"}'
ONE_ID=$ID ONE=$SECRET
assert_eq 0 "$(cmp_ -cmd ir -ref "$ONE_ID" -secret "pass:$ONE" -newkey k1.pem -subject /CN=d1.plant.example.test \
  -certout d1.pem -cacertsout capubs.pem -chainout chain1.pem -reqout ir.der,certconf.der)" "ir with a shared secret: $(tail -3 cmp.out)"
verify d1.pem && pass || fail "the ir's certificate verifies"
grep -q 'BEGIN CERTIFICATE' capubs.pem && pass || fail "caPubs carries the root"
assert_eq 200 "$(api GET "/api/v1/certificates/$(fp d1.pem)" "$A")" "d1 is in the inventory"
assert_eq cmp "$(jq -r .channel "$T/resp")" "enrolled over CMP"
assert_eq plant "$(jq -r .team "$T/resp")" "for the credential's team"
assert_eq confirmed "$(db_scalar "SELECT state FROM cmp_transactions WHERE certificate = '$(fp d1.pem)'")" \
  "the client's certConf closed the transaction"
must 200 GET "/api/v1/enrollment/credentials/$ONE_ID"
assert_eq used "$(jq -r .state "$T/resp")" "the one-time credential is used"

before=$(count)
[[ $(cmp_ -cmd ir -ref "$ONE_ID" -secret "pass:$ONE" -newkey k2.pem -subject /CN=d1.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "a used one-time credential is refused"
[[ $(cmp_ -cmd ir -reqin ir.der -ref "$ONE_ID" -secret "pass:$ONE" -newkey k1.pem -subject /CN=d1.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "a replayed ir is refused"
grep -qi 'transactionIdInUse\|transactionID in use' cmp.out && pass || fail "as a transactionID in use: $(tail -3 cmp.out)"

# --- a static secret: implicit confirmation, p10cr, genm -----------------------------------------
credential '{"kind":"cmp","team":"plant","profile":"device","max_uses":0,"lifetime":"30d"}'
ST_ID=$ID ST=$SECRET
assert_eq 0 "$(cmp_ -cmd ir -ref "$ST_ID" -secret "pass:$ST" -newkey k2.pem -subject /CN=d2.plant.example.test \
  -certout d2.pem -implicit_confirm)" "ir with implicit confirmation: $(tail -3 cmp.out)"
assert_eq confirmed "$(db_scalar "SELECT state FROM cmp_transactions WHERE certificate = '$(fp d2.pem)'")" \
  "implicitly confirmed: no certConf to wait for"
openssl req -new -key k4.pem -subj /CN=d4.plant.example.test -out req4.pem 2>/dev/null
assert_eq 0 "$(cmp_ -cmd p10cr -csr req4.pem -ref "$ST_ID" -secret "pass:$ST" -certout d4.pem)" "p10cr: $(tail -3 cmp.out)"
verify d4.pem && pass || fail "the p10cr's certificate verifies"
assert_eq 0 "$(cmp_ -cmd genm -infotype caCerts -ref "$ST_ID" -secret "pass:$ST" -rspout genp.der)" "genm caCerts: $(tail -3 cmp.out)"
python3 - genp.der issuing.pem root.pem <<'EOF' && pass || fail "genp carries the issuing CA and the root"
import base64, sys
genp = open(sys.argv[1], 'rb').read()
for pem in sys.argv[2:]:
    body = ''.join(l for l in open(pem).read().splitlines() if not l.startswith('-----'))
    if base64.b64decode(body) not in genp:
        sys.exit(1)
EOF
# The certificate request template (RFC 9483 4.3.3): what this credential's profile wants.
credential '{"kind":"cmp","team":"plant","profile":"device","expected_subject":"d9.plant.example.test"}'
assert_eq 0 "$(cmp_ -cmd genm -infotype certReqTemplate -ref "$ID" -secret "pass:$SECRET" -rspout tmpl.der)" "genm certReqTemplate: $(tail -3 cmp.out)"
grep -q 'id-it-certReqTemplate' cmp.out && pass || fail "genp carries the template: $(tail -3 cmp.out)"
openssl asn1parse -inform DER -in tmpl.der >tmpl.txt 2>&1
grep -q 'd9.plant.example.test' tmpl.txt && grep -q 'prime256v1' tmpl.txt && pass ||
  fail "the template names the expected subject and the profile's key: $(cat tmpl.txt)"

# --- signed: cr and kur --------------------------------------------------------------------------
assert_eq 0 "$(cmp_ -cmd cr -cert d1.pem -key k1.pem "${trusted[@]}" -newkey k3.pem -subject /CN=d1.plant.example.test \
  -certout d3.pem)" "cr signed by the certificate issued: $(tail -3 cmp.out)"
verify d3.pem && pass || fail "the cr's certificate verifies"
assert_eq 0 "$(cmp_ -cmd kur -cert d3.pem -key k3.pem "${trusted[@]}" -newkey k5.pem -certout d5.pem)" \
  "kur signed by the certificate it updates: $(tail -3 cmp.out)"
verify d5.pem && pass || fail "the kur's certificate verifies"
assert_eq "$(fp d5.pem)" "$(db_scalar "SELECT superseded_by FROM certificates WHERE fingerprint = '$(fp d3.pem)'")" \
  "the updated certificate is superseded"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'cmp.kur' AND target_id = '$(fp d3.pem)'")" "the kur is audited"
# A certificate issued through the API is not a CMP identity.
must 201 POST /api/v1/certificates '{"profile":"device","key_type":"ec-p256","common_name":"rest.plant.example.test","team":"plant"}'
jq -r .certificate_pem "$T/resp" >rest.pem
jq -r .private_key_pem "$T/resp" >rest.key
before=$(count)
[[ $(cmp_ -cmd kur -oldcert d5.pem -cert d1.pem -key k1.pem "${trusted[@]}" -newkey k6.pem -certout x.pem) != 0 ]] &&
  pass || fail "a kur signed by another certificate is refused"
[[ $(cmp_ -cmd kur -cert d3.pem -key k3.pem "${trusted[@]}" -newkey k6.pem -certout x.pem) != 0 ]] &&
  pass || fail "an updated certificate cannot be updated again"
[[ $(cmp_ -cmd cr -cert d1.pem -key k1.pem "${trusted[@]}" -newkey k6.pem -subject /CN=other.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "a cr for another subject is refused"
[[ $(cmp_ -cmd cr -cert rest.pem -key rest.key "${trusted[@]}" -newkey k6.pem -subject /CN=rest.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "a cr signed by a certificate not enrolled over CMP is refused"
assert_eq "$before" "$(count)" "refused requests issued nothing"

# --- rr, and OCSP says so ------------------------------------------------------------------------
assert_eq 0 "$(cmp_ -cmd rr -oldcert d5.pem -cert d5.pem -key k5.pem "${trusted[@]}" -revreason 1)" "rr: $(tail -3 cmp.out)"
openssl ocsp -issuer issuing.pem -cert d5.pem -url "$HTTP_BASE/ocsp" -CAfile root.pem >ocsp.out 2>&1
grep -q 'd5.pem: revoked' ocsp.out && pass || fail "OCSP says revoked: $(cat ocsp.out)"
grep -q 'Reason: keyCompromise' ocsp.out && pass || fail "with the rr's reason: $(cat ocsp.out)"
[[ $(cmp_ -cmd rr -oldcert d4.pem -cert d1.pem -key k1.pem "${trusted[@]}") != 0 ]] && pass ||
  fail "an rr signed by another certificate is refused"
assert_eq "" "$(db_scalar "SELECT revoked_at FROM certificates WHERE fingerprint = '$(fp d4.pem)'")" "and revokes nothing"

# --- hostile ---------------------------------------------------------------------------------------
before=$(count)
[[ $(cmp_ -cmd ir -ref "$ST_ID" -secret pass:wrong -newkey k6.pem -subject /CN=x.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "a wrong secret is refused"
[[ $(cmp_ -cmd ir -ref "$ST_ID" -secret pass:wrong "${trusted[@]}" -newkey k6.pem -subject /CN=x.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "a wrong secret, client trusting the root, is refused"
grep -qi 'missing secret\|badRequest\|wrong' cmp.out && pass || fail "with CMP's error, signed by the RA: $(tail -3 cmp.out)"
[[ $(cmp_ -cmd ir -ref ec-0000000000000000 -secret "pass:$ST" "${trusted[@]}" -newkey k6.pem -subject /CN=x.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "an unknown reference is refused"
[[ $(cmp_ -cmd ir -unprotected_requests "${trusted[@]}" -newkey k6.pem -subject /CN=x.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "an unprotected request is refused"
credential '{"kind":"est","team":"plant","profile":"device","max_uses":0}'
[[ $(cmp_ -cmd ir -ref "$ID" -secret "pass:$SECRET" -newkey k6.pem -subject /CN=x.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "an EST credential is not a CMP secret"
assert_eq "$before" "$(count)" "nothing was issued"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkixcmp' --data-binary 'not a message' "$HTTP_BASE/.well-known/cmp")
assert_eq 400 "$code" "bytes that are no PKIMessage"
head -c 60 ir.der >cut.der
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkixcmp' --data-binary @cut.der "$HTTP_BASE/.well-known/cmp")
assert_eq 400 "$code" "a truncated PKIMessage"

# The client refuses what it was issued (it trusts another root): the certificate is revoked.
credential '{"kind":"cmp","team":"plant","profile":"device","expected_subject":"d7.plant.example.test"}'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -subj /CN=other -days 1 -out other.pem 2>/dev/null
[[ $(cmp_ -cmd ir -ref "$ID" -secret "pass:$SECRET" -newkey k7.pem -subject /CN=d7.plant.example.test -out_trusted other.pem -certout d7.pem) != 0 ]] &&
  pass || fail "the client rejects the certificate"
assert_eq rejected "$(db_scalar "SELECT state FROM cmp_transactions WHERE credential = '$ID'")" "its certConf rejected it"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM certificates c JOIN cmp_transactions t ON t.certificate = c.fingerprint WHERE t.credential = '$ID' AND c.revoked_at IS NOT NULL")" \
  "and the certificate it refused is revoked"

cd /
stop_server
finish
