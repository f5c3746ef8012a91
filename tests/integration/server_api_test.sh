#!/usr/bin/env bash
# The real `certward serve` over HTTPS with curl: embedded default start, one-time admin
# token, issue (CSR, server key, PKCS#12), list and filter, download in every format,
# import, audit, metrics, the plain-HTTP listener, and graceful shutdown on SIGTERM.
source "$(dirname "$0")/lib.sh"

start_server
[[ -n $ADMIN_TOKEN ]] && pass || fail "no admin token printed at first start"
A=$ADMIN_TOKEN
assert_eq 200 "$(api GET /api/v1/whoami "$A")" "whoami"
assert_eq admin "$(jq -r .role "$T/resp")" "whoami role"
assert_eq 401 "$(api GET /api/v1/whoami)" "no token"
assert_eq 401 "$(api GET /api/v1/whoami "cwt_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")" "unknown token"
# Every API answer, a refusal included, is the caller's alone: not cached, not sniffed. A
# download keeps the caching its handler chose.
for who in token none; do
  auth=()
  [[ $who == token ]] && auth=(-H "Authorization: Bearer $A")
  h=$(curl -s -D - -o /dev/null --cacert "$T/root.pem" "${auth[@]}" "$BASE/api/v1/whoami" | tr -d '\r')
  assert_eq "Cache-Control: no-store" "$(grep -i '^cache-control:' <<<"$h")" "whoami, $who: no-store"
  assert_eq "X-Content-Type-Options: nosniff" "$(grep -i '^x-content-type-options:' <<<"$h")" "whoami, $who: nosniff"
done
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_BASE/healthz")" "plain HTTP healthz"
curl -s -o "$T/issuing.der" "$HTTP_BASE/ca/issuing.crt"
assert_eq "$(openssl x509 -in "$T/issuing.der" -inform DER -noout -fingerprint -sha256)" \
  "$(cw ca export issuing | openssl x509 -noout -fingerprint -sha256)" "CA certificate over plain HTTP"
# The serving certificate chains to our root and names localhost.
if curl -s -o /dev/null --cacert "$T/root.pem" "${BASE/127.0.0.1/localhost}/healthz"; then pass; else fail "serving certificate for localhost"; fi
proto=$(openssl s_client -connect "${BASE#https://}" -CAfile "$T/root.pem" -verify_return_error -brief </dev/null 2>&1 | sed -n 's/^Protocol version: //p' | head -1)
assert_eq TLSv1.3 "$proto" "TLS protocol"
if echo | openssl s_client -connect "${BASE#https://}" -tls1_1 >/dev/null 2>&1; then fail "TLS 1.1 accepted"; else pass; fi

# Issue from a CSR.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" -subj "/CN=rest.example.test" -out "$T/r.csr" 2>/dev/null
body=$(jq -n --rawfile csr "$T/r.csr" '{profile: "tls-server", csr: $csr, sans: ["dns:rest.example.test", "dns:alt.example.test"], owner: "web-team", tags: ["prod"]}')
assert_eq 201 "$(api POST /api/v1/certificates "$A" "$body")" "issue from CSR"
jq -r .certificate_pem "$T/resp" >"$T/rest.pem"
jq -r .chain_pem "$T/resp" >"$T/rest-chain.pem"
fp=$(jq -r .fingerprint "$T/resp")
if openssl verify -purpose sslserver -CAfile "$T/root.pem" -untrusted "$T/rest-chain.pem" "$T/rest.pem" >/dev/null; then pass; else fail "REST-issued certificate does not verify"; fi
assert_eq "$(openssl x509 -in "$T/rest.pem" -outform DER | sha256sum | cut -d' ' -f1)" "$fp" "fingerprint is the SHA-256 of the DER"

