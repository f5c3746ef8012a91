#!/usr/bin/env bash
# EST (RFC 7030) against a real `certward serve`, driven by curl and openssl as a device would:
# cacerts and csrattrs; simpleenroll with an enrollment credential in HTTP Basic and with a
# manufacturer's certificate in TLS; simplereenroll with the certificate issued; serverkeygen, the key in the clear and encrypted to
# the TLS client key (decrypted and verified with `openssl cms`);
# every result verified with `openssl verify`. One-time, expected-subject, label-bound,
# revoked and batch credentials; and hostile input (bad base64, a PEM body, a CSR whose
# signature fails, a wrong password, a used credential, another label's or another team's
# credential, a re-enrollment that changes the subject or presents a certificate not issued
# here), each answered with EST's own error and changing nothing.
source "$(dirname "$0")/lib.sh"

# A manufacturer's CA and a device certificate under it, as a factory would have made them.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=Acme Devices Manufacturer CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
  -keyout "$T/mfg.key" -out "$T/mfg.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=idevid-0001" \
  -keyout "$T/idevid.key" -out "$T/idevid.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$T/idevid.ext"
openssl x509 -req -in "$T/idevid.csr" -CA "$T/mfg.pem" -CAkey "$T/mfg.key" -CAcreateserial -days 30 \
  -extfile "$T/idevid.ext" -out "$T/idevid.pem" 2>/dev/null
# A device certificate from some other CA: it must open nothing.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=stranger" \
  -keyout "$T/stranger.key" -out "$T/stranger.pem" 2>/dev/null

cat >"$T/certward.toml" <<EOT
[est.labels.factory]
profile = "device"
manufacturer_ca_file = "$T/mfg.pem"
team = "factory"

[est.labels.routers]
profile = "tls-client"

[profiles.gated-device]
description = "Devices an approver lets in"
allowed_domains = ["devices.example.test"]
requires_approval = true
EOT
export CERTWARD_CONFIG="$T/certward.toml"
start_server
A=$ADMIN_TOKEN
E="$BASE/.well-known/est"
must 201 POST /api/v1/teams '{"name":"factory","allowed_profiles":["device","tls-client","gated-device"],"allowed_domains":["devices.example.test"]}'
must 201 POST /api/v1/teams '{"name":"other","allowed_profiles":["device"],"allowed_domains":["other.example.test"]}'

# est PATH [curl args...] -> status; body in $T/out
est() {
  local path=$1
  shift
  curl -s -o "$T/out" -D "$T/hdr" -w '%{http_code}' --cacert "$T/root.pem" "$@" "$E$path"
}
csr_b64() {  # cn key-file [extra openssl req args...]
  local cn=$1 key=$2
  shift 2
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$key" -subj "/CN=$cn" "$@" \
    -outform DER 2>/dev/null | base64
}
enroll() {  # path user:pass csr-file [curl args...]
  local path=$1 userpass=$2 csr=$3
  shift 3
  est "$path" -u "$userpass" -H 'Content-Type: application/pkcs10' --data-binary "@$csr" "$@"
}
to_pem() { base64 -d "$T/out" | openssl pkcs7 -inform DER -print_certs 2>/dev/null | sed -n '/BEGIN/,/END/p'; }

# --- cacerts and csrattrs --------------------------------------------------------------------
assert_eq 200 "$(est /cacerts)" "cacerts answers"
grep -qi '^content-type: application/pkcs7-mime' "$T/hdr" && pass || fail "cacerts content type"
to_pem >"$T/cacerts.pem"
assert_eq 2 "$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts.pem")" "cacerts: the issuing CA and the root"
"$CERTWARD_BIN" ca export issuing >"$T/issuing.pem"
openssl verify -CAfile "$T/root.pem" "$T/issuing.pem" >/dev/null && pass || fail "cacerts chain verifies"
assert_eq 200 "$(est /factory/cacerts)" "a label's cacerts"
assert_eq 404 "$(est /nowhere/cacerts)" "an unknown label"
assert_eq 200 "$(est /factory/csrattrs)" "a label's csrattrs"
grep -qi '^content-type: application/csrattrs' "$T/hdr" && pass || fail "csrattrs content type"
base64 -d "$T/out" | openssl asn1parse -inform DER >"$T/attrs.txt" 2>&1 && pass || fail "csrattrs is DER"
grep -q 'ecdsa-with-SHA256' "$T/attrs.txt" && grep -q prime256v1 "$T/attrs.txt" && pass ||
  fail "csrattrs names the profile's key: $(cat "$T/attrs.txt")"
