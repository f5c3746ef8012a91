#!/usr/bin/env bash
# Upstream issuers against real peers on 127.0.0.1: Pebble (an ACME CA that requires external
# account binding, resolving names through Knot DNS started here), Knot taking RFC 2136 updates
# signed with TSIG for dns-01 (zone acme.test, acme_lib.sh), and `cfssl serve` with an auth
# key. Managed certificates issued and renewed by the server through Pebble with http-01
# (answered by certward's plain-HTTP listener) and with dns-01; the inventory records them as
# upstream; revoking one through certward revokes it at Pebble. CFSSL issues through its
# authenticated endpoint. With Pebble stopped, a profile's failover list falls back to the
# internal authority and an alert is raised. Bad input: an unreachable issuer, an upstream
# error document, a chain that does not verify to its anchors, a CSR whose names differ from
# the request: refused, nothing recorded.
source "$(dirname "$0")/lib.sh"

for tool in pebble cfssl kdig openssl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
[[ -x /usr/sbin/knotd ]] || { echo "missing knotd" >&2; exit 1; }
bg() { CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $1"; }

# ---- Knot: zone acme.test (every name 127.0.0.1), updates signed with the TSIG key ----------
source "$(dirname "$0")/acme_lib.sh"
start_dns
dig_a() { kdig +short +timeout=1 +retry=0 -p "$DNS_PORT" @127.0.0.1 "$1" "${2:-A}" 2>/dev/null; }

# ---- Pebble: EAB required; http-01 dialled on certward's plain-HTTP port --------------------
read -r HTTP_PORT PB_PORT PB_MGMT PB_TLS CF_PORT NOWHERE_PORT <<<"$(free_ports 6)"
pb=$T/pebble
mkdir -p "$pb"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pb/ca-key.pem" \
  -subj "/CN=Pebble TLS test CA" -days 2 -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign" -out "$pb/tls-ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pb/key.pem" \
  -subj "/CN=127.0.0.1" -out "$pb/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pb/tls.ext"
openssl x509 -req -in "$pb/tls.csr" -CA "$pb/tls-ca.pem" -CAkey "$pb/ca-key.pem" -CAcreateserial \
  -days 2 -extfile "$pb/tls.ext" -out "$pb/cert.pem" 2>/dev/null
EAB1=zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W
EAB2=b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH
EAB3=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
cat >"$pb/config.json" <<CONF
{"pebble": {"listenAddress": "127.0.0.1:$PB_PORT", "managementListenAddress": "127.0.0.1:$PB_MGMT",
  "certificate": "$pb/cert.pem", "privateKey": "$pb/key.pem", "httpPort": $HTTP_PORT,
  "tlsPort": $PB_TLS, "ocspResponderURL": "", "externalAccountBindingRequired": true,
  "externalAccountMACKeys": {"kid-1": "$EAB1", "kid-2": "$EAB2", "kid-3": "$EAB3"}}}
CONF
PB_DIR=https://127.0.0.1:$PB_PORT/dir
start_pebble() {
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=${1:-15} PEBBLE_ALTERNATE_ROOTS=1 \
    pebble -config "$pb/config.json" -dnsserver "127.0.0.1:$DNS_PORT" >>"$T/pebble.log" 2>&1 &
  PEBBLE_PID=$!
  bg $PEBBLE_PID
  wait_until 10 bash -c "curl -sf --cacert $pb/tls-ca.pem $PB_DIR | grep -q newOrder" ||
    { echo "no Pebble directory: $(tail -5 "$T/pebble.log")" >&2; exit 1; }
}
# Pebble rejects 15% of nonces as badNonce: certward must retry with the fresh one it is given.
start_pebble 15
curl -sf --cacert "$pb/tls-ca.pem" "https://127.0.0.1:$PB_MGMT/roots/0" >"$T/pebble-root.pem"
# Pebble's alternate chain ends at a second root: certward prefers it when told its name.
curl -sf --cacert "$pb/tls-ca.pem" "https://127.0.0.1:$PB_MGMT/roots/1" >"$T/pebble-alt-root.pem"
ALT_CN=$(openssl x509 -in "$T/pebble-alt-root.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=CN=//')

# ---- cfssl serve with an auth key -----------------------------------------------------------
cf=$T/cfssl
mkdir -p "$cf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$cf/ca-key.pem" \
  -subj "/CN=CFSSL Test CA" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$cf/ca.pem" 2>/dev/null
CFSSL_KEY=$(openssl rand -hex 32)
cat >"$cf/config.json" <<CONF
{"signing": {"default": {"expiry": "720h", "usages": ["signing", "key encipherment", "server auth"]},
  "profiles": {"server": {"expiry": "720h", "usages": ["signing", "key encipherment", "server auth"],
    "auth_key": "certward"}}},
 "auth_keys": {"certward": {"type": "standard", "key": "$CFSSL_KEY"}}}
CONF
cfssl serve -address 127.0.0.1 -port "$CF_PORT" -ca "$cf/ca.pem" -ca-key "$cf/ca-key.pem" \
  -config "$cf/config.json" >"$T/cfssl.log" 2>&1 &
bg $!
wait_until 10 bash -c "curl -s -o /dev/null -X POST -d '{}' http://127.0.0.1:$CF_PORT/api/v1/cfssl/info" ||
  { echo "cfssl serve does not answer: $(tail -5 "$T/cfssl.log")" >&2; exit 1; }

# ---- certward -------------------------------------------------------------------------------
umask 077
printf '%s\n' "$CFSSL_KEY" >"$T/cfssl.key"
printf '%s\n' "$TSIG_SECRET" >"$T/tsig.secret"
umask 022
export PEBBLE_EAB1=$EAB1 PEBBLE_EAB2=$EAB2 PEBBLE_EAB3=$EAB3 WRONG_EAB=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
cat >"$T/certward.toml" <<CONF
[issuers.pebble-http]
type = "acme"
directory = "$PB_DIR"
ca_file = "$pb/tls-ca.pem"
trust_anchors = "$T/pebble-root.pem"
contact = ["mailto:pki@$ZONE"]
eab_kid = "kid-1"
eab_hmac_key_env = "PEBBLE_EAB1"
challenge = "http-01"
timeout = "10s"
order_timeout = "60s"

[issuers.pebble-dns]
type = "acme"
directory = "$PB_DIR"
ca_file = "$pb/tls-ca.pem"
trust_anchors = "$T/pebble-root.pem"
eab_kid = "kid-2"
eab_hmac_key_env = "PEBBLE_EAB2"
challenge = "dns-01"
dns_server = "127.0.0.1:$DNS_PORT"
dns_zone = "$ZONE"
tsig_key_name = "$TSIG_NAME"
tsig_secret_file = "$T/tsig.secret"
timeout = "10s"
order_timeout = "60s"

# The same CA, asked for its alternate chain.
[issuers.pebble-alt]
type = "acme"
directory = "$PB_DIR"
ca_file = "$pb/tls-ca.pem"
trust_anchors = "$T/pebble-alt-root.pem"
eab_kid = "kid-3"
eab_hmac_key_env = "PEBBLE_EAB3"
preferred_chain = "$ALT_CN"
timeout = "10s"

# The same CA, held to anchors it does not chain to.
[issuers.pebble-wrong-root]
type = "acme"
directory = "$PB_DIR"
ca_file = "$pb/tls-ca.pem"
trust_anchors = "$cf/ca.pem"
eab_kid = "kid-1"
eab_hmac_key_env = "PEBBLE_EAB1"
timeout = "10s"

# An EAB key Pebble does not know: its error document comes back.
[issuers.pebble-bad-eab]
type = "acme"
directory = "$PB_DIR"
ca_file = "$pb/tls-ca.pem"
eab_kid = "kid-1"
eab_hmac_key_env = "WRONG_EAB"
timeout = "10s"

# Nothing listens there.
[issuers.nowhere]
type = "acme"
directory = "https://127.0.0.1:$NOWHERE_PORT/dir"
timeout = "3s"

[issuers.cfssl]
type = "cfssl"
url = "http://127.0.0.1:$CF_PORT"
auth_key_file = "$T/cfssl.key"
profile = "server"
trust_anchors = "$cf/ca.pem"

[profiles.public-tls]
max_validity = "3650d"
default_validity = "90d"
allowed_domains = ["$ZONE"]

[profiles.failover-tls]
max_validity = "3650d"
default_validity = "90d"
allowed_domains = ["$ZONE"]
issuers = ["pebble-http", "issuing"]
CONF
export CERTWARD_CONFIG=$T/certward.toml
start_server CERTWARD_HTTP_LISTEN=127.0.0.1:$HTTP_PORT
A=$ADMIN_TOKEN

# ---- issuers and their health ---------------------------------------------------------------
assert_eq 200 "$(api GET /api/v1/issuers "$A")" "GET /api/v1/issuers"
assert_eq "acme acme acme acme acme acme cfssl internal" \
  "$(jq -r '[.items[].type] | sort | join(" ")' "$T/resp")" "every issuer with its type"
assert_eq "failover-tls" "$(jq -r '.items[] | select(.name=="pebble-http") | .profiles | join(",")' "$T/resp")" \
  "the profiles that list an issuer"
assert_eq 200 "$(api POST /api/v1/issuers/pebble-http/check "$A")" "check an ACME issuer"
assert_eq ok "$(jq -r .health.state "$T/resp")" "Pebble answers"
assert_eq 200 "$(api POST /api/v1/issuers/cfssl/check "$A")" "check the CFSSL issuer"
assert_eq ok "$(jq -r .health.state "$T/resp")" "CFSSL answers"
assert_eq 200 "$(api POST /api/v1/issuers/nowhere/check "$A")" "check an unreachable issuer"
assert_eq failing "$(jq -r .health.state "$T/resp")" "an unreachable issuer is failing"
assert_eq 404 "$(api GET /api/v1/issuers/nosuch "$A")" "an unknown issuer"
cw issuers list >"$T/out" && grep -q '^pebble-dns  *acme' "$T/out" && pass || fail "issuers list (CLI): $(cat "$T/out")"
assert_fails 4 not_found "issuers show: an unknown issuer" cw issuers show nosuch
assert_eq 409 "$(api POST /api/v1/authorities "$A" '{"name":"pebble-http","kind":"issuing","parent":"root","subject":"CN=Shadow"}')" \
  "an authority may not take an upstream issuer's name"

# ---- REST issuance through Pebble (http-01 on certward's own listener) -----------------------
before=$(db_scalar "SELECT COUNT(*) FROM upstream_http01")
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"public-tls","authority":"pebble-http","key_type":"ec-p256","sans":["www.acme.test","api.acme.test"]}')" \
  "issue through Pebble over REST: $(head -c 300 "$T/resp")"
FP=$(jq -r .fingerprint "$T/resp")
jq -r .certificate_pem "$T/resp" >"$T/rest.pem"
jq -r .chain_pem "$T/resp" >"$T/rest-chain.pem"
openssl verify -CAfile "$T/pebble-root.pem" -untrusted "$T/rest-chain.pem" "$T/rest.pem" >/dev/null &&
  pass || fail "the certificate chains to Pebble's root"
assert_eq "upstream|pebble-http|public-tls" \
  "$(db_scalar "SELECT origin || '|' || authority || '|' || profile FROM certificates WHERE fingerprint = '$FP'")" \
  "the inventory row: upstream, with the issuer's name"
assert_eq "$before" "$(db_scalar "SELECT COUNT(*) FROM upstream_http01")" "http-01 answers withdrawn"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_BASE/.well-known/acme-challenge/unknownToken")" \
  "no answer for a token nobody published"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'certificate.issue' AND target_id = '$FP' AND details LIKE '%\"origin\":\"upstream\"%'")" \
  "the issuance is audited as upstream"

# The alternate chain, by its root's name; it verifies to that root alone.
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"public-tls","authority":"pebble-alt","key_type":"ec-p256","sans":["alt.acme.test"]}')" \
  "issue through Pebble, preferring its alternate chain: $(head -c 300 "$T/resp")"