# Issue with a server-side key: PEM, encrypted key, and PKCS#12.
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"tls-client","key_type":"ec-p384","common_name":"svc-a","key_password":"s3cret"}')" "issue with server key"
jq -r .private_key_pem "$T/resp" >"$T/svc.key"
grep -q 'ENCRYPTED PRIVATE KEY' "$T/svc.key" && pass || fail "key_password did not encrypt the key"
if openssl pkey -in "$T/svc.key" -passin pass:s3cret -noout 2>/dev/null; then pass; else fail "encrypted key unreadable"; fi
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"tls-client","key_type":"ec-p256","common_name":"svc-b","format":"pkcs12","pkcs12_password":"p12pass"}')" "issue as PKCS#12"
jq -r .pkcs12 "$T/resp" | base64 -d >"$T/svc.p12"
if openssl pkcs12 -in "$T/svc.p12" -passin pass:p12pass -noout 2>/dev/null; then pass; else fail "PKCS#12 unreadable"; fi
grep -q '"private_key_pem"' "$T/resp" && fail "PKCS#12 response also carries a PEM key" || pass

# List, filter, paginate.
assert_eq 200 "$(api GET '/api/v1/certificates?owner=web-team' "$A")" "list by owner"
assert_eq 1 "$(jq '.items | length' "$T/resp")" "owner filter"
assert_eq 200 "$(api GET '/api/v1/certificates?search=ALT.example&tag=prod' "$A")" "search and tag"
assert_eq "$fp" "$(jq -r '.items[0].fingerprint' "$T/resp")" "search finds the SAN"
assert_eq 200 "$(api GET '/api/v1/certificates?key_algorithm=ecdsa&key_bits=384&search=svc' "$A")" "key filter"
assert_eq 1 "$(jq '.items | length' "$T/resp")" "one P-384 leaf"
total=$(db_scalar "SELECT COUNT(*) FROM certificates")
seen=0 cursor=""
while :; do
  assert_eq 200 "$(api GET "/api/v1/certificates?limit=2${cursor:+&cursor=$cursor}" "$A")" "page"
  seen=$((seen + $(jq '.items | length' "$T/resp")))
  cursor=$(jq -r '.next_cursor // empty' "$T/resp")
  [[ -n $cursor ]] || break
done
assert_eq "$total" "$seen" "pagination visits every certificate once"
# Latest expiry first: the same certificates, backwards, page by page.
order() {  # sort
  local cursor="" out=""
  for _ in $(seq 1 100); do
    api GET "/api/v1/certificates?limit=2&sort=$1${cursor:+&cursor=$cursor}" "$A" >/dev/null
    out+=$(jq -r '.items[].fingerprint' "$T/resp")$'\n'
    cursor=$(jq -r '.next_cursor // empty' "$T/resp")
    [[ -n $cursor ]] || break
  done
  grep -v '^$' <<<"$out"
}
assert_eq "$(order not_after | tac)" "$(order -not_after)" "sort=-not_after lists the same certificates backwards"
assert_eq 200 "$(api GET "/api/v1/certificates/${fp:0:12}" "$A")" "show by prefix"
assert_eq "$fp" "$(jq -r .fingerprint "$T/resp")" "show"

# Downloads.
dl() { curl -s -o "$T/dl" -w '%{http_code}' --cacert "$T/root.pem" -H "Authorization: Bearer $A" "$@"; }
assert_eq 200 "$(dl "$BASE/api/v1/certificates/$fp/download?format=der")" "download DER"
assert_eq "$fp" "$(sha256sum <"$T/dl" | cut -d' ' -f1)" "DER download is the certificate"
assert_eq 200 "$(dl "$BASE/api/v1/certificates/$fp/download?format=chain")" "download chain"
assert_eq 3 "$(grep -c 'BEGIN CERTIFICATE' "$T/dl")" "chain has leaf, issuing and root"
assert_eq 200 "$(dl "$BASE/api/v1/certificates/$fp/download?format=p7b")" "download p7b"
assert_eq 3 "$(openssl pkcs7 -inform DER -in "$T/dl" -print_certs | grep -c 'subject=')" "p7b holds the chain"
assert_eq 200 "$(dl -H 'X-PKCS12-Password: trust' "$BASE/api/v1/certificates/$fp/download?format=p12")" "download p12"
assert_eq 3 "$(openssl pkcs12 -in "$T/dl" -passin pass:trust -nokeys 2>/dev/null | grep -c 'BEGIN CERTIFICATE')" "p12 holds the chain"
assert_eq 400 "$(dl "$BASE/api/v1/certificates/$fp/download?format=p12")" "p12 without password"
assert_eq 400 "$(dl "$BASE/api/v1/certificates/$fp/download?format=zip")" "unknown format"

