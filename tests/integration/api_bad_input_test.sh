#!/usr/bin/env bash
# Hostile and broken requests to the REST API: each gets the right 4xx as problem+json with
# a stable code, and nothing in the database changes.
source "$(dirname "$0")/lib.sh"

cat >"$T/small.toml" <<TOML
[server]
max_body_bytes = 65536
TOML
start_server CERTWARD_CONFIG="$T/small.toml"
A=$ADMIN_TOKEN
api POST /api/v1/teams "$A" '{"name":"web","allowed_profiles":["tls-server"],"allowed_domains":["web.example.test"]}' >/dev/null
api POST /api/v1/principals "$A" '{"name":"req","role":"requester","team":"web"}' >/dev/null
api POST /api/v1/tokens "$A" '{"principal":"req"}' >/dev/null
R=$(jq -r .token "$T/resp")
s0=$(state)

# bad METHOD PATH TOKEN BODY STATUS CODE MESSAGE [content-type [curl args...]]
bad() {
  local method=$1 path=$2 token=$3 body=$4 want=$5 code=$6 msg=$7 ctype=${8-application/json}
  shift 8 2>/dev/null || shift $#
  local args=("$@" -s -o "$T/resp" -D "$T/headers" -w '%{http_code}' --cacert "$T/root.pem" -X "$method" -H "Authorization: Bearer $token")
  [[ -n $ctype ]] && args+=(-H "Content-Type: $ctype")
  [[ -n $body ]] && args+=(--data-binary "$body")
  local got
  got=$(curl "${args[@]}" "$BASE$path")
  assert_eq "$want" "$got" "$msg: status"
  grep -qi '^content-type: application/problem+json' "$T/headers" && pass || fail "$msg: not problem+json"
  if [[ -n $code ]]; then assert_eq "$code" "$(jq -r .code "$T/resp")" "$msg: code"; fi
  assert_eq "$want" "$(jq -r .status "$T/resp")" "$msg: problem status member"
  assert_eq "$s0" "$(state)" "$msg: database changed"
}

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" -subj "/CN=x.web.example.test" -out "$T/good.csr" 2>/dev/null
# A CSR whose signature no longer matches: change one byte of the subject in the DER.
openssl req -in "$T/good.csr" -outform DER -out "$T/good.der"
off=$(grep -obUaP 'x\.web' "$T/good.der" | head -1 | cut -d: -f1)
cp "$T/good.der" "$T/bad.der"
printf 'y' | dd of="$T/bad.der" bs=1 seek="$off" conv=notrunc 2>/dev/null
badcsr=$(openssl req -inform DER -in "$T/bad.der" -outform PEM 2>/dev/null || { echo "-----BEGIN CERTIFICATE REQUEST-----"; base64 -w64 "$T/bad.der"; echo "-----END CERTIFICATE REQUEST-----"; })

