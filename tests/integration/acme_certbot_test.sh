#!/usr/bin/env bash
# certbot (Debian's package, unchanged) against a real `certward serve`: account and http-01
# issuance for two names, a forced renewal, and `certbot revoke`, after which certward's OCSP
# responder, asked by `openssl ocsp`, says revoked; an alternate chain through a cross-certificate
# added over the REST API, chosen with --preferred-chain. Every chain is checked with openssl
# verify against the root and for exactly the names ordered.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/acme_lib.sh"

start_dns
acme_config
PORT=$(free_port)
export CERTWARD_HTTP_LISTEN=127.0.0.1:$PORT
cw init >/dev/null
start_server CERTWARD_HTTP_LISTEN="$CERTWARD_HTTP_LISTEN"
cw ca export issuing >"$T/issuing.pem"
DIRECTORY=$BASE/acme/directory

cb() {
  REQUESTS_CA_BUNDLE=$T/root.pem certbot "$@" --server "$DIRECTORY" \
    --config-dir "$T/cb/config" --work-dir "$T/cb/work" --logs-dir "$T/cb/logs" \
    --non-interactive >"$T/cb.out" 2>&1
}

rc=0
cb certonly --standalone --http-01-port "$HTTP01_PORT" --http-01-address 127.0.0.1 \
  --agree-tos -m ops@$ZONE -d "www.$ZONE" -d "api.$ZONE" --key-type ecdsa || rc=$?
assert_eq 0 "$rc" "certbot certonly (http-01) succeeds: $(tail -5 "$T/cb.out")"
LIVE=$T/cb/config/live/www.$ZONE
check_chain "$LIVE/fullchain.pem" "www.$ZONE" "api.$ZONE"
first_serial=$(openssl x509 -in "$LIVE/cert.pem" -noout -serial)

rc=0
cb renew --force-renewal --no-random-sleep-on-renew --standalone --http-01-port "$HTTP01_PORT" --http-01-address 127.0.0.1 || rc=$?
assert_eq 0 "$rc" "certbot renew --force-renewal succeeds: $(tail -5 "$T/cb.out")"
check_chain "$LIVE/fullchain.pem" "www.$ZONE" "api.$ZONE"
second_serial=$(openssl x509 -in "$LIVE/cert.pem" -noout -serial)
[[ $first_serial != "$second_serial" ]] && pass || fail "renewal issued a new certificate"

ocsp_status() {
  openssl ocsp -issuer "$T/issuing.pem" -cert "$LIVE/cert.pem" -url "$HTTP_BASE/ocsp" \
    -CAfile "$T/root.pem" 2>/dev/null | sed -n "s|^$LIVE/cert.pem: ||p"
}
assert_eq good "$(ocsp_status)" "OCSP says good before the revocation"
rc=0
cb revoke --cert-path "$LIVE/cert.pem" --reason keycompromise --no-delete-after-revoke || rc=$?
assert_eq 0 "$rc" "certbot revoke succeeds: $(tail -5 "$T/cb.out")"
wait_until 10 bash -c "openssl ocsp -issuer '$T/issuing.pem' -cert '$LIVE/cert.pem' -url '$HTTP_BASE/ocsp' -CAfile '$T/root.pem' 2>/dev/null | grep -q ': revoked'" &&
  pass || fail "OCSP says revoked after certbot revoke: $(ocsp_status)"
openssl ocsp -issuer "$T/issuing.pem" -cert "$LIVE/cert.pem" -url "$HTTP_BASE/ocsp" \
  -CAfile "$T/root.pem" 2>/dev/null | grep -q 'Reason: keyCompromise' && pass ||
  fail "the OCSP answer carries certbot's reason (keyCompromise)"