# Import: PEM (one new, one duplicate) and DER.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ext.key" -subj "/CN=external.example.test" -days 10 -out "$T/ext.pem" 2>/dev/null
body=$(jq -n --rawfile pem "$T/ext.pem" --rawfile dup "$T/rest.pem" '{pem: ($pem + $dup), team: "ops"}')
assert_eq 201 "$(api POST /api/v1/certificates/import "$A" "$body")" "import PEM"
assert_eq "1/1" "$(jq -r '"\(.inserted)/\(.duplicates)"' "$T/resp")" "import counts"
assert_eq 200 "$(api POST /api/v1/certificates/import "$A" "{\"der\":\"$(openssl x509 -in "$T/ext.pem" -outform DER | base64 -w0)\"}")" "re-import DER"
assert_eq 0 "$(jq .inserted "$T/resp")" "DER duplicate"
assert_eq 200 "$(api GET '/api/v1/certificates?status=expiring&origin=imported' "$A")" "expiring imported"
assert_eq 1 "$(jq '.items | length' "$T/resp")" "the 10-day certificate is expiring"

# Audit over the API.
assert_eq 200 "$(api GET '/api/v1/audit/events?action=certificate.issue&limit=100' "$A")" "audit list"
issued=$(jq '[.items[] | select(.actor | startswith("token:"))] | length' "$T/resp")
assert_eq 3 "$issued" "issue events carry the token as actor"
assert_eq 200 "$(api GET /api/v1/audit/verify "$A")" "audit verify"
assert_eq true "$(jq .ok "$T/resp")" "audit chain over the API"

# Metrics.
curl -s --cacert "$T/root.pem" "$BASE/metrics" >"$T/metrics"
grep -q 'certward_http_requests_total{listener="https",method="POST",route="/api/v1/certificates",status="201"} 3' "$T/metrics" && pass || fail "request counter"
# Counted by the RA whatever the channel: one over REST and the server's own certificate.
grep -q 'certward_certificates_issued_total{profile="tls-server",authority="issuing"} 2' "$T/metrics" && pass || fail "issuance counter"
grep -q '^certward_certificates{status="expiring"} 1' "$T/metrics" && pass || fail "certificates by status"
grep -q '^certward_certificate_days_to_expiry_bucket{le="14"} 1' "$T/metrics" && pass || fail "days-to-expiry histogram"
grep -q 'certward_http_request_duration_seconds_bucket{listener="https",method="GET",route="/api/v1/certificates/{id}"' "$T/metrics" && pass || fail "latency by route pattern"

# Logs never carry tokens or keys.
if grep -q "${A#cwt_*_}" "$T/serve.err" || grep -q 'PRIVATE KEY' "$T/serve.err"; then fail "a secret reached the log"; else pass; fi
jq -e . "$T/serve.err" >/dev/null && pass || fail "logs are not JSON lines"

# Graceful stop, then a restart prints no new admin token and keeps the data.
if stop_server; then pass; else fail "serve did not exit 0 on SIGTERM"; fi
grep -q '"event":"stopped"' "$T/serve.err" && pass || fail "no stopped event"
start_server
[[ -z $ADMIN_TOKEN ]] && pass || fail "a second admin token was printed"
assert_eq 200 "$(api GET "/api/v1/certificates/$fp" "$A")" "data and token survive a restart"
stop_server
finish