assert_eq 204 "$(est /csrattrs)" "no label: nothing to say before the credential is known"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_BASE/.well-known/est/cacerts")" "EST is not on plain HTTP"

# --- simpleenroll with a credential ----------------------------------------------------------
credential '{"kind":"est","team":"factory","profile":"device","expected_subject":"dev-001.devices.example.test","description":"line 1"}'
C1=$ID
csr_b64 dev-001.devices.example.test "$T/d1.key" >"$T/d1.b64"
before=$(state)
assert_eq 401 "$(enroll /simpleenroll "$C1:wrong-password" "$T/d1.b64")" "a wrong password"
grep -qi '^www-authenticate: Basic' "$T/hdr" && pass || fail "401 carries a Basic challenge"
assert_eq 401 "$(est /simpleenroll -H 'Content-Type: application/pkcs10' --data-binary "@$T/d1.b64")" "no credential"
assert_eq 401 "$(enroll /simpleenroll "$SECRET:$C1" "$T/d1.b64")" "username and password swapped"
! grep -q -- "$SECRET" "$T/serve.out" "$T/serve.err" && pass || fail "a password given as a username is not logged"
assert_eq "$before" "$(state)" "refused requests change nothing"
assert_eq 200 "$(enroll /simpleenroll "$C1:$SECRET" "$T/d1.b64")" "simpleenroll with Basic"
grep -qi '^content-type: application/pkcs7-mime; smime-type=certs-only' "$T/hdr" && pass || fail "certs-only answer"
to_pem >"$T/d1.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/d1.pem" >/dev/null && pass || fail "the device certificate verifies"
assert_eq "subject=CN = dev-001.devices.example.test" "$(openssl x509 -in "$T/d1.pem" -noout -subject)" "its subject"
FP1=$(openssl x509 -in "$T/d1.pem" -outform DER | sha256sum | cut -c1-64)
assert_eq "est|factory|device" "$(db_scalar "SELECT channel || '|' || team || '|' || profile FROM certificates WHERE fingerprint = '$FP1'")" "recorded with its channel, team and profile"
db_scalar "SELECT tags FROM certificates WHERE fingerprint = '$FP1'" | grep -q "credential:$C1" && pass || fail "tagged with the credential"
must 200 GET "/api/v1/enrollment/credentials/$C1"
assert_eq "used|1|$FP1" "$(jq -r '[.state, .uses, .certificates[0].certificate] | join("|")' "$T/resp")" "the credential shows its use"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'certificate.issue' AND actor = 'est:$C1'")" "issuance audited under the credential"
# A one-time credential is spent: a replay of the same request issues nothing.
before=$(state)
assert_eq 403 "$(enroll /simpleenroll "$C1:$SECRET" "$T/d1.b64")" "a used one-time credential"
assert_eq "$before" "$(state)" "the replay changed nothing"
# Two requests racing for the last use of a credential: one certificate.
credential '{"kind":"est","team":"factory","profile":"device"}'
csr_b64 race.devices.example.test "$T/race.key" >"$T/race.b64"
racers=()
for i in 1 2 3 4; do
  curl -s -o /dev/null --cacert "$T/root.pem" -u "$ID:$SECRET" -H 'Content-Type: application/pkcs10' \
    --data-binary "@$T/race.b64" "$E/simpleenroll" &
  racers+=($!)
done
for pid in "${racers[@]}"; do wait "$pid" || true; done
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM certificates WHERE common_name = 'race.devices.example.test'")" "a one-time credential raced: one certificate"

