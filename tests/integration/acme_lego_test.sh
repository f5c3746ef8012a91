#!/usr/bin/env bash
# lego (Debian's package, unchanged) against a real `certward serve` and a real DNS server:
# issuance with each challenge type (http-01, tls-alpn-01, and dns-01 through lego's rfc2136
# provider, with a wildcard), a forced renewal, `lego revoke` after which certward's OCSP
# responder says revoked, and a directory that requires external account binding: an EAB key
# made with the CLI registers one account, whose certificates belong to the key's team; no
# account without a binding, no second account with the same key; an alternate chain through a
# cross-certificate added with the CLI, chosen with --preferred-chain. Every chain is checked with
# openssl verify against the root and for exactly the names ordered.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/acme_lib.sh"

start_dns
acme_config "[acme.directories.partners]" "external_account_required = true"
PORT=$(free_port)
export CERTWARD_HTTP_LISTEN=127.0.0.1:$PORT
cw init >/dev/null
start_server CERTWARD_HTTP_LISTEN="$CERTWARD_HTTP_LISTEN"
cw ca export issuing >"$T/issuing.pem"
DIRECTORY=$BASE/acme/directory
PARTNERS=$BASE/acme/partners/directory

# lego DIRECTORY PATH ARGS...: one lego run, its output in $T/lego.out. lego gives up on its
# own after --cert.timeout; `timeout` only guards against a hang.
lg() {
  local server=$1 path=$2
  shift 2
  LEGO_CA_CERTIFICATES=$T/root.pem timeout 120 lego --server "$server" --path "$path" \
    --accept-tos --email "ops@$ZONE" --cert.timeout 20 --http-timeout 10 "$@" >"$T/lego.out" 2>&1
}
HTTP01=(--http --http.port "127.0.0.1:$HTTP01_PORT")
fingerprint() {
  openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f
}
serial() { openssl x509 -in "$1" -noout -serial; }

# http-01.
rc=0
lg "$DIRECTORY" "$T/lego" --domains "x.$ZONE" "${HTTP01[@]}" run || rc=$?
assert_eq 0 "$rc" "lego run (http-01) succeeds: $(tail -5 "$T/lego.out")"
CERTS=$T/lego/certificates
check_chain "$CERTS/x.$ZONE.crt" "x.$ZONE"
assert_eq "$(openssl x509 -in "$CERTS/x.$ZONE.crt" -noout -issuer)" \
  "$(openssl x509 -in "$CERTS/x.$ZONE.issuer.crt" -noout -subject | sed 's/^subject=/issuer=/')" \
  "lego's .issuer.crt is the leaf's issuer"

# tls-alpn-01, with the same account.
rc=0
lg "$DIRECTORY" "$T/lego" --domains "t.$ZONE" --tls --tls.port "127.0.0.1:$TLSALPN_PORT" \
  run || rc=$?
assert_eq 0 "$rc" "lego run (tls-alpn-01) succeeds: $(tail -5 "$T/lego.out")"
check_chain "$CERTS/t.$ZONE.crt" "t.$ZONE"

# dns-01: lego publishes the TXT records in the zone by TSIG-signed dynamic updates, finds
# the zone through the test DNS server, and skips its check of the authoritative servers
# (it would ask them on port 53). The wildcard can only be validated by dns-01.
rc=0
RFC2136_NAMESERVER=127.0.0.1:$DNS_PORT RFC2136_TSIG_KEY=$TSIG_NAME. \
  RFC2136_TSIG_SECRET=$TSIG_SECRET RFC2136_TSIG_ALGORITHM=hmac-sha256. \
  RFC2136_PROPAGATION_TIMEOUT=20 RFC2136_POLLING_INTERVAL=1 RFC2136_SEQUENCE_INTERVAL=1 \
  RFC2136_TTL=5 RFC2136_DNS_TIMEOUT=5 \
  lg "$DIRECTORY" "$T/lego" --domains "d.$ZONE" --domains "*.w.$ZONE" --dns rfc2136 \
  --dns.resolvers "127.0.0.1:$DNS_PORT" --dns.disable-cp --dns-timeout 5 run || rc=$?
assert_eq 0 "$rc" "lego run (dns-01, rfc2136, wildcard) succeeds: $(tail -5 "$T/lego.out")"
check_chain "$CERTS/d.$ZONE.crt" "d.$ZONE" "*.w.$ZONE"

