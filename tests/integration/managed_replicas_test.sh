#!/usr/bin/env bash
# Two replicas on one PostgreSQL database reconcile the same managed certificates: each is
# issued exactly once and written to its file target, and a renewal asked of all of them is
# done exactly once each (one certificate per issuance in the inventory, one "issued" and one
# "renewed" entry per timeline), whichever replica leased it. The larger run (1,000 renewals,
# a replica killed mid-run) is the lifecycle's replica test; this one checks the wiring.
if [[ -z "${CERTWARD_TEST_POSTGRES_URL:-}" ]]; then
  exec "${CERTWARD_SOURCE_DIR:?}/scripts/with-postgres.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL="$CERTWARD_TEST_POSTGRES_URL"
pg() { psql -X -q -t -A "$CERTWARD_TEST_POSTGRES_URL" -c "$1"; }

D=$T/deploy
mkdir -p "$D"
cat >"$T/certward.toml" <<EOF
[lifecycle]
allowed_paths = ["$D"]
poll_interval_ms = 100
batch = 4
EOF
export CERTWARD_CONFIG=$T/certward.toml
cw init >/dev/null
start_server CERTWARD_LOG_LEVEL=warn
A_BASE=$BASE A=$ADMIN_TOKEN
start_server CERTWARD_LOG_LEVEL=warn
BASE=$A_BASE

N=30
for i in $(seq 1 $N); do
  body=$(jq -nc --arg d "$D" --arg n "m$i" \
    '{name: $n, sans: [$n + ".example.test"], validity: "1d",
      targets: [{name: "files", kind: "files", files: {key: ($d + "/" + $n + ".key"), fullchain: ($d + "/" + $n + ".crt")}}]}')
  must 201 POST /api/v1/managed "$body"
done
active() { [[ $(pg "SELECT COUNT(*) FROM managed_certificates WHERE state = 'active' AND deployed_fingerprint = fingerprint") == "$N" ]]; }
wait_until 60 active || fail "not all $N were issued and deployed: $(pg "SELECT state, COUNT(*) FROM managed_certificates GROUP BY state")"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM managed_events WHERE kind = 'issued'")" "one issuance each"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM certificates WHERE common_name LIKE 'm%.example.test'")" "one certificate each in the inventory"
assert_eq "$N" "$(ls "$D"/*.crt | wc -l)" "every target written"

# Renew all of them at once: each exactly once.
for i in $(seq 1 $N); do must 202 POST "/api/v1/managed/m$i/renew"; done
renewed() { [[ $(pg "SELECT COUNT(*) FROM managed_events WHERE kind = 'renewed'") -ge $N && $(pg "SELECT COUNT(*) FROM managed_certificates WHERE renew_request = '' AND state = 'active' AND deployed_fingerprint = fingerprint") == "$N" ]]; }
wait_until 60 renewed || fail "not all renewed: $(pg "SELECT kind, COUNT(*) FROM managed_events GROUP BY kind")"
sleep 1
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM managed_events WHERE kind = 'renewed'")" "one renewal each"
assert_eq "$((2 * N))" "$(pg "SELECT COUNT(*) FROM certificates WHERE common_name LIKE 'm%.example.test'")" "two certificates each in the inventory"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM certificates WHERE common_name LIKE 'm%.example.test' AND superseded_by IS NOT NULL")" "the first of each superseded"
for i in 1 $N; do
  fp=$(pg "SELECT fingerprint FROM managed_certificates WHERE name = 'm$i'")
  got=$(openssl x509 -in "$D/m$i.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
  assert_eq "$fp" "$got" "m$i: the file holds the renewed certificate"
done
finish
