#!/usr/bin/env bash
# The OCSP responder on the plain-HTTP listener, asked by the real `openssl ocsp` client:
# good, revoked (reason and time) and unknown answers, POST and GET, the nonce echoed, the
# delegated responder certificate (OCSP Signing, ocsp-nocheck) verified up to the root,
# RFC 5019 caching headers and 304, several CertIDs in one request, answers signed by the CA
# itself (ocsp_signer = "ca"), and hostile requests each answered at once with the right OCSP
# error while the responder keeps answering.
source "$(dirname "$0")/lib.sh"
# Hex without xxd (not on a minimal Debian): coreutils' od one way, python3 the other.
hex_of() { od -An -v -tx1 "$1" | tr -d ' \n'; }
unhex() { python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))'; }

# Certificates name the plain-HTTP listener in their AIA, so it listens on a port known
# before they are issued; the CLI is told the same address.
PORT=$(free_port)
export CERTWARD_HTTP_LISTEN=127.0.0.1:$PORT
cw init >/dev/null
printf '[revocation]\nrefresh_interval = "1s"\n' >"$T/certward.toml"
export CERTWARD_CONFIG=$T/certward.toml
start_server CERTWARD_HTTP_LISTEN="$CERTWARD_HTTP_LISTEN"
A=$ADMIN_TOKEN
OCSP=$HTTP_BASE/ocsp
assert_eq "http://127.0.0.1:$PORT" "$HTTP_BASE" "plain HTTP on the chosen port"
cw ca export issuing >"$T/issuing.pem"

issue() {  # name: writes $T/<name>.pem and $T/<name>.json
  must 201 POST /api/v1/certificates "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"$1.example.test\"}"
  cp "$T/resp" "$T/$1.json"
  jq -r .certificate_pem "$T/$1.json" >"$T/$1.pem"
}
# openssl ocsp with the issuing CA and the root as the only trust anchor; output in $T/o.out
# (statuses) and $T/o.err ("Response verify OK", warnings). Prints its exit status.
ask() {
  local rc=0
  openssl ocsp -issuer "$T/issuing.pem" -url "$OCSP" -CAfile "$T/root.pem" "$@" >"$T/o.out" 2>"$T/o.err" || rc=$?
  echo "$rc"
}
field() { sed -n "s/^\t$1: //p" "${2:-$T/o.out}" | head -1; }  # name [file]
epoch() { date -u -d "$1" +%s; }
header() { tr -d '\r' <"$T/h.txt" | sed -n "s/^$1: //Ip" | head -1; }  # name, from the last curl -D
verified() { grep -qx 'Response verify OK' "$T/o.err"; }

issue a
assert_eq "$OCSP" "$(openssl x509 -in "$T/a.pem" -noout -ocsp_uri)" "AIA names the responder"

# POST with a nonce (openssl's default): good, signed by a delegated responder that verifies
# up to the root, the nonce echoed.
assert_eq 0 "$(ask -cert "$T/a.pem" -req_text -resp_text)" "POST good: exit"
assert_eq "$T/a.pem: good" "$(grep "^$T/a.pem:" "$T/o.out")" "POST good: status"
verified && pass || fail "POST good: Response verify OK (stderr: $(head -c 300 "$T/o.err"))"
grep -q WARNING "$T/o.err" && fail "POST good: warnings: $(cat "$T/o.err")" || pass
nonces=$(grep -A1 'OCSP Nonce:' "$T/o.out" | grep -v -e 'OCSP Nonce:' -e '^--' | tr -d ' ')
assert_eq 2 "$(wc -l <<<"$nonces")" "a nonce in the request and in the response"
assert_eq 1 "$(sort -u <<<"$nonces" | wc -l)" "the response echoes the request's nonce"
grep -A1 'X509v3 Extended Key Usage' "$T/o.out" | grep -q 'OCSP Signing' && pass || fail "responder certificate: OCSP Signing EKU"
grep -q 'OCSP No Check' "$T/o.out" && pass || fail "responder certificate: ocsp-nocheck"
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :'; }
responder_id() { sed -n 's/^ *Responder Id: //p' "$T/o.out"; }
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$T/o.out" >"$T/responder.pem"
assert_eq "$(ski "$T/responder.pem")" "$(responder_id)" "signed by the responder certificate sent"
# The API shows the same responder for the authority.
assert_eq 200 "$(api GET /api/v1/authorities/issuing/ocsp "$A")" "the responder's status"
responder_fp=$(openssl x509 -in "$T/responder.pem" -outform DER | sha256sum | cut -d' ' -f1)
assert_eq "true delegated $responder_fp" "$(jq -r '"\(.answered) \(.signer) \(.responder.sha256)"' "$T/resp")" "the status names the delegated responder"
[[ $(jq -r .revocations_seen_at "$T/resp") == 20* ]] && pass || fail "revocations seen: $(head -c 300 "$T/resp")"
assert_eq 404 "$(api GET /api/v1/authorities/nosuch/ocsp "$A")" "no such authority"
assert_eq "$T/responder.pem: OK" "$(openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/responder.pem" 2>&1)" "the responder certificate chains to the root"
assert_eq "issuer=$(openssl x509 -in "$T/issuing.pem" -noout -subject | cut -d= -f2-)" "$(openssl x509 -in "$T/responder.pem" -noout -issuer)" "issued by the CA it answers for"