# A forced renewal: a new certificate for the same name.
first_serial=$(serial "$CERTS/x.$ZONE.crt")
rc=0
lg "$DIRECTORY" "$T/lego" --domains "x.$ZONE" "${HTTP01[@]}" \
  renew --days 1000 --no-random-sleep || rc=$?
assert_eq 0 "$rc" "lego renew --days 1000 succeeds: $(tail -5 "$T/lego.out")"
check_chain "$CERTS/x.$ZONE.crt" "x.$ZONE"
[[ $first_serial != "$(serial "$CERTS/x.$ZONE.crt")" ]] && pass ||
  fail "renewal issued a new certificate"

# An alternate chain through a cross-certificate of certward's root, added with the CLI:
# lego's --preferred-chain picks it by its top certificate's issuer.
cross_sign_root "Legacy Root"
cw ca cross add root --cert "$T/cross.pem" --chain "$T/legacy.pem" >/dev/null && pass ||
  fail "certward ca cross add succeeds"
rc=0
lg "$DIRECTORY" "$T/lego" --domains "p.$ZONE" "${HTTP01[@]}" run \
  --preferred-chain "Legacy Root" || rc=$?
assert_eq 0 "$rc" "lego run --preferred-chain succeeds: $(tail -5 "$T/lego.out")"
assert_eq "O=Elsewhere,CN=Legacy Root" "$(top_issuer "$CERTS/p.$ZONE.crt")" \
  "lego's preferred chain ends in the cross-certificate"
verifies_to "$T/legacy.pem" "$CERTS/p.$ZONE.crt" && pass ||
  fail "lego's alternate chain verifies to the other root alone"
cross_fp=$(cw ca cross list root --json | jq -r '.items[0].fingerprint')
cw ca cross remove root "$cross_fp" >/dev/null && pass || fail "certward ca cross remove succeeds"
assert_fails 4 not_found "removing it again finds nothing" cw ca cross remove root "$cross_fp"

# lego revoke (signed by the account), then certward's OCSP responder says revoked.
cp "$CERTS/x.$ZONE.crt" "$T/x.pem"
ocsp_status() {
  openssl ocsp -issuer "$T/issuing.pem" -cert "$T/x.pem" -url "$HTTP_BASE/ocsp" \
    -CAfile "$T/root.pem" 2>/dev/null | sed -n "s|^$T/x.pem: ||p"
}
assert_eq good "$(ocsp_status)" "OCSP says good before the revocation"
rc=0
lg "$DIRECTORY" "$T/lego" --domains "x.$ZONE" revoke --reason 1 || rc=$?
assert_eq 0 "$rc" "lego revoke succeeds: $(tail -5 "$T/lego.out")"
revoked() { [[ $(ocsp_status) == revoked ]]; }
wait_until 10 revoked && pass || fail "OCSP says revoked after lego revoke: $(ocsp_status)"
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/x.pem" -url "$HTTP_BASE/ocsp" \
  -CAfile "$T/root.pem" 2>/dev/null | grep -q 'Reason: keyCompromise' && pass ||
  fail "the OCSP answer carries lego's reason (keyCompromise)"
status=$(cw cert show "$(fingerprint "$T/x.pem")" --json | jq -r .status)
assert_eq revoked "$status" "the inventory has the certificate revoked"

# External account binding, on the directory that requires it.
meta=$(curl -s --cacert "$T/root.pem" "$PARTNERS" | jq -r .meta.externalAccountRequired)
assert_eq true "$meta" "the partners directory advertises externalAccountRequired"
cw team create partners --profile tls-server --domain "$ZONE" >/dev/null
cw --json acme eab create --team partners --directory partners >"$T/eab.json"
KID=$(jq -r .kid "$T/eab.json")
HMAC=$(jq -r .hmac_key "$T/eab.json")
[[ -n $KID && $KID != null && -n $HMAC && $HMAC != null ]] ||
  { echo "setup failed: no EAB key: $(cat "$T/eab.json")" >&2; exit 1; }

rc=0
lg "$PARTNERS" "$T/lego-eab" --eab --kid "$KID" --hmac "$HMAC" --domains "e.$ZONE" \
  "${HTTP01[@]}" run || rc=$?