jq -r .certificate_pem "$T/resp" >"$T/alt.pem"
jq -r .chain_pem "$T/resp" >"$T/alt-chain.pem"
openssl verify -CAfile "$T/pebble-alt-root.pem" -untrusted "$T/alt-chain.pem" "$T/alt.pem" >/dev/null &&
  pass || fail "the preferred chain ends at the alternate root"
openssl verify -CAfile "$T/pebble-root.pem" -untrusted "$T/alt-chain.pem" "$T/alt.pem" >/dev/null 2>&1 &&
  fail "the preferred chain is not the default one" || pass

# ---- managed certificates: http-01 and dns-01, issued and renewed by the server ------------
for pair in "web-http:pebble-http:web" "web-dns:pebble-dns:dns"; do
  IFS=: read -r name issuer host <<<"$pair"
  cw managed create "$name" --san "$host.$ZONE" --profile public-tls --authority "$issuer" >/dev/null &&
    pass || fail "managed create $name ($issuer)"
  fp1=$(managed_next_fp "$name") && pass || fail "the server issues $name through $issuer: $(cw managed show "$name" 2>&1 | tail -3)"
  assert_eq "upstream|$issuer" "$(db_scalar "SELECT origin || '|' || authority FROM certificates WHERE fingerprint = '$fp1'")" \
    "$name: recorded as upstream from $issuer"
  cw managed renew "$name" >/dev/null && pass || fail "ask for $name's renewal"
  fp2=$(managed_next_fp "$name" "$fp1") && pass || fail "the server renews $name through $issuer"
  assert_eq "$fp2" "$(db_scalar "SELECT superseded_by FROM certificates WHERE fingerprint = '$fp1'")" \
    "$name: the renewal supersedes the first certificate"
  assert_eq "upstream|$issuer" "$(db_scalar "SELECT origin || '|' || authority FROM certificates WHERE fingerprint = '$fp2'")" \
    "$name: the renewal is upstream too"