# Without a nonce: the cacheable answer, with RFC 5019's headers.
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/a.pem" -no_nonce -reqout "$T/a.req" 2>/dev/null
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/a.pem" -reqout "$T/a-nonce.req" 2>/dev/null
post() {  # file -> "http-code seconds"; body in $T/body.der, headers in $T/h.txt
  curl -s -D "$T/h.txt" -o "$T/body.der" -w '%{http_code} %{time_total}' \
    -H 'Content-Type: application/ocsp-request' --data-binary "@$1" "$OCSP"
}
read -r code _ <<<"$(post "$T/a.req")"
assert_eq 200 "$code" "POST without nonce"
[[ $(header Cache-Control) == max-age=*public* ]] && pass || fail "no nonce: cacheable ($(header Cache-Control))"
assert_eq 0 "$(ask -cert "$T/a.pem" -no_nonce)" "openssl -no_nonce: exit"
assert_eq "$T/a.pem: good" "$(grep "^$T/a.pem:" "$T/o.out")" "openssl -no_nonce: status"
verified && pass || fail "openssl -no_nonce: Response verify OK"
read -r code _ <<<"$(post "$T/a-nonce.req")"
assert_eq "200 no-store" "$code $(header Cache-Control)" "an answer with a nonce is not cached by HTTP"

# Revoked through the REST API: answered at once, with the reason and the time revoked.
fp_a=$(jq -r .fingerprint "$T/a.json")
took=$(curl -s -o "$T/resp" -w '%{time_total}' --cacert "$T/root.pem" -H "Authorization: Bearer $A" \
  -H 'Content-Type: application/json' --data-binary '{"reason":"keyCompromise"}' \
  "$BASE/api/v1/certificates/$fp_a/revoke")
assert_eq revoked "$(jq -r .status "$T/resp")" "revoked over REST"
assert_below 2 "$took" "the revocation request returns at once"
revoked_at=$(epoch "$(jq -r .revoked_at "$T/resp")")
assert_eq 0 "$(ask -cert "$T/a.pem")" "revoked: exit"
assert_eq "$T/a.pem: revoked" "$(grep "^$T/a.pem:" "$T/o.out")" "revoked: status"
assert_eq keyCompromise "$(field Reason)" "revoked: reason"
assert_eq "$revoked_at" "$(epoch "$(field 'Revocation Time')")" "revoked: time"
verified && pass || fail "revoked: Response verify OK"
# The cached no-nonce answer is signed again within moments.
cached_revoked() { [[ $(ask -cert "$T/a.pem" -no_nonce) == 0 ]] && grep -q "^$T/a.pem: revoked" "$T/o.out"; }
wait_until 3 cached_revoked && pass || fail "the cached answer says revoked within 3 s: $(cat "$T/o.out")"

# A serial never issued by a served issuer: a signed "unknown".
assert_eq 0 "$(ask -serial 0x0123456789abcdef01)" "unknown: exit"
assert_eq "0x0123456789abcdef01: unknown" "$(grep '^0x' "$T/o.out")" "unknown: status"
verified && pass || fail "unknown: Response verify OK"