assert_eq 0 "$rc" "lego run with EAB succeeds: $(tail -5 "$T/lego.out")"
check_chain "$T/lego-eab/certificates/e.$ZONE.crt" "e.$ZONE"
team=$(cw cert show "$(fingerprint "$T/lego-eab/certificates/e.$ZONE.crt")" --json | jq -r .team)
assert_eq partners "$team" "the EAB-bound account's certificate belongs to the key's team"
channel=$(cw cert show "$(fingerprint "$T/lego-eab/certificates/e.$ZONE.crt")" --json | jq -r .channel)
assert_eq acme "$channel" "the inventory records that it came through ACME"
# Its client renews it: the migration view counts it among those renewed without a person.
automated=$(cw report posture --team partners --format json | jq '.sections.totals[0].renewed_automatically')
assert_eq 1 "$automated" "the posture report counts the ACME certificate as renewed automatically"

# lego reads externalAccountRequired from the directory and refuses to register without EAB;
# the server refuses it too, whatever the client does: a bare newAccount, no binding.
rc=0
lg "$PARTNERS" "$T/lego-no-eab" --domains "n.$ZONE" "${HTTP01[@]}" run || rc=$?
[[ $rc != 0 ]] && grep -qi 'external account' "$T/lego.out" && pass ||
  fail "lego without EAB against the partners directory fails: rc $rc: $(tail -3 "$T/lego.out")"
[[ ! -e $T/lego-no-eab/certificates/n.$ZONE.crt ]] && pass || fail "no certificate without EAB"
new_account() {  # directory-url -> "status problem-type"
  python3 - "$1" "$T/root.pem" <<'PY'
import base64, json, ssl, sys, urllib.request, urllib.error
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
ctx = ssl.create_default_context(cafile=sys.argv[2])
directory = json.load(urllib.request.urlopen(sys.argv[1], context=ctx))
nonce = urllib.request.urlopen(urllib.request.Request(directory["newNonce"], method="HEAD"),
                               context=ctx).headers["Replay-Nonce"]
key = ec.generate_private_key(ec.SECP256R1())
n = key.public_key().public_numbers()
jwk = {"kty": "EC", "crv": "P-256",
       "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big"))}
protected = b64(json.dumps({"alg": "ES256", "jwk": jwk, "nonce": nonce,
                            "url": directory["newAccount"]}).encode())
payload = b64(json.dumps({"termsOfServiceAgreed": True}).encode())
der = key.sign(f"{protected}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
r, s = utils.decode_dss_signature(der)
body = json.dumps({"protected": protected, "payload": payload,
                   "signature": b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}).encode()
req = urllib.request.Request(directory["newAccount"], data=body, method="POST",
                             headers={"Content-Type": "application/jose+json"})
try:
    resp = urllib.request.urlopen(req, context=ctx)
    print(resp.status, "-")
except urllib.error.HTTPError as e:
    print(e.code, json.load(e).get("type"))
PY
}
assert_eq "201 -" "$(new_account "$DIRECTORY")" \
  "a newAccount without a binding on the default directory creates an account"
# RFC 8555 leaves the status to the server: any 4xx with the problem type.
got=$(new_account "$PARTNERS")
[[ $got == "4"??" urn:ietf:params:acme:error:externalAccountRequired" ]] && pass ||
  fail "a newAccount without a binding on the partners directory gets externalAccountRequired: '$got'"

# The EAB key is bound to the first account: another account key cannot use it.
rc=0
lg "$PARTNERS" "$T/lego-eab2" --eab --kid "$KID" --hmac "$HMAC" --domains "f.$ZONE" \
  "${HTTP01[@]}" run || rc=$?
[[ $rc != 0 ]] && grep -q 'urn:ietf:params:acme:error:unauthorized' "$T/lego.out" && pass ||
  fail "a second account with the same EAB key is refused (unauthorized): rc $rc:" \
    "$(tail -3 "$T/lego.out")"
[[ ! -e $T/lego-eab2/certificates/f.$ZONE.crt ]] && pass ||
  fail "no certificate for the second account"
# Neither refusal created an account: the partners directory has one, bound to the key.
kids=$(cw audit list --action acme.account.create --json |
  jq -r '[.items[] | select(.details.directory == "partners") | .details.eab_kid] | join(",")')
assert_eq "$KID" "$kids" "the partners directory has exactly one account, bound to the EAB key"

stop_server
finish
