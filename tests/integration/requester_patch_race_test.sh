#!/usr/bin/env bash
# A requester's PATCH /api/v1/certificates/{id} is authorised on a read made before, and outside,
# the transaction that edits the row (visible_record, then update_metadata's SELECT ... FOR
# UPDATE). When an administrator moves the certificate to another team in between, the
# requester's edit lands on a certificate of that other team; with "team": "<own team>" in the
# body it moves the certificate back into its own team, over the administrator's decision. The
# audit log then shows the requester changing team from "other" to "payments" -- an edit the
# API forbids ("another team's certificate answers 404"; "cannot move it").
# Expected: the team check is made on the row read under the lock (or the UPDATE carries
# "AND team = <requester's team>"), so no requester event ever starts from another team.
# Bounded: at most 3 rounds of 300 requester PATCHes against 150 admin moves back and forth.
source "$(dirname "$0")/lib.sh"

start_server
A=$ADMIN_TOKEN
must 201 POST /api/v1/teams '{"name":"payments","allowed_profiles":["tls-server"],"allowed_domains":["payments.example.test"]}'
must 201 POST /api/v1/teams '{"name":"other","allowed_profiles":["tls-server"],"allowed_domains":["other.example.test"]}'
must 201 POST /api/v1/principals '{"name":"alice","role":"requester","team":"payments"}'
must 201 POST /api/v1/tokens '{"principal":"alice","ttl":"1d"}'
R=$(jq -r .token "$T/resp")
api GET /api/v1/whoami "$R" >/dev/null
RA=$(jq -r .actor "$T/resp")
assert_eq 201 "$(api POST /api/v1/certificates "$R" '{"profile":"tls-server","key_type":"ec-p256","common_name":"r.payments.example.test"}')" "requester issues"
fp=$(jq -r .fingerprint "$T/resp")

patch() {  # token body
  curl -s -o /dev/null -w '%{http_code}\n' --cacert "$T/root.pem" -X PATCH -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' --data-binary "$2" "$BASE/api/v1/certificates/$fp"
}
stolen=0
for round in 1 2 3; do
  ( for _ in $(seq 1 150); do patch "$A" '{"team":"other"}'; patch "$A" '{"team":"payments"}'; done ) >/dev/null &
  admin=$!
  for i in $(seq 1 300); do patch "$R" "{\"team\":\"payments\",\"tags\":[\"r$((i % 30))\"]}"; done >/dev/null
  wait "$admin"
  api GET "/api/v1/audit/events?limit=1000" "$A" >/dev/null
  stolen=$(jq --arg ra "$RA" '[.items[] | select(.action == "certificate.update" and .actor == $ra and
    .details.changes.team.from == "other")] | length' "$T/resp")
  [[ $stolen != 0 ]] && break
done
if [[ $stolen == 0 ]]; then
  pass
else
  fail "the requester moved another team's certificate into its own team $stolen time(s): $(jq -c --arg ra "$RA" \
    '[.items[] | select(.actor == $ra and .details.changes.team.from == "other")][0].details' "$T/resp")"
fi
stop_server || true
finish