done
assert_eq "" "$(dig_a _acme-challenge.dns.$ZONE TXT)" "dns-01: the TXT records were deleted after validation"

# ---- revocation reaches Pebble ---------------------------------------------------------------
SERIAL=$(db_scalar "SELECT serial FROM certificates WHERE fingerprint = '$FP'")
assert_eq 200 "$(api POST "/api/v1/certificates/$FP/revoke" "$A" '{"reason":"keyCompromise"}')" \
  "revoke the Pebble certificate through certward: $(head -c 300 "$T/resp")"
curl -sf --cacert "$pb/tls-ca.pem" "https://127.0.0.1:$PB_MGMT/cert-status-by-serial/$SERIAL" >"$T/status.json" ||
  curl -sf --cacert "$pb/tls-ca.pem" "https://127.0.0.1:$PB_MGMT/cert-status-by-serial/0x$SERIAL" >"$T/status.json" || true
assert_eq Revoked "$(jq -r .Status "$T/status.json" 2>/dev/null)" "Pebble says revoked: $(head -c 200 "$T/status.json")"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM certificates WHERE fingerprint = '$FP' AND revoked_at IS NOT NULL AND revocation_reason = 1")" \
  "the inventory says revoked too"
assert_eq 409 "$(api POST "/api/v1/certificates/$FP/revoke" "$A" '{}')" "revoked twice"

