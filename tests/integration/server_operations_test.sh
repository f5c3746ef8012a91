#!/usr/bin/env bash
# Operating the server: TLS client certificates mapped to principals, per-principal rate
# limits (429 + Retry-After), readiness, and a SIGTERM during a burst of issuances that
# drains every in-flight request.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
cw ca export root >"$T/root.pem"
# Clients send only their leaf: the server trusts the issuing CA with its chain.
cw ca export issuing --chain >"$T/client-ca.pem"
cat >"$T/certward.toml" <<TOML
log_level = "warn"
[server]
client_ca_file = "$T/client-ca.pem"
[server.rate_limit]
requests_per_second = 2
burst = 4
TOML
start_server CERTWARD_CONFIG="$T/certward.toml"
A=$ADMIN_TOKEN

# mTLS: a client certificate from our CA, mapped to a principal, authenticates as it.
assert_eq 201 "$(api POST /api/v1/principals "$A" '{"name":"robot","role":"operator"}')" "create principal"
cw issue --profile tls-client --key-type ec-p256 --cn robot --out-cert "$T/robot.pem" --out-key "$T/robot.key" 2>/dev/null
assert_eq 201 "$(api POST /api/v1/principals/robot/certificates "$A" "$(jq -n --rawfile c "$T/robot.pem" '{certificate_pem: $c}')")" "map certificate"
mtls() { curl -s -o "$T/resp" -w '%{http_code}' --cacert "$T/root.pem" "$@"; }
assert_eq 200 "$(mtls --cert "$T/robot.pem" --key "$T/robot.key" "$BASE/api/v1/whoami")" "client certificate authenticates"
assert_eq "robot operator cert:robot" "$(jq -r '"\(.principal) \(.role) \(.actor)"' "$T/resp")" "client certificate identity"
cw issue --profile tls-client --key-type ec-p256 --cn stranger --out-cert "$T/stranger.pem" --out-key "$T/stranger.key" 2>/dev/null
assert_eq 401 "$(mtls --cert "$T/stranger.pem" --key "$T/stranger.key" "$BASE/api/v1/whoami")" "unmapped client certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/foreign.key" -out "$T/foreign.pem" -days 2 -subj "/CN=robot" 2>/dev/null
code=$(mtls --cert "$T/foreign.pem" --key "$T/foreign.key" "$BASE/api/v1/whoami" || true)
[[ $code == 401 || $code == 000 ]] && pass || fail "certificate from a foreign CA: $code"
assert_eq 200 "$(api POST /api/v1/principals/robot/disable "$A")" "disable"
assert_eq 401 "$(mtls --cert "$T/robot.pem" --key "$T/robot.key" "$BASE/api/v1/whoami")" "disabled principal's certificate"
sleep 2.5  # the admin's bucket (burst 4, 2/s) refills before the next admin calls
assert_eq 200 "$(api POST /api/v1/principals/robot/enable "$A")" "enable"
robot_fp=$(openssl x509 -in "$T/robot.pem" -outform DER | sha256sum | cut -d' ' -f1)
assert_eq 204 "$(api DELETE "/api/v1/principals/robot/certificates/$robot_fp" "$A")" "unmap certificate"
assert_eq 401 "$(mtls --cert "$T/robot.pem" --key "$T/robot.key" "$BASE/api/v1/whoami")" "unmapped certificate stops authenticating at once"
sleep 2.5
assert_eq 404 "$(api DELETE "/api/v1/principals/robot/certificates/$robot_fp" "$A")" "unmapping twice"
sleep 2.5

# Rate limit: a burst of 4, then 2/s. The admin is throttled; nobody else is.
codes=""
for _ in $(seq 1 8); do codes+="$(api GET /api/v1/whoami "$A") "; done
[[ $codes == *429* ]] && pass || fail "no 429 in a burst of 8: $codes"
curl -s -D "$T/h" -o /dev/null --cacert "$T/root.pem" -H "Authorization: Bearer $A" "$BASE/api/v1/whoami"
if grep -qi '^retry-after: [0-9]' "$T/h" || grep -q '^HTTP/[0-9.]* 200' "$T/h"; then pass; else fail "429 without Retry-After"; fi
sleep 2.5
assert_eq 200 "$(api GET /api/v1/whoami "$A")" "tokens refill"
grep -q '^certward_rate_limited_total [1-9]' <(curl -s --cacert "$T/root.pem" "$BASE/metrics") && pass || fail "rate-limited metric"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/root.pem" "$BASE/readyz")" "readyz"
stop_server

# SIGTERM in the middle of a burst: every request that was accepted is answered, and every
# certificate answered 201 is in the database.
cat >"$T/fast.toml" <<TOML
log_level = "warn"
[server.rate_limit]
requests_per_second = 0
TOML
start_server CERTWARD_CONFIG="$T/fast.toml"
assert_eq 201 "$(api POST /api/v1/principals "$A" '{"name":"loader","role":"operator"}')" "loader principal"
assert_eq 201 "$(api POST /api/v1/tokens "$A" '{"principal":"loader"}')" "loader token"
L=$(jq -r .token "$T/resp")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" -subj "/CN=drain.example.test" -out "$T/d.csr" 2>/dev/null
jq -n --rawfile c "$T/d.csr" '{profile: "tls-server", csr: $c}' >"$T/body.json"
pids=()
for i in $(seq 1 24); do
  ( for j in 1 2 3 4 5; do
      rc=0
      code=$(curl -s -o "$T/drain-$i-$j.json" -w '%{http_code}' --cacert "$T/root.pem" -H "Authorization: Bearer $L" \
        -H 'Content-Type: application/json' --data-binary @"$T/body.json" "$BASE/api/v1/certificates") || rc=$?
      echo "$code/$rc" >>"$T/codes-$i"
    done ) &
  pids+=($!)
done
sleep 1
if stop_server; then pass; else fail "serve exited non-zero after SIGTERM"; fi
wait "${pids[@]}" 2>/dev/null || true
cat "$T"/codes-* >"$T/codes"
# Only two outcomes are acceptable: answered 201, or the connection refused (curl exit 7)
# after the listener closed. A reset or an empty reply would be a dropped request.
answered=$(grep -c '^201/0$' "$T/codes" || true)
bad=$(grep -cvE '^(201/0|000/7)$' "$T/codes" || true)
assert_eq 0 "$bad" "answers other than 201 or a refused connection during shutdown ($(sort "$T/codes" | uniq -c | tr '\n' ' '))"
[[ $answered -gt 0 ]] && pass || fail "nothing was issued before the shutdown"
stored=0
for f in "$T"/drain-*.json; do
  fp=$(jq -r '.fingerprint // empty' "$f" 2>/dev/null || true)
  [[ -n $fp ]] || continue
  [[ $(db_scalar "SELECT COUNT(*) FROM certificates WHERE fingerprint = '$fp'") == 1 ]] && stored=$((stored + 1))
done
assert_eq "$answered" "$stored" "every certificate answered 201 is in the database"
echo "shutdown drained with $answered issued, $(grep -c '^000/7$' "$T/codes" || true) refused"
finish
