#!/usr/bin/env bash
# certbot (Debian's package, unchanged) against a real `certward serve`: account and http-01
# issuance for two names, a forced renewal, and `certbot revoke`, after which certward's OCSP
# responder, asked by `openssl ocsp`, says revoked. Every chain is checked with openssl verify
# against the root and for exactly the names ordered.
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

stop_server
finish