# ---- CFSSL ------------------------------------------------------------------------------------
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"public-tls","authority":"cfssl","key_type":"ec-p256","sans":["cf.acme.test"]}')" \
  "issue through cfssl serve: $(head -c 300 "$T/resp")"
CF_FP=$(jq -r .fingerprint "$T/resp")
jq -r .certificate_pem "$T/resp" >"$T/cf.pem"
openssl verify -CAfile "$cf/ca.pem" "$T/cf.pem" >/dev/null && pass || fail "the CFSSL certificate chains to its CA"
assert_eq "upstream|cfssl" "$(db_scalar "SELECT origin || '|' || authority FROM certificates WHERE fingerprint = '$CF_FP'")" \
  "the CFSSL certificate's inventory row"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/csr-key.pem" \
  -subj "/CN=csr.$ZONE" -addext "subjectAltName=DNS:csr.$ZONE" -out "$T/req.csr" 2>/dev/null
assert_eq 201 "$(api POST /api/v1/certificates "$A" "$(jq -n --arg c "$(cat "$T/req.csr")" '{profile:"public-tls",authority:"cfssl",csr:$c}')")" \
  "a CSR through cfssl"
assert_eq 422 "$(api POST "/api/v1/certificates/$CF_FP/revoke" "$A" '{}')" "CFSSL's signer cannot revoke: refused"
grep -q "cannot revoke" "$T/resp" && pass || fail "says why: $(cat "$T/resp")"
assert_eq "" "$(db_scalar "SELECT revoked_at FROM certificates WHERE fingerprint = '$CF_FP'")" "and nothing is marked revoked"