# --- credentials that almost fit ---------------------------------------------------------------
csr_b64 dev-999.devices.example.test "$T/x.key" >"$T/x.b64"
credential '{"kind":"est","team":"factory","profile":"device","expected_subject":"dev-002.devices.example.test"}'
OTHER_CN="$ID:$SECRET"
credential '{"kind":"est","team":"other","profile":"device"}'
OTHER_TEAM="$ID:$SECRET"
credential '{"kind":"scep","team":"factory","profile":"device"}'
SCEP_KIND="$ID:$SECRET"
credential '{"kind":"est","team":"factory","profile":"tls-client","label":"routers"}'
LABELLED="$ID:$SECRET"
credential '{"kind":"est","team":"factory","profile":"device","max_uses":0}'
REVOKED="$ID:$SECRET"
must 200 DELETE "/api/v1/enrollment/credentials/$ID"
assert_eq 409 "$(api DELETE "/api/v1/enrollment/credentials/$ID" "$A")" "revoked twice"
before=$(state)
assert_eq 403 "$(enroll /simpleenroll "$OTHER_CN" "$T/x.b64")" "another common name than the credential's"
csr_b64 dev-002.devices.example.test "$T/x2.key" -addext "subjectAltName=DNS:dev-002.devices.example.test,DNS:gateway.devices.example.test" >"$T/x2.b64"
assert_eq 403 "$(enroll /simpleenroll "$OTHER_CN" "$T/x2.b64")" "the credential's name and another in the SANs"
assert_eq 403 "$(enroll /routers/simpleenroll "$OTHER_CN" "$T/x.b64")" "a device credential at the routers label"
assert_eq 403 "$(enroll /simpleenroll "$OTHER_TEAM" "$T/x.b64")" "a name outside the credential's team's domains"
assert_eq 401 "$(enroll /simpleenroll "$SCEP_KIND" "$T/x.b64")" "a SCEP challenge is no EST password"
assert_eq 403 "$(enroll /simpleenroll "$LABELLED" "$T/x.b64")" "a label's credential elsewhere"
assert_eq 403 "$(enroll /simpleenroll "$REVOKED" "$T/x.b64")" "a revoked credential"
assert_eq "$before" "$(state)" "credentials that almost fit change nothing"
assert_eq 400 "$(api POST /api/v1/enrollment/credentials "$A" '{"kind":"est","team":"factory","profile":"intermediate-ca"}')" "no credential for a CA profile"
assert_eq 404 "$(api POST /api/v1/enrollment/credentials "$A" '{"kind":"est","team":"nobody","profile":"device"}')" "no credential for an unknown team"
assert_eq 400 "$(api POST /api/v1/enrollment/credentials "$A" '{"kind":"telnet","team":"factory","profile":"device"}')" "an unknown kind"
before=$(state)
for body in '{"kind":"est","team":"other","profile":"tls-client"}' '{"kind":"est","team":"factory","profile":"device","authority":"nosuch"}' \
  '{"kind":"est","team":"factory","profile":"device","authority":"root"}' '{"kind":"est","team":"factory","profile":"device","label":"nowhere"}' \
  '{"kind":"est","team":"factory","profile":"device","label":"routers"}' '{"kind":"est","team":"factory","profile":"device","label":"cacerts"}' \
  '{"kind":"est","team":"factory","profile":"device","expected_subject":"www.example.org"}'; do
  assert_eq 400 "$(api POST /api/v1/enrollment/credentials "$A" "$body")" "a credential that could never enroll: $body"
done
assert_eq 400 "$(api POST /api/v1/enrollment/credentials/batch "$A" '{"kind":"est","team":"factory","profile":"device","expected_subjects":["a.devices.example.test","www.example.org"]}')" "a batch with one subject outside the team's domains"
assert_eq "$before" "$(state)" "refused credentials change nothing"