bad POST /api/v1/certificates "$A" '{"profile": "tls-server", ' 400 malformed "truncated JSON"
bad POST /api/v1/certificates "$A" '[1,2,3]' 400 malformed "JSON array body"
bad POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","common_name":"a.test","colour":"red"}' 400 malformed "unknown field"
bad POST /api/v1/certificates "$A" '{"profile":7,"key_type":"ec-p256"}' 400 malformed "wrong field type"
bad POST /api/v1/certificates "$A" 'profile=tls-server' 415 invalid_argument "form body" "application/x-www-form-urlencoded"
bad POST /api/v1/certificates "$A" '{"profile":"tls-server"}' 415 invalid_argument "no content type" "text/plain"
bad POST /api/v1/teams "$A" '{"name":"t2","allowed_profiles":["no-such"]}' 400 invalid_argument "team with an unknown profile"
bad POST /api/v1/teams "$A" '{"name":"web"}' 409 conflict "duplicate team"
grep -q 'INSERT' "$T/resp" && fail "a 409 quotes SQL" || pass
bad POST /api/v1/principals "$A" '{"name":"lonely","role":"requester"}' 400 invalid_argument "requester without a team"
head -c 70000 /dev/zero | tr '\0' 'a' >"$T/big"
bad POST /api/v1/certificates "$A" "@$T/big" 413 payload_too_large "body over the limit"
bad POST /api/v1/certificates "$A" "$(jq -n --arg c "-----BEGIN CERTIFICATE REQUEST-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE REQUEST-----" '{profile:"tls-server", csr:$c}')" 400 malformed "garbage CSR"
bad POST /api/v1/certificates "$A" "$(jq -n --arg c "$badcsr" '{profile:"tls-server", csr:$c}')" 400 bad_signature "CSR with a bad signature"
bad POST /api/v1/certificates "$A" '{"profile":"no-such-profile","key_type":"ec-p256","common_name":"a.test"}' 400 invalid_argument "unknown profile"
bad POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","common_name":"a.test","authority":"nope"}' 400 invalid_argument "unknown authority"
bad POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","common_name":"a.test","validity":"999d"}' 422 policy_rejected "validity over the profile maximum"
bad POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"rsa-1024","common_name":"a.test"}' 400 invalid_argument "unsupported key type"
bad POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","sans":["dns:bad..name"]}' 400 malformed "invalid DNS name"
bad POST /api/v1/certificates "$A" '{"profile":"tls-server"}' 400 invalid_argument "neither CSR nor key type"
bad POST /api/v1/certificates "$R" '{"profile":"tls-server","key_type":"ec-p256","common_name":"www.elsewhere.test"}' 403 unauthorized "requester outside its team's domains"
bad POST /api/v1/certificates "$R" '{"profile":"tls-server","key_type":"ec-p256","common_name":"a.web.example.test","team":"ops"}' 403 unauthorized "requester issuing for another team"
bad POST /api/v1/certificates/import "$A" '{"pem":"-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n"}' 400 malformed "garbage certificate import"
bad POST /api/v1/certificates/import "$A" '{"der":"!!!notbase64"}' 400 malformed "bad base64"
bad POST /api/v1/certificates/import "$A" '{"der":"MAMCAQE="}' 400 malformed "truncated DER"
cw issue --profile tls-client --cn p12 --key-type ec-p256 --p12 "$T/c.p12" --p12-password-env PW >/dev/null 2>&1 || true
s0=$(state)
export PW=right
cw issue --profile tls-client --cn p12 --key-type ec-p256 --p12 "$T/c.p12" --p12-password-env PW >/dev/null 2>&1
s0=$(state)
bad POST /api/v1/certificates/import "$A" "{\"pkcs12\":\"$(base64 -w0 "$T/c.p12")\",\"password\":\"wrong\"}" 400 bad_password "wrong PKCS#12 password"
bad POST /api/v1/authorities "$A" '{"name":"Bad Name","kind":"issuing","parent":"root","subject":"CN=x"}' 400 invalid_argument "bad authority name"
bad POST /api/v1/authorities "$A" '{"name":"issuing","kind":"issuing","parent":"root","subject":"CN=x"}' 409 conflict "duplicate authority"
bad POST /api/v1/authorities "$A" '{"name":"x2","kind":"issuing","parent":"issuing","subject":"CN=x"}' 422 policy_rejected "CA under a path-length-0 CA"
bad POST /api/v1/authorities "$A" '{"name":"x3","kind":"intermediate","parent":"root","subject":"CN=x","path_length":17}' 400 invalid_argument "path length above 16"
bad POST /api/v1/authorities "$A" '{"name":"x3","kind":"root","subject":"CN=x","path_length":99999999999}' 400 invalid_argument "path length past an int"
bad POST /api/v1/authorities "$A" '{"name":"x3","kind":"issuing","parent":"root","subject":"CN=x","permitted":["dns:a.test,excluded;DNS:b.test"]}' 400 invalid_argument "subtree that is no domain"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 30 \
  -subj "/CN=Imported CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl pkcs8 -topk8 -in "$T/ca.key" -passout pass:right -out "$T/ca-enc.key" 2>/dev/null
import_ca() {  # import_ca KEYFILE [PASSPHRASE] -> JSON body
  jq -n --rawfile c "$T/ca.pem" --rawfile k "$1" --arg p "${2-}" \
    '{name:"imported", kind:"issuing", certificate_pem:$c, private_key_pem:$k} + (if $p == "" then {} else {key_passphrase:$p} end)'
}
printf -- '-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n' >"$T/garbage.key"
bad POST /api/v1/authorities/import "$A" "$(import_ca "$T/garbage.key")" 400 malformed "authority import with a garbage key"
head -c 100 "$T/ca.key" >"$T/cut.key"
bad POST /api/v1/authorities/import "$A" "$(import_ca "$T/cut.key")" 400 malformed "authority import with a truncated key"
bad POST /api/v1/authorities/import "$A" "$(import_ca "$T/ca-enc.key" wrong)" 400 bad_password "authority import with a wrong key passphrase"
bad POST /api/v1/authorities/import "$A" "$(import_ca "$T/ca-enc.key")" 400 bad_password "authority import of an encrypted key without a passphrase"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/other.key" 2>/dev/null
bad POST /api/v1/authorities/import "$A" "$(import_ca "$T/other.key")" 422 policy_rejected "authority import with another key"
bad POST /api/v1/tokens "$A" '{"principal":"ghost"}' 404 not_found "token for an unknown principal"
bad GET '/api/v1/certificates?limit=0' "$A" "" 400 invalid_argument "limit out of range" ""
bad GET '/api/v1/certificates?status=sparkly' "$A" "" 400 invalid_argument "unknown status" ""
bad GET '/api/v1/certificates?cursor=zzz' "$A" "" 400 invalid_argument "bad cursor" ""
bad GET '/api/v1/certificates?sort=subject' "$A" "" 400 invalid_argument "sort must be" ""
# The server's own refusals (no route, no such method) are not kept by a cache either.
for probe in "GET /api/v1/no-such-thing" "PATCH /api/v1/whoami"; do
  curl -s -o /dev/null -D "$T/h" --cacert "$T/root.pem" -X "${probe%% *}" -H "Authorization: Bearer $A" "$BASE${probe#* }"
  grep -qi '^cache-control: no-store' "$T/h" && grep -qi '^x-content-type-options: nosniff' "$T/h" && pass ||
    fail "$probe: no no-store or nosniff: $(tr -d '\r' <"$T/h" | head -8)"