# GET: the URL-escaped base64 of the DER request; RFC 5019 caching headers and 304.
issue b
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/b.pem" -no_nonce -reqout "$T/b.req" 2>/dev/null
escaped=$(base64 -w0 "$T/b.req" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
read -r code took <<<"$(curl -s -D "$T/h.txt" -o "$T/body.der" -w '%{http_code} %{time_total}' "$OCSP/$escaped")"
now=$(date +%s)
assert_eq 200 "$code" "GET"
assert_eq application/ocsp-response "$(header Content-Type)" "GET: content type"
rc=0
openssl ocsp -respin "$T/body.der" -issuer "$T/issuing.pem" -cert "$T/b.pem" -no_nonce -CAfile "$T/root.pem" >"$T/o.out" 2>"$T/o.err" || rc=$?
assert_eq "0 $T/b.pem: good" "$rc $(grep "^$T/b.pem:" "$T/o.out")" "GET: status"
verified && pass || fail "GET: Response verify OK"
next=$(epoch "$(field 'Next Update')")
this=$(epoch "$(field 'This Update')")
max_age=$(header Cache-Control | sed -n 's/.*max-age=\([0-9]*\).*/\1/p')
[[ -n $max_age ]] && ((max_age <= next - now + 2 && max_age >= next - now - 3)) && pass ||
  fail "GET: max-age '$max_age' is not nextUpdate - now ($((next - now)))"
for directive in public no-transform must-revalidate; do
  [[ $(header Cache-Control) == *"$directive"* ]] && pass || fail "GET: Cache-Control $directive"
done
assert_eq "$next" "$(epoch "$(header Expires)")" "GET: Expires is nextUpdate"
assert_eq "$this" "$(epoch "$(header Last-Modified)")" "GET: Last-Modified is thisUpdate"
etag=$(header ETag)
[[ $etag =~ ^\"[0-9a-f]+\"$ ]] && pass || fail "GET: strong ETag ($etag)"
assert_eq "304 0" "$(curl -s -o "$T/body2.der" -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$OCSP/$escaped")" "GET: If-None-Match"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "00"' "$OCSP/$escaped")" "GET: another ETag"

# Several CertIDs in one request: each answered, in one signed response.
serial_a=$(jq -r .serial "$T/a.json")
serial_b=$(jq -r .serial "$T/b.json")
assert_eq 0 "$(ask -serial "0x$serial_b" -serial "0x$serial_a")" "two CertIDs: exit"
assert_eq "0x$serial_b: good|0x$serial_a: revoked" "$(grep '^0x' "$T/o.out" | paste -sd'|')" "two CertIDs: statuses"
verified && pass || fail "two CertIDs: Response verify OK"

# A root answers for its issuing CA with its own key.
rc=0
openssl ocsp -issuer "$T/root.pem" -cert "$T/issuing.pem" -url "$OCSP" -CAfile "$T/root.pem" -resp_text >"$T/o.out" 2>"$T/o.err" || rc=$?
assert_eq "0 $T/issuing.pem: good" "$rc $(grep "^$T/issuing.pem:" "$T/o.out")" "root answers for the issuing CA"
assert_eq "$(ski "$T/root.pem")" "$(responder_id)" "root: signed with its own key"
verified && pass || fail "root: Response verify OK"

# Hostile requests: each answered at once with the OCSP error status (no signature).
MALFORMED=30030a0101
UNAUTHORIZED=30030a0106
hostile() {  # name want-code want-body-hex file
  local code took
  read -r code took <<<"$(post "$4")"
  assert_eq "$2 $3" "$code $(hex_of "$T/body.der")" "$1"
  assert_below 1 "$took" "$1: time"
}
head -c $(($(stat -c %s "$T/b.req") / 2)) "$T/b.req" >"$T/truncated.req"
hostile "truncated DER" 200 "$MALFORMED" "$T/truncated.req"
# The CertID's hash algorithm, SHA-1 (1.3.14.3.2.26), made 1.3.14.3.2.99: no issuer matches.
hex_of "$T/b.req" | sed 's/06052b0e03021a/06052b0e030263/' | unhex >"$T/badhash.req"
cmp -s "$T/b.req" "$T/badhash.req" && fail "the hash OID was not replaced" || pass
hostile "unknown hash algorithm" 200 "$UNAUTHORIZED" "$T/badhash.req"
many() {  # count file: a request for that many serials
  local args=() i
  for i in $(seq 1 "$1"); do args+=(-serial $((0x7f000000 + i))); done
  openssl ocsp -issuer "$T/issuing.pem" "${args[@]}" -no_nonce -reqout "$2" 2>/dev/null
}
many 1000 "$T/1000.req"
hostile "1000 serials ($(stat -c %s "$T/1000.req") bytes)" 200 "$MALFORMED" "$T/1000.req"
many 51 "$T/51.req"  # within the body limit, one CertID over ocsp_max_requests
hostile "51 serials" 200 "$MALFORMED" "$T/51.req"
many 50 "$T/50.req"
read -r code took <<<"$(post "$T/50.req")"
assert_eq 200 "$code" "50 serials"
assert_below 1 "$took" "50 serials: time"
assert_eq 50 "$(openssl ocsp -respin "$T/body.der" -resp_text -noverify 2>/dev/null | grep -c 'Cert Status: unknown')" "50 serials: each answered"
head -c 102400 /dev/zero >"$T/100k.req"
hostile "100 KiB body" 200 "$MALFORMED" "$T/100k.req"
head -c 2097152 /dev/zero >"$T/2m.req"
read -r code took <<<"$(post "$T/2m.req")"
assert_eq 413 "$code" "2 MiB body: the server's limit"
assert_below 1 "$took" "2 MiB body: time"
for path in 'this%20is%20not%20base64' 'AAAA%3D%3D%3D%3D' '%2B%2B%2B'; do
  read -r code took <<<"$(curl -s -o "$T/body.der" -w '%{http_code} %{time_total}' "$OCSP/$path")"
  assert_eq "200 $MALFORMED" "$code $(hex_of "$T/body.der")" "GET bad base64 $path"
  assert_below 1 "$took" "GET bad base64 $path: time"
done
# An issuer certward does not serve.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" \
  -out "$T/other.pem" -subj '/CN=Other CA' -days 2 2>/dev/null
rc=0
openssl ocsp -issuer "$T/other.pem" -serial 0x01 -url "$OCSP" -CAfile "$T/root.pem" >"$T/o.out" 2>"$T/o.err" || rc=$?
assert_eq "1 Responder Error: unauthorized (6)" "$rc $(cat "$T/o.out" "$T/o.err" | grep 'Responder Error')" "another CA's certificate"
openssl ocsp -issuer "$T/other.pem" -serial 0x01 -no_nonce -reqout "$T/other.req" 2>/dev/null
hostile "another CA's certificate (POST)" 200 "$UNAUTHORIZED" "$T/other.req"
# ... and the responder still answers.
assert_eq 0 "$(ask -cert "$T/b.pem")" "after the hostile requests: exit"
assert_eq "$T/b.pem: good" "$(grep "^$T/b.pem:" "$T/o.out")" "after the hostile requests: status"
verified && pass || fail "after the hostile requests: Response verify OK"
stop_server && pass || fail "server stops cleanly"

# ocsp_signer = "ca": the same data, the issuing CA's own key signs.
printf '[revocation]\nrefresh_interval = "1s"\nocsp_signer = "ca"\n' >"$T/certward.toml"
start_server CERTWARD_HTTP_LISTEN="$CERTWARD_HTTP_LISTEN"
assert_eq 0 "$(ask -cert "$T/a.pem" -resp_text)" "CA-signed: exit"
assert_eq "$T/a.pem: revoked" "$(grep "^$T/a.pem:" "$T/o.out")" "CA-signed: status"
assert_eq keyCompromise "$(field Reason)" "CA-signed: reason"
assert_eq "$(ski "$T/issuing.pem")" "$(responder_id)" "CA-signed: the issuing CA's key"
grep -q 'OCSP Signing' "$T/o.out" && fail "CA-signed: a responder certificate was sent" || pass
verified && pass || fail "CA-signed: Response verify OK"
assert_eq 0 "$(ask -cert "$T/b.pem" -no_nonce)" "CA-signed, no nonce: exit"
assert_eq "$T/b.pem: good" "$(grep "^$T/b.pem:" "$T/o.out")" "CA-signed, no nonce: status"
verified && pass || fail "CA-signed, no nonce: Response verify OK"
stop_server && pass || fail "server stops cleanly (CA-signed)"
finish
