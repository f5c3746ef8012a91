#!/usr/bin/env bash
# Discovery speaks PostgreSQL's own TLS upgrade (SSLRequest) to a real PostgreSQL server: a
# server without TLS is an error for that endpoint (and the scan goes on), one with TLS gives its
# certificate, recorded once with a sighting, and judged like any other.
source "$(dirname "$0")/lib.sh"
cw init >/dev/null

PG="$CERTWARD_SOURCE_DIR/scripts/pg-test-server.sh"
PGDIR="$T/pg"
chmod 711 "$T"  # the server runs as postgres and must reach its directory
"$PG" start "$PGDIR" >/dev/null
trap '"$PG" stop "$PGDIR" >/dev/null 2>&1 || true; cleanup' EXIT
PORT=$(cat "$PGDIR/port")
BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qtAc "$1"; }

result_of() {  # file location -> the place's result as JSON
  jq -c --arg l "$2" '.report.results[] | select(.location == $l)' "$1"
}

# 1. No TLS yet: the SSLRequest is refused ('N'), which is an error of that endpoint only.
cw --json scan net 127.0.0.1 --ports "$PORT/postgres" --sni db.example --no-legacy >"$T/plain.json"
r=$(result_of "$T/plain.json" "127.0.0.1:$PORT/postgres#db.example")
assert_eq "unavailable" "$(jq -r .error_code <<<"$r")" "a server without TLS is an endpoint error"
assert_eq "0" "$(jq '.report.new_certificates | length' "$T/plain.json")" "nothing recorded"
assert_eq "done" "$(jq -r .status "$T/plain.json")" "the scan itself completes"

# 2. TLS on, with a certificate for db.example.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/server.key" \
  -out "$T/server.crt" -subj /CN=db.example -addext subjectAltName=DNS:db.example -days 120 \
  2>/dev/null
install -m 0600 "$T/server.key" "$PGDIR/data/server.key"
install -m 0644 "$T/server.crt" "$PGDIR/data/server.crt"
[[ $(id -u) -eq 0 ]] && chown postgres: "$PGDIR/data/server.key" "$PGDIR/data/server.crt"
psql_admin "ALTER SYSTEM SET ssl = on" >/dev/null
psql_admin "SELECT pg_reload_conf()" >/dev/null
ssl_on() { [[ $(psql_admin "SHOW ssl") == on ]]; }
for _ in $(seq 1 50); do ssl_on && break; sleep 0.2; done
ssl_on || fail "PostgreSQL did not turn TLS on"

FP=$(openssl x509 -in "$T/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : |
  tr A-F a-f)
cw --json scan net 127.0.0.1 --ports "$PORT/postgres" --sni db.example --no-legacy >"$T/tls.json"
r=$(result_of "$T/tls.json" "127.0.0.1:$PORT/postgres#db.example")
assert_eq "$FP" "$(jq -r .leaf <<<"$r")" "the certificate PostgreSQL serves"
assert_eq "postgres" "$(jq -r .starttls <<<"$r")" "reached through the SSLRequest"
assert_eq "true" "$(jq -r '.tls_version | startswith("TLSv1.")' <<<"$r")" "a TLS version"
assert_eq "self_signed" "$(jq -r '[.findings[].code] | sort | join(",")' <<<"$r")" \
  "exactly the self-signed finding (the name matches)"
assert_eq "1" "$(jq '.report.new_certificates | length' "$T/tls.json")" "recorded once"
cw --json scan sightings "$FP" >"$T/seen.json"
assert_eq "tls 127.0.0.1:$PORT/postgres#db.example" \
  "$(jq -r '.items[] | select(.location | endswith("#db.example")) | "\(.kind) \(.location)"' "$T/seen.json")" \
  "sighted at the SNI endpoint"
assert_eq "discovered" "$(cw --json cert show "$FP" | jq -r .origin)" "origin discovered"

# 3. Again: nothing new, nothing changed.
cw --json scan net 127.0.0.1 --ports "$PORT/postgres" --sni db.example --no-legacy >"$T/again.json"
assert_eq "0 0 0" "$(jq -r '"\(.report.new_certificates | length) \(.report.changed | length) \(.report.gone | length)"' "$T/again.json")" \
  "a second scan adds and changes nothing"

finish