done
bad GET '/api/v1/certificates?colour=red' "$A" "" 400 malformed "unknown query parameter" ""
bad GET /api/v1/certificates/not-hex "$A" "" 400 invalid_argument "bad certificate id" ""
# Search and filter texts: a NUL would end the FTS5 query or PostgreSQL's parameter early.
bad GET '/api/v1/certificates?search=h%00st' "$R" "" 400 malformed "a NUL in a search" ""
bad GET '/api/v1/certificates?tag=prod%00xyz' "$A" "" 400 malformed "a NUL in a tag filter" ""
bad GET '/api/v1/certificates?search=com%0Awww' "$A" "" 400 malformed "a newline in a search" ""
bad GET "/api/v1/certificates?search=$(printf 'a%.0s' $(seq 257))" "$R" "" 400 invalid_argument "a search over 256 bytes" ""
bad GET '/api/v1/certificates?search=ab' "$R" "" 400 invalid_argument "a search under 3 characters" ""
bad GET '/api/v1/certificates?key_bits=4294969344' "$A" "" 400 invalid_argument "key_bits out of range" ""
bad GET /api/v1/certificates/0123456789abcdef "$A" "" 404 not_found "unknown certificate" ""
bad GET /api/v1/nothing-here "$A" "" 404 not_found "unknown route" ""
bad DELETE /api/v1/certificates "$A" "" 405 method_not_allowed "wrong method" ""
grep -qi '^allow: ' "$T/headers" && pass || fail "405 without Allow"

# The HTTP request reader itself, before any route runs.
bad POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","common_name":"a.web.example.test"}' \
  411 length_required "chunked body" "application/json" -H "Transfer-Encoding: chunked"
bad GET /api/v1/certificates "$A" "" 431 header_too_large "header over 16 KiB" "" -H "X-Filler: $(head -c 17000 /dev/zero | tr '\0' 'h')"
bad GET /api/v1/certificates/%zz "$A" "" 400 malformed "bad escape in the path" ""
bad GET '/api/v1/certificates?q=%' "$A" "" 400 malformed "bad escape in the query" ""
bad GET /api/v1/../v1/certificates "$A" "" 400 malformed "dot-dot segment" "" --path-as-is
bad GET /api/v1/certificates/%00 "$A" "" 400 malformed "NUL in the path" ""

# raw BYTES STATUS CODE MESSAGE: sends BYTES (printf format) to the plain-HTTP listener and
# expects one problem+json answer, then the connection closed.
http_port=${HTTP_BASE##*:}
raw() {
  local bytes=$1 want=$2 code=$3 msg=$4
  exec 3<>"/dev/tcp/127.0.0.1/$http_port"
  printf "$bytes" >&3
  timeout 10 cat <&3 >"$T/raw" || true
  exec 3<&- 3>&-
  local status
  status=$(head -n 1 "$T/raw" | cut -d' ' -f2)
  assert_eq "$want" "$status" "$msg: status"
  grep -qi '^content-type: application/problem+json' "$T/raw" && pass || fail "$msg: not problem+json"
  sed '1,/^\r$/d' "$T/raw" >"$T/resp"
  assert_eq "$code" "$(jq -r .code "$T/resp")" "$msg: code"
  assert_eq "$s0" "$(state)" "$msg: database changed"
}
raw 'GET /healthz HTTP/9.9\r\n\r\n' 400 malformed "unknown HTTP version"
raw 'GET /healthz HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab' 400 malformed "two Content-Lengths"
raw 'GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n' 400 malformed "negative Content-Length"
raw 'GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n' 400 malformed "space in a header name"
raw 'GET /he\001lthz HTTP/1.1\r\n\r\n' 400 malformed "control byte in the target"
raw 'POST /api/v1/teams HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\r\n{"a":\r\n0\r\n\r\n' 411 length_required "raw chunked body"
raw 'POST /api/v1/teams HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n{' 413 payload_too_large "announced body over the limit"
raw 'GET * HTTP/1.1\r\nConnection: close\r\n\r\n' 400 malformed "asterisk-form target"
raw 'GET http://127.0.0.1/healthz HTTP/1.1\r\nConnection: close\r\n\r\n' 400 malformed "absolute-form target"
# The server is still healthy after all of it.
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_BASE/healthz")" "healthz after hostile input"

stop_server
finish
