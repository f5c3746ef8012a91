#!/usr/bin/env bash
# The same CLI flows on PostgreSQL instead of SQLite: init, issue (single and concurrent
# bulk with group commit), list, export, import, audit verify and tamper detection.
if [[ -z "${CERTWARD_TEST_POSTGRES_URL:-}" ]]; then
  exec "${CERTWARD_SOURCE_DIR:?}/scripts/with-postgres.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL="$CERTWARD_TEST_POSTGRES_URL"
pg() { psql -X -q -t -A "$CERTWARD_TEST_POSTGRES_URL" -c "$1"; }

cw init >/dev/null
assert_eq 2 "$(pg "SELECT COUNT(*) FROM authorities")" "authorities in PostgreSQL"
if [[ ! -e "$CERTWARD_DATA_DIR/certward.db" ]]; then pass; else fail "a SQLite file was created"; fi
cw ca export root >"$T/root.pem"
cw issue --profile tls-server --cn pg.example.test --key-type ec-p384 --out-chain "$T/chain.pem" --out-key "$T/k.pem" 2>/dev/null
if openssl verify -purpose sslserver -CAfile "$T/root.pem" -untrusted "$T/chain.pem" "$T/chain.pem" >/dev/null; then pass; else fail "verify"; fi

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/csr.key" -subj "/CN=bulk.pg.example.test" -out "$T/bulk.csr" 2>/dev/null
cw issue --profile tls-server --csr "$T/bulk.csr" --count 2000 --concurrency 8 >"$T/bulk.txt"
assert_eq 2000 "$(cut -d' ' -f1 "$T/bulk.txt" | sort -u | wc -l)" "distinct serials"
assert_eq 2000 "$(pg "SELECT COUNT(*) FROM certificates WHERE common_name = 'bulk.pg.example.test'")" "rows in PostgreSQL"
# Walk every page with the cursor: each certificate exactly once.
cursor=() seen=0
while :; do
  cw cert list --search bulk.pg --limit 700 --json "${cursor[@]}" >"$T/page.json"
  seen=$((seen + $(grep -c '"fingerprint"' "$T/page.json")))
  next=$(sed -n 's/^  "next_cursor": "\(.*\)"$/\1/p' "$T/page.json")
  [[ -n $next ]] || break
  cursor=(--cursor "$next")
done
assert_eq 2000 "$seen" "certificates seen across pages"

cw cert export "$(head -1 "$T/bulk.txt" | cut -d' ' -f2)" --format der >"$T/one.der"
assert_eq "$(head -1 "$T/bulk.txt" | cut -d' ' -f2)" "$(sha256sum <"$T/one.der" | cut -d' ' -f1)" "exported DER fingerprint"
assert_exit 0 "re-import is a no-op" cw cert import "$T/one.der"
assert_eq 2000 "$(pg "SELECT COUNT(*) FROM certificates WHERE common_name = 'bulk.pg.example.test'")" "no duplicate row"

# The server on the same PostgreSQL database: REST issuance lands there too.
start_server CERTWARD_LOG_LEVEL=warn
before=$(pg "SELECT COUNT(*) FROM certificates")
body=$(jq -n --rawfile csr "$T/bulk.csr" '{profile: "tls-server", csr: $csr}')
for _ in 1 2 3; do assert_eq 201 "$(api POST /api/v1/certificates "$ADMIN_TOKEN" "$body")" "REST issuance on PostgreSQL"; done
fp=$(jq -r .fingerprint "$T/resp")
assert_eq 3 "$(( $(pg "SELECT COUNT(*) FROM certificates") - before ))" "REST certificates in PostgreSQL"
assert_eq 1 "$(pg "SELECT COUNT(*) FROM certificates WHERE fingerprint = '$fp'")" "the answered certificate is stored"
assert_eq 200 "$(api GET "/api/v1/certificates/$fp" "$ADMIN_TOKEN")" "read back through the API"
assert_eq 1 "$(pg "SELECT COUNT(*) FROM principals WHERE name = 'admin'")" "auth tables in PostgreSQL"
stop_server
cw audit verify >/dev/null && pass || fail "audit verify on PostgreSQL"
pg "UPDATE audit_events SET actor = 'someone-else' WHERE seq = 5" >/dev/null
assert_exit 8 "tampered audit event" cw audit verify
finish
