#!/usr/bin/env bash
# Two replicas on one PostgreSQL database: a revocation made through one is in the OCSP answers
# and the CRLs of the other within revocation.refresh_interval, the other's cached "good"
# answer included; one replica publishes each CRL (one number per publication, not one per
# replica); and both serve the same CRL.
if [[ -z "${CERTWARD_TEST_POSTGRES_URL:-}" ]]; then
  exec "${CERTWARD_SOURCE_DIR:?}/scripts/with-postgres.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL="$CERTWARD_TEST_POSTGRES_URL"
pg() { psql -X -q -t -A "$CERTWARD_TEST_POSTGRES_URL" -c "$1"; }

refresh=2
printf '[revocation]\nrefresh_interval = "%ss"\n' "$refresh" >"$T/certward.toml"
export CERTWARD_CONFIG=$T/certward.toml
cw init >/dev/null
cw ca export issuing >"$T/issuing.pem"

start_server CERTWARD_LOG_LEVEL=warn
A_PID=$SERVER_PID A_BASE=$BASE A_HTTP=$HTTP_BASE A_TOKEN=$ADMIN_TOKEN
start_server CERTWARD_LOG_LEVEL=warn
B_HTTP=$HTTP_BASE
[[ $A_HTTP != "$B_HTTP" ]] || { echo "both replicas on one port" >&2; exit 1; }
BASE=$A_BASE

# ocsp_status <http base> <cert>: good / revoked / unknown as `openssl ocsp` reads the answer,
# after verifying it against the root. No nonce: the answer the responder caches.
ocsp_status() {
  openssl ocsp -issuer "$T/issuing.pem" -cert "$2" -url "$1/ocsp" -CAfile "$T/root.pem" \
    -no_nonce 2>/dev/null | sed -n "s|^$2: ||p" | head -1
}
# crl_lists <http base> <serial hex>: whether the served full CRL lists the serial.
crl_lists() {
  curl -sf -o "$T/crl.der" "$1/crl/issuing.crl" || { echo no-crl; return; }
  if openssl crl -inform DER -in "$T/crl.der" -noout -text | grep -qi "Serial Number: $2\$"; then
    echo yes
  else
    echo no
  fi
}
crl_number() {
  curl -sf -o "$T/n.der" "$1/crl/issuing.crl" || { echo none; return; }
  openssl crl -inform DER -in "$T/n.der" -noout -crlnumber | cut -d= -f2
}

code=$(api POST /api/v1/certificates "$A_TOKEN" '{"profile":"tls-server","key_type":"ec-p256","common_name":"replica.example.test"}')
[[ $code == 201 ]] || { echo "issue: $code $(cat "$T/resp")" >&2; exit 1; }
fp=$(jq -r .fingerprint "$T/resp")
cw cert export "$fp" >"$T/leaf.pem"
serial=$(openssl x509 -in "$T/leaf.pem" -noout -serial | cut -d= -f2)

# Both replicas answer "good" and have it cached; both have published CRLs without it.
deadline=$((SECONDS + 10))
until [[ $(crl_number "$A_HTTP") != none && $(crl_number "$B_HTTP") != none ]] || ((SECONDS > deadline)); do
  sleep 0.2
done
assert_eq good "$(ocsp_status "$A_HTTP" "$T/leaf.pem")" "replica A before"
assert_eq good "$(ocsp_status "$B_HTTP" "$T/leaf.pem")" "replica B before"
assert_eq good "$(ocsp_status "$B_HTTP" "$T/leaf.pem")" "replica B before, from its cache"
assert_eq no "$(crl_lists "$B_HTTP" "$serial")" "replica B's CRL before"
sleep "$refresh"  # both replicas have looked at the database since
before=$(crl_number "$A_HTTP")
assert_eq "$before" "$(crl_number "$B_HTTP")" "both replicas serve the same CRL"

# Revoked through replica A: replica B answers "revoked" and lists it within the refresh
# interval (plus the CRL job's own poll).
assert_eq 200 "$(api POST "/api/v1/certificates/$fp/revoke" "$A_TOKEN" '{"reason":"keyCompromise"}')" "revoke through A"
start=$SECONDS
ocsp_b="" crl_b=""
deadline=$((SECONDS + refresh + 4))
while ((SECONDS <= deadline)); do
  [[ -z $ocsp_b && $(ocsp_status "$B_HTTP" "$T/leaf.pem") == revoked ]] && ocsp_b=$((SECONDS - start))
  [[ -z $crl_b && $(crl_lists "$B_HTTP" "$serial") == yes ]] && crl_b=$((SECONDS - start))
  [[ -n $ocsp_b && -n $crl_b ]] && break
  sleep 0.2
done
if [[ -n $ocsp_b ]]; then pass; else fail "replica B's OCSP still not revoked after $((refresh + 4)) s"; fi
if [[ -n $crl_b ]]; then pass; else fail "replica B's CRL still does not list it after $((refresh + 4)) s"; fi
echo "replica B: OCSP revoked after ${ocsp_b:-?} s, CRL after ${crl_b:-?} s (refresh_interval ${refresh} s)"
assert_eq revoked "$(ocsp_status "$A_HTTP" "$T/leaf.pem")" "replica A after"
assert_eq yes "$(crl_lists "$A_HTTP" "$serial")" "replica A's CRL after"

# One publication for the revocation: the full and the delta CRL, numbered once, by whichever
# replica leased the job.
sleep "$refresh"
after=$(crl_number "$A_HTTP")
assert_eq "$after" "$(crl_number "$B_HTTP")" "both replicas serve the same CRL after"
assert_eq 2 "$((after - before))" "one publication (full + delta) for one revocation"
assert_eq 1 "$(pg "SELECT COUNT(*) FROM crls WHERE authority = 'issuing' AND delta = 0")" "older CRLs pruned"

kill -TERM "$A_PID"
wait "$A_PID" || true
stop_server
finish