# The issuance went through the RA on the ACME channel, and the account and orders were audited.
fp=$(openssl x509 -in "$LIVE/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
channel=$(cw audit list --target "$fp" --json | jq -r '[.items[] | select(.action == "certificate.issue")][0].details.channel')
assert_eq acme "$channel" "the certificate was issued on the acme channel"
for action in acme.account.create acme.order.create acme.authorization.valid acme.order.valid; do
  n=$(cw audit list --action "$action" --json | jq '.items | length')
  [[ $n -ge 1 ]] && pass || fail "audit has $action events"
done

# Alternate chains (RFC 8555 7.4.2): certward's root cross-signed by another root, added through
# the REST API. certbot's --preferred-chain takes the chain whose top certificate that root
# issued; without it the chain still ends below certward's root.
cross_sign_root "Legacy Root"
A=$ADMIN_TOKEN
body() { jq -n --rawfile c "$1" --rawfile ch "$2" '{certificate_pem: $c, chain_pem: $ch}'; }
CROSS=/api/v1/authorities/root/cross-certificates
assert_eq 422 "$(api POST /api/v1/authorities/issuing/cross-certificates "$A" "$(body "$T/cross.pem" "$T/legacy.pem")")" \
  "a cross-certificate of the root is refused for the issuing CA"
assert_eq 422 "$(api POST "$CROSS" "$A" "$(body "$T/legacy.pem" /dev/null)")" \
  "another CA's own root is not a cross-certificate of certward's root"
cat "$T/cross.pem" "$T/legacy.pem" >"$T/two.pem"
assert_eq 400 "$(api POST "$CROSS" "$A" "$(body "$T/two.pem" /dev/null)")" \
  "certificate_pem with two certificates is refused"
printf 'not a certificate\n' >"$T/garbage.txt"
assert_eq 400 "$(api POST "$CROSS" "$A" "$(body "$T/cross.pem" "$T/garbage.txt")")" \
  "a chain_pem with no certificate in it is refused, not read as no chain"
assert_eq 400 "$(api POST "$CROSS" "$A" '{"certificate_pem": "x", "certificate_pem": "y"}')" \
  "a body naming a member twice is refused"
assert_eq 0 "$(cw ca cross list root --json | jq '.items | length')" "the refusals added nothing"
assert_eq 201 "$(api POST "$CROSS" "$A" "$(body "$T/cross.pem" "$T/legacy.pem")")" \
  "the cross-certificate is added: $(cat "$T/resp")"
CROSS_FP=$(jq -r .fingerprint "$T/resp")
assert_eq 409 "$(api POST "$CROSS" "$A" "$(body "$T/cross.pem" "$T/legacy.pem")")" \
  "the same cross-certificate twice is a conflict"

rc=0
cb certonly --standalone --http-01-port "$HTTP01_PORT" --http-01-address 127.0.0.1 \
  -d "alt.$ZONE" --key-type ecdsa --preferred-chain "Legacy Root" || rc=$?
assert_eq 0 "$rc" "certbot certonly --preferred-chain succeeds: $(tail -5 "$T/cb.out")"
ALT=$T/cb/config/live/alt.$ZONE
assert_eq "O=Elsewhere,CN=Legacy Root" "$(top_issuer "$ALT/fullchain.pem")" \
  "the preferred chain ends in the cross-certificate"
verifies_to "$T/legacy.pem" "$ALT/fullchain.pem" && pass ||
  fail "the alternate chain verifies to the other root alone"
rc=0
cb certonly --standalone --http-01-port "$HTTP01_PORT" --http-01-address 127.0.0.1 \
  -d "plain.$ZONE" --key-type ecdsa || rc=$?
assert_eq 0 "$rc" "certbot certonly without a preference succeeds: $(tail -5 "$T/cb.out")"
check_chain "$T/cb/config/live/plain.$ZONE/fullchain.pem" "plain.$ZONE"
[[ $(top_issuer "$T/cb/config/live/plain.$ZONE/fullchain.pem") != *"Legacy Root"* ]] && pass ||
  fail "the default chain stays certward's own"

assert_eq 204 "$(api DELETE "$CROSS/$CROSS_FP" "$A")" "the cross-certificate is removed"
assert_eq 404 "$(api DELETE "$CROSS/$CROSS_FP" "$A")" "removing it again finds nothing"
for action in authority.cross_certificate.add authority.cross_certificate.remove; do
  assert_eq 1 "$(cw audit list --action "$action" --json | jq '.items | length')" "one $action event"
done

stop_server
finish