# ---- bad input: refused, nothing recorded -----------------------------------------------------
s0=$(state)
assert_eq 422 "$(api POST /api/v1/certificates "$A" '{"profile":"public-tls","authority":"pebble-wrong-root","key_type":"ec-p256","sans":["w.acme.test"]}')" \
  "a chain that does not verify to its anchors"
grep -q "does not verify to its configured trust anchors" "$T/resp" && pass || fail "says why: $(cat "$T/resp")"
assert_eq 422 "$(api POST /api/v1/certificates "$A" '{"profile":"public-tls","authority":"pebble-bad-eab","key_type":"ec-p256","sans":["e.acme.test"]}')" \
  "an upstream error document (an EAB key Pebble does not know)"
jq -r .detail "$T/resp" | grep -qi "ACME CA refused" && pass || fail "the CA's problem is in the answer: $(cat "$T/resp")"
code=$(api POST /api/v1/certificates "$A" '{"profile":"public-tls","authority":"nowhere","key_type":"ec-p256","sans":["n.acme.test"]}')
assert_eq 503 "$code" "an unreachable issuer"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k2.pem" \
  -subj "/CN=a.$ZONE" -addext "subjectAltName=DNS:a.$ZONE,DNS:b.$ZONE" -out "$T/two.csr" 2>/dev/null
assert_eq 422 "$(api POST /api/v1/certificates "$A" "$(jq -n --arg c "$(cat "$T/two.csr")" '{profile:"public-tls",authority:"pebble-http",csr:$c,sans:["a.acme.test"]}')")" \
  "a CSR whose names differ from the request"
assert_eq 422 "$(api POST /api/v1/certificates "$A" '{"profile":"public-tls","authority":"pebble-http","key_type":"ec-p256","sans":["www.example.com"]}')" \
  "a name the profile refuses never reaches the CA"
assert_eq "$s0" "$(state)" "nothing recorded by the refused requests"

# ---- failover: Pebble stopped, the internal authority issues, an alert is raised -------------
kill "$PEBBLE_PID"
wait "$PEBBLE_PID" 2>/dev/null || true
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"failover-tls","key_type":"ec-p256","sans":["fo.acme.test"]}')" \
  "failover-tls with Pebble down: $(head -c 300 "$T/resp")"
FO=$(jq -r .fingerprint "$T/resp")
assert_eq "issued|issuing" "$(db_scalar "SELECT origin || '|' || authority FROM certificates WHERE fingerprint = '$FO'")" \
  "issued by the internal authority"
assert_eq 200 "$(api GET /api/v1/alerts "$A")" "list alerts"
assert_eq 1 "$(jq '[.items[] | select(.kind == "issuer_failover" and .detail.failed == "pebble-http" and .detail.used == "issuing")] | length' "$T/resp")" \
  "an issuer_failover alert"
assert_eq 201 "$(api POST /api/v1/certificates "$A" '{"profile":"failover-tls","key_type":"ec-p256","sans":["fo2.acme.test"]}')" \
  "a second failover"
api GET /api/v1/alerts "$A" >/dev/null
assert_eq 1 "$(jq '[.items[] | select(.kind == "issuer_failover")] | length' "$T/resp")" "alerted once an hour, not per request"
s1=$(state)
assert_eq 503 "$(api POST /api/v1/certificates "$A" '{"profile":"public-tls","authority":"pebble-http","key_type":"ec-p256","sans":["down.acme.test"]}')" \
  "naming the stopped issuer: unavailable"
assert_eq "$s1" "$(state)" "nothing recorded"
assert_eq 200 "$(api GET /api/v1/issuers/pebble-http "$A")" "the issuer after the failure"
assert_eq failing "$(jq -r .health.state "$T/resp")" "its health says failing"

cw audit verify >/dev/null && pass || fail "the audit chain verifies"
finish
