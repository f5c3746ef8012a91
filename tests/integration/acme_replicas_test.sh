#!/usr/bin/env bash
# ACME on PostgreSQL with two replicas behind one database: lego orders through replica A,
# orders the same names again through replica B (lego keeps one account per server URL: a
# second account, validated by B), and revokes through A the certificate B issued (A's
# account did not order it but holds valid authorizations for its names); B's OCSP responder
# then says revoked. Every chain is checked
# with openssl verify against the root and for exactly the names ordered.
if [[ -z "${CERTWARD_TEST_POSTGRES_URL:-}" ]]; then
  exec "${CERTWARD_SOURCE_DIR:?}/scripts/with-postgres.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/acme_lib.sh"
export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL="$CERTWARD_TEST_POSTGRES_URL"
pg() { psql -X -q -t -A "$CERTWARD_TEST_POSTGRES_URL" -c "$1"; }

start_dns
acme_config "" "[revocation]" 'refresh_interval = "1s"'
cw init >/dev/null
cw ca export issuing >"$T/issuing.pem"
start_server CERTWARD_LOG_LEVEL=warn
A_PID=$SERVER_PID A_BASE=$BASE
mv "$T/serve.out" "$T/serve-a.out"
start_server CERTWARD_LOG_LEVEL=warn
B_BASE=$BASE B_HTTP=$HTTP_BASE
[[ $A_BASE != "$B_BASE" ]] && pass || fail "two replicas on two ports"

lg() {  # server path args...
  local server=$1 path=$2
  shift 2
  LEGO_CA_CERTIFICATES=$T/root.pem timeout 120 lego --server "$server" --path "$path" \
    --accept-tos --email "ops@$ZONE" --cert.timeout 20 --http-timeout 10 \
    --http --http.port "127.0.0.1:$HTTP01_PORT" "$@" >"$T/lego.out" 2>&1
}
CERT=$T/lego/certificates/r.$ZONE.crt

rc=0
lg "$A_BASE/acme/directory" "$T/lego" --domains "r.$ZONE" --domains "s.$ZONE" run || rc=$?
assert_eq 0 "$rc" "lego run through replica A succeeds: $(tail -5 "$T/lego.out")"
check_chain "$CERT" "r.$ZONE" "s.$ZONE"
assert_eq 1 "$(pg "SELECT COUNT(*) FROM acme_orders WHERE status = 'valid'")" "the order is in PostgreSQL"
first=$(openssl x509 -in "$CERT" -noout -serial)

rc=0
lg "$B_BASE/acme/directory" "$T/lego" --domains "r.$ZONE" --domains "s.$ZONE" run || rc=$?
assert_eq 0 "$rc" "lego run through replica B (a new account, validated by B) succeeds: $(tail -5 "$T/lego.out")"
check_chain "$CERT" "r.$ZONE" "s.$ZONE"
[[ $first != "$(openssl x509 -in "$CERT" -noout -serial)" ]] && pass || fail "B issued a new certificate"
assert_eq 2 "$(pg "SELECT COUNT(*) FROM acme_orders WHERE status = 'valid'")" "both orders are valid"

# lego keeps one account per server: revoking through A signs with A's account, which did not
# order B's certificate but holds valid authorizations for both its names.
cp "$CERT" "$T/b.crt"  # lego archives what it revokes
CERT=$T/b.crt
rc=0
lg "$A_BASE/acme/directory" "$T/lego" --domains "r.$ZONE" revoke --reason 4 || rc=$?
assert_eq 0 "$rc" "lego revoke through replica A succeeds: $(tail -5 "$T/lego.out")"
wait_until 10 bash -c "openssl ocsp -issuer '$T/issuing.pem' -cert '$CERT' -url '$B_HTTP/ocsp' -CAfile '$T/root.pem' 2>/dev/null | grep -q ': revoked'" &&
  pass || fail "replica B's OCSP says revoked: $(openssl ocsp -issuer "$T/issuing.pem" -cert "$CERT" -url "$B_HTTP/ocsp" -CAfile "$T/root.pem" 2>&1 | head -3) / $(pg "SELECT serial, revoked_at FROM certificates WHERE revoked_at IS NOT NULL")"
assert_eq 2 "$(pg "SELECT COUNT(*) FROM acme_accounts")" "one account per replica URL (lego keeps one per server)"

stop_server
SERVER_PID=$A_PID
stop_server
finish