# --- hostile bodies -----------------------------------------------------------------------------
credential '{"kind":"est","team":"factory","profile":"device","max_uses":0}'
MULTI="$ID:$SECRET"
before=$(state)
printf 'not base64 at all!' >"$T/bad.b64"
assert_eq 400 "$(enroll /simpleenroll "$MULTI" "$T/bad.b64")" "bad base64"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=pem.devices.example.test 2>/dev/null >"$T/pem.csr"
assert_eq 400 "$(enroll /simpleenroll "$MULTI" "$T/pem.csr")" "a PEM body"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=sig.devices.example.test -outform DER 2>/dev/null >"$T/sig.der"
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-3]^=1; open(sys.argv[1],"wb").write(b)' "$T/sig.der"
base64 "$T/sig.der" >"$T/sig.b64"
assert_eq 400 "$(enroll /simpleenroll "$MULTI" "$T/sig.b64")" "a CSR whose signature fails"
: >"$T/empty.b64"
assert_eq 400 "$(enroll /simpleenroll "$MULTI" "$T/empty.b64")" "an empty body"
assert_eq 401 "$(est /simpleenroll -H 'Authorization: Basic !!!' -H 'Content-Type: application/pkcs10' --data-binary "@$T/x.b64")" "a malformed Authorization"
assert_eq 415 "$(est /simpleenroll -u "$MULTI" --data-binary "@$T/x.b64")" "a form body"
assert_eq "$before" "$(state)" "hostile bodies change nothing"
# Line breaks or none, as RFC 8951 allows.
csr_b64 wrapped.devices.example.test "$T/w.key" | tr -d '\n' >"$T/flat.b64"
assert_eq 200 "$(enroll /simpleenroll "$MULTI" "$T/flat.b64")" "base64 without line breaks"

# --- manufacturer certificates --------------------------------------------------------------------
csr_b64 dev-100.devices.example.test "$T/d100.key" >"$T/d100.b64"
assert_eq 200 "$(est /factory/simpleenroll --cert "$T/idevid.pem" --key "$T/idevid.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/d100.b64")" "simpleenroll with a manufacturer's certificate"
to_pem >"$T/d100.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/d100.pem" >/dev/null && pass || fail "the IDevID-enrolled certificate verifies"
FP100=$(openssl x509 -in "$T/d100.pem" -outform DER | sha256sum | cut -c1-64)
assert_eq "est|factory" "$(db_scalar "SELECT channel || '|' || team FROM certificates WHERE fingerprint = '$FP100'")" "for the label's team"
before=$(state)
assert_eq 401 "$(est /factory/simpleenroll --cert "$T/stranger.pem" --key "$T/stranger.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/d100.b64")" "another CA's device certificate"
assert_eq 401 "$(est /routers/simpleenroll --cert "$T/idevid.pem" --key "$T/idevid.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/d100.b64")" "a manufacturer's certificate where the label trusts none"
assert_eq "$before" "$(state)" "refused device certificates change nothing"

# --- simplereenroll -----------------------------------------------------------------------------
csr_b64 dev-001.devices.example.test "$T/d1b.key" >"$T/d1b.b64"
assert_eq 200 "$(est /simplereenroll --cert "$T/d1.pem" --key "$T/d1.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/d1b.b64")" "simplereenroll with the issued certificate"
to_pem >"$T/d1b.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/d1b.pem" >/dev/null && pass || fail "the renewed certificate verifies"
assert_eq "$(openssl x509 -in "$T/d1.pem" -noout -subject)" "$(openssl x509 -in "$T/d1b.pem" -noout -subject)" "same subject"
[[ $(openssl x509 -in "$T/d1.pem" -noout -pubkey) != $(openssl x509 -in "$T/d1b.pem" -noout -pubkey) ]] && pass || fail "with the new key"
before=$(state)
assert_eq 400 "$(est /simplereenroll --cert "$T/d1b.pem" --key "$T/d1b.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/x.b64")" "a re-enrollment that changes the subject"
assert_eq 401 "$(est /simplereenroll --cert "$T/stranger.pem" --key "$T/stranger.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/d1b.b64")" "a certificate not issued here"
assert_eq 401 "$(est /simplereenroll --cert "$T/idevid.pem" --key "$T/idevid.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/d1b.b64")" "a manufacturer's certificate does not renew"
assert_eq 401 "$(enroll /simplereenroll "$MULTI" "$T/d1b.b64")" "a credential does not renew"
assert_eq 403 "$(est /simplereenroll --cert "$T/d1.pem" --key "$T/d1.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/d1b.b64")" "a certificate renewed already"
cp "$CERTWARD_DATA_DIR/serving-cert.pem" "$T/serving.pem" 2>/dev/null || true
if [[ -s $T/serving.pem ]]; then
  openssl req -new -key "$CERTWARD_DATA_DIR/serving-key.pem" -subj "$(openssl x509 -in "$T/serving.pem" -noout -subject -nameopt compat | sed 's/^subject=//')" -outform DER 2>/dev/null | base64 >"$T/srv.b64"
  assert_eq 403 "$(est /simplereenroll --cert "$T/serving.pem" --key "$CERTWARD_DATA_DIR/serving-key.pem" -H 'Content-Type: application/pkcs10' --data-binary "@$T/srv.b64")" "the server's own certificate does not renew over EST"
