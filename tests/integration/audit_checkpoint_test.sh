#!/usr/bin/env bash
# audit verify --checkpoint: the head printed by one verify, kept outside certward, is checked
# by later ones, locally and through the server (GET /api/v1/audit/verify?checkpoint=...).
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
for n in 1 2 3; do cw issue --profile tls-server --cn "c$n.example.test" --key-type ec-p256 >/dev/null 2>&1; done

cw audit verify >"$T/v1"
grep -q '^audit chain intact: [0-9]* events verified$' "$T/v1" && pass || fail "verify output: $(cat "$T/v1")"
checkpoint=$(sed -n 's/^checkpoint: //p' "$T/v1")
[[ $checkpoint =~ ^[1-9][0-9]*:[0-9a-f]{64}$ ]] && pass || fail "no checkpoint line: $(cat "$T/v1")"
assert_eq "$checkpoint" "$(cw --json audit verify | jq -r .head.checkpoint)" "--json head.checkpoint"
head_seq=${checkpoint%%:*}
assert_eq "$(db_scalar 'SELECT MAX(seq) FROM audit_events')" "$head_seq" "checkpoint names the newest event"

cw issue --profile tls-server --cn c4.example.test --key-type ec-p256 >/dev/null 2>&1
cw audit verify --checkpoint "$checkpoint" >"$T/v2" && pass || fail "verify against a good checkpoint"
grep -q 'checkpoint matched' "$T/v2" && pass || fail "no 'checkpoint matched': $(cat "$T/v2")"
assert_eq true "$(cw --json audit verify --checkpoint "$checkpoint" | jq -r .checkpoint_matched)" "--json checkpoint_matched"

# A checkpoint the chain does not hold: another hash for that event, or an event past the end.
forged="$head_seq:$(printf '%064d' 0 | tr 0 f)"
s0=$(state)
assert_exit 8 "forged checkpoint" cw audit verify --checkpoint "$forged"
grep -q 'rewritten' "$T/err" && pass || fail "forged checkpoint message: $(cat "$T/err")"
assert_exit 8 "checkpoint past the end" cw audit verify --checkpoint "999999:${checkpoint#*:}"
grep -q 'before the checkpoint' "$T/err" && pass || fail "past-the-end message: $(cat "$T/err")"
for bad in "abc" "12" "0:${checkpoint#*:}" "$head_seq:${checkpoint#*:}x" "$head_seq:$(tr a-f A-F <<<"${checkpoint#*:}")"; do
  assert_fails 3 malformed "malformed checkpoint '$bad'" cw audit verify --checkpoint "$bad"
done
assert_eq "$s0" "$(state)" "verify changed the database"

# The same through the server.
start_server
export CERTWARD_SERVER=$BASE CERTWARD_TOKEN=$ADMIN_TOKEN CERTWARD_CA_FILE=$T/root.pem
cw audit verify --checkpoint "$checkpoint" >"$T/v3" && pass || fail "client mode: good checkpoint"
grep -q 'checkpoint matched' "$T/v3" && pass || fail "client mode: $(cat "$T/v3")"
assert_exit 8 "client mode: forged checkpoint" cw audit verify --checkpoint "$forged"
assert_eq 400 "$(api GET "/api/v1/audit/verify?checkpoint=nonsense" "$ADMIN_TOKEN")" "API: malformed checkpoint"
assert_eq malformed "$(jq -r .code "$T/resp")" "API: malformed checkpoint code"
assert_eq 400 "$(api GET "/api/v1/audit/verify?colour=red" "$ADMIN_TOKEN")" "API: unknown query parameter"
assert_eq 200 "$(api GET "/api/v1/audit/verify?checkpoint=$forged" "$ADMIN_TOKEN")" "API: forged checkpoint is a report"
assert_eq false "$(jq -r .ok "$T/resp")" "API: forged checkpoint is not ok"
unset CERTWARD_SERVER CERTWARD_TOKEN CERTWARD_CA_FILE
stop_server
finish