fi
cw issue -p device --cn cli.devices.example.test --out-key "$T/cli.key" --out-cert "$T/cli.pem" >/dev/null 2>&1 || true
if [[ -s $T/cli.pem ]]; then
  openssl req -new -key "$T/cli.key" -subj /CN=cli.devices.example.test -outform DER 2>/dev/null | base64 >"$T/cli.b64"
  assert_eq 403 "$(est /simplereenroll --cert "$T/cli.pem" --key "$T/cli.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/cli.b64")" "a certificate issued through the CLI does not renew over EST"
fi
assert_eq "$before" "$(state)" "refused re-enrollments change nothing"
FP1B=$(openssl x509 -in "$T/d1b.pem" -outform DER | sha256sum | cut -c1-64)
assert_eq "$FP1B" "$(db_scalar "SELECT superseded_by FROM certificates WHERE fingerprint = '$FP1'")" "the renewed certificate is superseded by its replacement"
assert_eq "$FP1B" "$(db_scalar "SELECT json_extract(details, '\$.replaced_by') FROM audit_events WHERE action = 'est.reenroll' AND target_id = '$FP1'")" "the re-enrollment is audited with its replacement"
must 200 POST "/api/v1/certificates/$FP1/revoke" '{"reason":"superseded"}'
assert_eq 403 "$(est /simplereenroll --cert "$T/d1.pem" --key "$T/d1.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/d1b.b64")" "a revoked certificate does not renew"

# --- serverkeygen ------------------------------------------------------------------------------------
credential '{"kind":"est","team":"factory","profile":"device"}'
csr_b64 skg.devices.example.test /dev/null >"$T/skg.b64"
assert_eq 200 "$(enroll /serverkeygen "$ID:$SECRET" "$T/skg.b64")" "serverkeygen"
boundary=$(sed -n 's/^content-type: multipart\/mixed; boundary=\([^\r]*\).*/\1/Ip' "$T/hdr")
[[ -n $boundary ]] && pass || fail "serverkeygen answers multipart/mixed"
# split_skg KEY-OUT P7-OUT: the two base64 parts of the serverkeygen answer in $T/out, decoded;
# the key is the part that is not the certs-only PKCS#7.
split_skg() {
  python3 - "$T/out" "$boundary" "$1" "$2" <<'EOF'
import base64, sys
body, boundary, key, p7 = open(sys.argv[1], "rb").read().decode(), sys.argv[2], sys.argv[3], sys.argv[4]
parts = [p for p in body.split("--" + boundary) if p.strip() not in ("", "--")]
assert len(parts) == 2, len(parts)
for p in parts:
    head, data = p.split("\r\n\r\n", 1)
    der = base64.b64decode("".join(data.split()))
    open(p7 if "smime-type=certs-only" in head else key, "wb").write(der)
EOF
}
split_skg "$T/skg.p8" "$T/skg.p7"
openssl pkey -inform DER -in "$T/skg.p8" -out "$T/skg.key" 2>/dev/null && pass || fail "the key part is PKCS#8"
openssl pkcs7 -inform DER -in "$T/skg.p7" -print_certs 2>/dev/null | sed -n '/BEGIN/,/END/p' >"$T/skg.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/skg.pem" >/dev/null && pass || fail "the serverkeygen certificate verifies"
assert_eq "$(openssl pkey -in "$T/skg.key" -pubout)" "$(openssl x509 -in "$T/skg.pem" -noout -pubkey)" "the key is the certificate's"
grep -qi '^cache-control: no-store' "$T/hdr" && pass || fail "the key is not cached"
! grep -rq "$(sed -n 2p "$T/skg.key" | cut -c1-40)" "$T/serve.out" "$T/serve.err" && pass || fail "the key is not logged"

# --- serverkeygen, the key encrypted to the client's TLS key (RFC 7030 4.4.1.2, 4.4.2) -----------------
# csr_attr OUT CN ATTR-OID VALUE-HEX TAG: a DER CSR (base64) with one attribute of that ASN.1 tag
csr_attr() {
  python3 - "$@" <<'EOF2'
import base64, sys
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
out, cn, oid, value, tag = sys.argv[1:6]
b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
b = b.add_attribute(x509.ObjectIdentifier(oid), bytes.fromhex(value), _tag=_ASN1Type[tag])
csr = b.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
open(out, "w").write(base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode())
EOF2
}
ASYM=1.2.840.113549.1.9.16.2.54
IDEVID_KID=$(python3 -c 'import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
print(x509.SubjectKeyIdentifier.from_public_key(c.public_key()).digest.hex())' "$T/idevid.pem")
skg_tls() {  # csr-file -> status of /factory/serverkeygen with the IDevID in TLS
  est /factory/serverkeygen --cert "$T/idevid.pem" --key "$T/idevid.key" -H 'Content-Type: application/pkcs10' --data-binary "@$1"
}
before=$(db_scalar "SELECT COUNT(*) FROM certificates")
csr_attr "$T/ek1.b64" ek1.devices.example.test $ASYM 00112233445566778899aabbccddeeff00112233 OctetString
assert_eq 400 "$(skg_tls "$T/ek1.b64")" "an AsymmetricDecryptKeyIdentifier naming another key than the TLS one"
csr_attr "$T/ek2.b64" ek2.devices.example.test 1.2.840.113549.1.9.16.2.37 0102030405060708 OctetString
assert_eq 501 "$(skg_tls "$T/ek2.b64")" "a DecryptKeyIdentifier (a shared key) is not offered"
csr_attr "$T/ek3.b64" ek3.devices.example.test $ASYM "$IDEVID_KID" UTF8String
assert_eq 400 "$(skg_tls "$T/ek3.b64")" "an identifier that is no OCTET STRING"
csr_attr "$T/ek4.b64" ek4.devices.example.test $ASYM "$IDEVID_KID" OctetString
credential '{"kind":"est","team":"factory","profile":"device"}'
assert_eq 400 "$(enroll /serverkeygen "$ID:$SECRET" "$T/ek4.b64")" "an encrypted key without a TLS client certificate to encrypt to"
# A key that cannot receive an envelope (Ed25519) is refused before anything is issued: the
# one-time credential is not used.
openssl req -x509 -newkey ed25519 -nodes -subj /CN=ed-device -days 1 -addext subjectKeyIdentifier=hash \
  -keyout "$T/ed.key" -out "$T/ed.pem" 2>/dev/null
ED_KID=$(openssl x509 -in "$T/ed.pem" -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :\n' | tr 'A-F' 'a-f')
csr_attr "$T/ek5.b64" ek5.devices.example.test $ASYM "$ED_KID" OctetString
credential '{"kind":"est","team":"factory","profile":"device"}'
assert_eq 400 "$(enroll /serverkeygen "$ID:$SECRET" "$T/ek5.b64" --cert "$T/ed.pem" --key "$T/ed.key")" \
  "an encrypted key for an Ed25519 TLS key, which no envelope reaches"
must 200 GET "/api/v1/enrollment/credentials/$ID"
assert_eq active "$(jq -r .state "$T/resp")" "the one-time credential is not used by the refusal"
assert_eq "$before" "$(db_scalar "SELECT COUNT(*) FROM certificates")" "none of them issued anything"
assert_eq 200 "$(skg_tls "$T/ek4.b64")" "serverkeygen with the key encrypted to the IDevID's key"
boundary=$(sed -n 's/^content-type: multipart\/mixed; boundary=\([^\r]*\).*/\1/Ip' "$T/hdr")
split_skg "$T/ek.cms" "$T/ek.p7"
grep -qi 'smime-type=server-generated-key' "$T/out" && [[ -s $T/ek.cms ]] && pass ||
  fail "the key part is application/pkcs7-mime; smime-type=server-generated-key"
openssl cms -decrypt -inform DER -in "$T/ek.cms" -recip "$T/idevid.pem" -inkey "$T/idevid.key" -binary -out "$T/ek.signed" 2>/dev/null &&
  pass || fail "the IDevID's key decrypts the envelope"
openssl cms -decrypt -inform DER -in "$T/ek.cms" -recip "$T/stranger.pem" -inkey "$T/stranger.key" -binary -out /dev/null 2>/dev/null &&
  fail "another key decrypts the envelope" || pass
openssl cms -verify -inform DER -in "$T/ek.signed" -binary -CAfile "$T/root.pem" -purpose any \
  -out "$T/ek.akp" 2>/dev/null && pass || fail "the key package is signed by certward's RA, under its root"
openssl cms -cmsout -print -inform DER -in "$T/ek.signed" | grep -q 'eContentType: .*2\.16\.840\.1\.101\.2\.1\.2\.78\.5' &&
  pass || fail "the signed content is an AsymmetricKeyPackage (id-ct-KP-aKeyPackage)"
python3 - "$T/ek.akp" "$T/ek.p8" <<'EOF2'
import sys
d = open(sys.argv[1], "rb").read()
assert d[0] == 0x30
n = d[1]
i = 2
if n & 0x80:
    i = 2 + (n & 0x7F)
open(sys.argv[2], "wb").write(d[i:])
EOF2
openssl pkey -inform DER -in "$T/ek.p8" -out "$T/ek.key" 2>/dev/null && pass || fail "the package holds one PKCS#8 key"
openssl pkcs7 -inform DER -in "$T/ek.p7" -print_certs 2>/dev/null | sed -n '/BEGIN/,/END/p' >"$T/ek.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/ek.pem" >/dev/null && pass || fail "the certificate verifies"
assert_eq "$(openssl pkey -in "$T/ek.key" -pubout)" "$(openssl x509 -in "$T/ek.pem" -noout -pubkey)" "the encrypted key is the certificate's"

# --- a batch for a factory line -----------------------------------------------------------------------
curl -s -o "$T/batch.csv" -w '%{http_code}' --cacert "$T/root.pem" -H "Authorization: Bearer $A" -H 'Content-Type: application/json' \
  --data-binary '{"kind":"est","team":"factory","profile":"device","expected_subjects":["b1.devices.example.test","b2.devices.example.test","=cmd.devices.example.test"],"lifetime":"7d"}' \
  "$BASE/api/v1/enrollment/credentials/batch?format=csv" >"$T/code"
assert_eq 201 "$(cat "$T/code")" "a batch as CSV"
assert_eq 4 "$(wc -l <"$T/batch.csv")" "a header and three credentials"
grep -q "'=cmd.devices" "$T/batch.csv" && pass || fail "a formula-looking subject is defused"
IFS=, read -r bid _ bsecret _ < <(sed -n 2p "$T/batch.csv")
csr_b64 b1.devices.example.test "$T/b1.key" >"$T/b1.b64"
assert_eq 200 "$(enroll /simpleenroll "$bid:$bsecret" "$T/b1.b64")" "a batch credential enrolls its device"
batch=$(db_scalar "SELECT batch FROM enrollment_credentials WHERE id = '$bid'")
must 200 GET "/api/v1/enrollment/credentials?batch=$batch"
assert_eq "active,active,used" "$(jq -r '[.items[].state] | sort | join(",")' "$T/resp")" "the batch shows which were used"
grep -q "$bsecret" <(db_scalar "SELECT * FROM enrollment_credentials; SELECT * FROM audit_events") && fail "a secret is stored in the clear" || pass

# --- the CLI, locally and through the server -------------------------------------------------------
remote() { env CERTWARD_TOKEN="$A" CERTWARD_SERVER="$BASE" CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" "$@"; }
cw enroll credentials create --team factory --profile device --expected-subject cli-dev.devices.example.test >"$T/cli-cred.txt"
cid=$(sed -n 's/^id: *//p' "$T/cli-cred.txt")
csecret=$(sed -n 's/^secret: *//p' "$T/cli-cred.txt")
csr_b64 cli-dev.devices.example.test "$T/cli-dev.key" >"$T/cli-dev.b64"
assert_eq 200 "$(enroll /simpleenroll "$cid:$csecret" "$T/cli-dev.b64")" "a credential made by the CLI enrolls"
remote enroll credentials show "$cid" --json >"$T/show.json"
assert_eq "used|1" "$(jq -r '[.state, (.certificates | length)] | join("|")' "$T/show.json")" "the CLI shows it used, through the server"
remote enroll credentials batch --kind scep --team factory --profile device --count 3 --csv "$T/scep.csv" >/dev/null
assert_eq 4 "$(wc -l <"$T/scep.csv")" "a batch's CSV through the server"
assert_eq 600 "$(stat -c %a "$T/scep.csv")" "the CSV of secrets is private"
printf 'l1.devices.example.test\nl2.devices.example.test\n' >"$T/subjects.txt"
cw enroll credentials batch --team factory --profile device --subjects "$T/subjects.txt" --csv "$T/local.csv" >/dev/null
assert_eq 3 "$(wc -l <"$T/local.csv")" "a local batch, one per subject"
before=$(state)
assert_fails 3 invalid_argument "a credential for a CA profile" cw enroll credentials create --team factory --profile intermediate-ca
assert_fails 3 invalid_argument "a credential through the server for another team's profile" remote enroll credentials create --team other --profile tls-client
assert_fails 4 not_found "revoking an unknown credential" remote enroll credentials revoke ec-0000000000000000
assert_eq "$before" "$(state)" "refused CLI commands change nothing"
remote enroll credentials revoke "$cid" >/dev/null && pass || fail "revoke through the server"
assert_eq revoked "$(cw enroll credentials show "$cid" --json | jq -r .state)" "revoked"

# --- held for approval (RFC 7030 4.2.3): 202 with Retry-After until an approver decides -------
credential '{"kind":"est","team":"factory","profile":"gated-device","expected_subject":"held.devices.example.test"}'
HID=$ID HSECRET=$SECRET
csr_b64 held.devices.example.test "$T/held.key" >"$T/held.b64"
assert_eq 202 "$(enroll /simpleenroll "$HID:$HSECRET" "$T/held.b64")" "a request for a profile that requires approval is held"
grep -qi '^retry-after: [0-9]' "$T/hdr" && pass || fail "with Retry-After: $(cat "$T/hdr")"
assert_eq 202 "$(enroll /simpleenroll "$HID:$HSECRET" "$T/held.b64")" "asked again: still held, the one-time credential accepted for its own request"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM approval_requests WHERE profile = 'gated-device'")" "one request is held, not two"
csr_b64 held.devices.example.test "$T/held2.key" >"$T/held2.b64"
assert_eq 403 "$(enroll /simpleenroll "$HID:$HSECRET" "$T/held2.b64")" "the used one-time credential holds no second request for another key"
must 200 GET "/api/v1/approvals?status=pending"
AID=$(jq -r '.items[0].id' "$T/resp")
assert_eq est "$(jq -r '.items[0].channel' "$T/resp")" "the held request came over EST"
must 200 POST "/api/v1/approvals/$AID/approve"
assert_eq 200 "$(enroll /simpleenroll "$HID:$HSECRET" "$T/held.b64")" "once approved, the retry gets the certificate"
to_pem >"$T/held.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/held.pem" >/dev/null && pass || fail "the approved certificate verifies"
must 200 GET "/api/v1/enrollment/credentials/$HID"
assert_eq 1 "$(jq -r .uses "$T/resp")" "the credential was used once"
credential '{"kind":"est","team":"factory","profile":"gated-device","max_uses":0}'
csr_b64 rejected.devices.example.test "$T/rej.key" >"$T/rej.b64"
assert_eq 202 "$(enroll /simpleenroll "$ID:$SECRET" "$T/rej.b64")" "another held request"
must 200 GET "/api/v1/approvals?status=pending"
must 200 POST "/api/v1/approvals/$(jq -r '.items[0].id' "$T/resp")/reject" '{"reason":"not ours"}'
assert_eq 403 "$(enroll /simpleenroll "$ID:$SECRET" "$T/rej.b64")" "a rejected request is refused"

stop_server
finish
