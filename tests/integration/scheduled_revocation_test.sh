#!/usr/bin/env bash
# Scheduled revocations and replacement requests (POST /api/v1/certificates/revoke with "at" or
# "replace_only", `certward cert revoke --at/--replace-only`), and the EAB key routes, driven as
# a hostile client: every refusal answers its code and changes nothing; what is accepted is
# recorded, audited, and keeps the audit chain whole.
source "$(dirname "$0")/lib.sh"

start_server
A=$ADMIN_TOKEN
for t in web other late; do
  must 201 POST /api/v1/teams "{\"name\":\"$t\",\"allowed_profiles\":[\"tls-server\"],\"allowed_domains\":[\"$t.example.test\"]}"
done
declare -A TOKEN TOKEN_ID
for spec in operator:operator:- requester:requester:web auditor:auditor:-; do
  IFS=: read -r name role team <<<"$spec"
  team_json=$([[ $team == - ]] && echo '' || echo ",\"team\":\"$team\"")
  must 201 POST /api/v1/principals "{\"name\":\"$name\",\"role\":\"$role\"$team_json}"
  must 201 POST /api/v1/tokens "{\"principal\":\"$name\",\"ttl\":\"1d\"}"
  TOKEN[$role]=$(jq -r .token "$T/resp")
  TOKEN_ID[$role]=$(jq -r .id "$T/resp")
done
declare -A FP
for c in web-1:web web-2:web other-1:other other-2:other late-1:late; do
  IFS=: read -r n team <<<"$c"
  must 201 POST /api/v1/certificates "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"$n.$team.example.test\",\"team\":\"$team\"}"
  FP[$n]=$(jq -r .fingerprint "$T/resp")
done

iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
WEEK=$(iso '+7 days')
MONTH=$(iso '+30 days')
# The scheduling columns too: lib.sh's state() does not see replace_by, revoke_at.
sched_state() {
  echo "$(state)/$(db_scalar "SELECT fingerprint, replace_by, revoke_at, scheduled_reason, revoked_at FROM certificates ORDER BY fingerprint" | sha256sum | cut -c1-16)"
}
# refused STATUS CODE TOKEN BODY MESSAGE: the bulk route refuses and nothing changes.
refused() {
  local before got
  before=$(sched_state)
  got=$(api POST /api/v1/certificates/revoke "$3" "$4")
  assert_eq "$1/$2" "$got/$(jq -r .code "$T/resp" 2>/dev/null)" "$5"
  assert_eq "$before" "$(sched_state)" "$5: nothing changes"
}
field() { api GET "/api/v1/certificates/$1" "$A" >/dev/null; jq -r ".$2 // \"null\"" "$T/resp"; }

# --- refusals -------------------------------------------------------------------------------
R=${TOKEN[requester]}
refused 403 unauthorized "$R" "{\"team\":\"other\",\"at\":\"$WEEK\",\"expected_count\":2}" "requester schedules another team's certificates"
refused 403 unauthorized "$R" "{\"team\":\"other\",\"replace_only\":true,\"expected_count\":2}" "requester asks another team's replacement"
refused 403 unauthorized "${TOKEN[auditor]}" "{\"team\":\"web\",\"at\":\"$WEEK\",\"expected_count\":2}" "auditor schedules"
refused 400 invalid_argument "$A" "{\"team\":\"web\",\"at\":\"$(iso '-1 hour')\",\"expected_count\":2}" "at in the past"
refused 400 invalid_argument "$A" "{\"team\":\"web\",\"at\":\"$(iso '+400 days')\",\"expected_count\":2}" "at beyond a year"
refused 400 malformed "$A" '{"team":"web","at":"tomorrow","expected_count":2}' "malformed at"
refused 400 malformed "$A" '{"team":"web","at":12345,"expected_count":2}' "at as a number"
refused 400 invalid_argument "$A" "{\"team\":\"web\",\"at\":\"$WEEK\",\"replace_only\":true,\"expected_count\":2}" "at with replace_only"
refused 400 invalid_argument "$A" "{\"team\":\"web\",\"at\":\"$WEEK\"}" "at without expected_count"
refused 400 invalid_argument "$A" '{"team":"web","replace_only":true}' "replace_only without expected_count"
refused 400 malformed "$A" '{"team":"web","replace_only":"yes","expected_count":2}' "replace_only not a boolean"
refused 400 invalid_argument "$A" "{\"at\":\"$WEEK\",\"expected_count\":2}" "at without a selection"
refused 409 conflict "$A" "{\"team\":\"web\",\"at\":\"$WEEK\",\"expected_count\":5}" "stale expected_count"
refused 409 conflict "$A" '{"team":"web","replace_only":true,"expected_count":1}' "stale expected_count, replace_only"
refused 400 malformed "$A" "{\"team\":\"web\",\"at\":\"$WEEK\",\"expected_count\":2,\"cancel\":true}" "unknown field"

# A dry run with "at" answers the count and changes nothing; a requester's dry run sees its team only.
before=$(sched_state)
assert_eq 200 "$(api POST /api/v1/certificates/revoke "$A" "{\"team\":\"web\",\"at\":\"$WEEK\",\"dry_run\":true}")" "dry run with at"
assert_eq 2 "$(jq -r .matched "$T/resp")" "dry run with at: matched"
assert_eq 200 "$(api POST /api/v1/certificates/revoke "$R" "{\"tag\":\"\",\"issued_before\":\"$MONTH\",\"at\":\"$WEEK\",\"dry_run\":true}")" "requester dry run without a team"
assert_eq 2 "$(jq -r .matched "$T/resp")" "requester dry run sees its own team only"
assert_eq "$before" "$(sched_state)" "dry runs change nothing"

# --- a scheduled revocation ------------------------------------------------------------------
events_before=$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'certificate.revocation_scheduled'")
assert_eq 200 "$(api POST /api/v1/certificates/revoke "$R" "{\"team\":\"web\",\"at\":\"$WEEK\",\"reason\":\"keyCompromise\",\"expected_count\":2}")" "requester schedules its own team"
assert_eq "$WEEK" "$(field "${FP[web-1]}" revoke_at)" "record shows revoke_at"
[[ $(field "${FP[web-1]}" replace_by) != null ]] && pass || fail "record shows replace_by"
assert_eq null "$(field "${FP[web-1]}" revoked_at)" "a scheduled certificate is not revoked yet"
assert_eq null "$(field "${FP[other-1]}" revoke_at)" "other team untouched"
show=$(cw cert show "${FP[web-2]}" --json)
assert_eq "$WEEK" "$(jq -r .revoke_at <<<"$show")" "cert show --json: revoke_at"
assert_eq $((events_before + 2)) "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'certificate.revocation_scheduled'")" "one scheduled event per certificate"
ev=$(cw audit list --action certificate.revocation_scheduled --json)
assert_eq "$WEEK" "$(jq -r '.items[0].details.at' <<<"$ev")" "the audit event names the time"
assert_eq "token:${TOKEN_ID[requester]}" "$(jq -r '.items[0].actor' <<<"$ev")" "the audit event names the requester"
cw audit verify >/dev/null && pass || fail "audit chain after scheduling"

# A replacement request must not cancel a scheduled revocation (it "revokes nothing", so it
# must not un-schedule either).
assert_eq 200 "$(api POST /api/v1/certificates/revoke "$R" '{"team":"web","replace_only":true,"expected_count":2}')" "replace_only over a scheduled revocation"
assert_eq "$WEEK" "$(field "${FP[web-1]}" revoke_at)" "a replacement request keeps the scheduled revocation"
# Scheduling again, later, must not postpone the revocation already scheduled.
api POST /api/v1/certificates/revoke "$R" "{\"team\":\"web\",\"at\":\"$MONTH\",\"expected_count\":2}" >/dev/null
rev=$(field "${FP[web-2]}" revoke_at)
if [[ $rev == "$WEEK" || $rev == null ]]; then pass; else fail "a second schedule postponed the revocation: revoke_at $rev, was $WEEK"; fi

# Scheduled, then revoked at once: revoked now, and no longer selected.
assert_eq 200 "$(api POST "/api/v1/certificates/${FP[web-1]}/revoke" "$A" '{"reason":"superseded"}')" "revoke a scheduled certificate now"
[[ $(field "${FP[web-1]}" revoked_at) != null ]] && pass || fail "revoked now"
assert_eq 200 "$(api POST /api/v1/certificates/revoke "$A" "{\"team\":\"web\",\"at\":\"$WEEK\",\"dry_run\":true}")" "dry run after"
assert_eq 1 "$(jq -r .matched "$T/resp")" "a revoked certificate is not scheduled again"
refused 409 conflict "$A" "{\"team\":\"web\",\"at\":\"$WEEK\",\"expected_count\":2}" "count that includes a revoked certificate"

# --- replacement only, through the CLI ---------------------------------------------------------
assert_exit 0 "cli --replace-only" cw cert revoke --team other --expect 2 --replace-only
[[ $(field "${FP[other-1]}" replace_by) != null ]] && pass || fail "replace_only sets replace_by"
assert_eq null "$(field "${FP[other-1]}" revoke_at)" "replace_only schedules no revocation"
assert_eq null "$(field "${FP[other-1]}" revoked_at)" "replace_only revokes nothing"
assert_eq 2 "$(cw audit list --action certificate.replace --json | jq '[.items[] | select(.details.team == "other" or .target_id == "'"${FP[other-1]}"'" or .target_id == "'"${FP[other-2]}"'")] | length')" "one certificate.replace event each"
before=$(sched_state)
assert_exit 3 "cli --at with --replace-only" cw cert revoke --team other --expect 2 --replace-only --at "$WEEK"
assert_exit 3 "cli --at in the past" cw cert revoke --team other --expect 2 --at "$(iso '-1 day')"
assert_exit 3 "cli --at malformed" cw cert revoke --team other --expect 2 --at "next week"
assert_exit 3 "cli --at without --expect" cw cert revoke --team other --at "$WEEK"
assert_eq "$before" "$(sched_state)" "cli refusals change nothing"
assert_exit 0 "cli --at" cw cert revoke --team other --expect 2 --at "$WEEK"
assert_eq "$WEEK" "$(field "${FP[other-2]}" revoke_at)" "cli --at schedules"

# --- the job revokes when due, with the reason given when scheduling -----------------------------
# An invalidity date belongs to a revocation made now: with `at` it is refused, not dropped.
SOON=$(iso '+3 seconds')
INVALID=$(iso '-1 hour')
refused 400 invalid_argument "$A" "{\"team\":\"late\",\"at\":\"$SOON\",\"reason\":\"keyCompromise\",\"invalidity_date\":\"$INVALID\",\"expected_count\":1}" "an invalidity date with a scheduled revocation"
assert_eq 200 "$(api POST /api/v1/certificates/revoke "$A" "{\"team\":\"late\",\"at\":\"$SOON\",\"reason\":\"keyCompromise\",\"expected_count\":1}")" "schedule a few seconds ahead"
late_revoked() { [[ $(db_scalar "SELECT revoked_at IS NOT NULL FROM certificates WHERE fingerprint = '${FP[late-1]}'") == 1 ]]; }
if wait_until 90 late_revoked; then pass; else fail "the scheduled revocation did not happen within 90 s"; fi
assert_eq keyCompromise "$(field "${FP[late-1]}" revocation_reason)" "revoked with the scheduled reason"
assert_eq system "$(cw audit list --action certificate.revoke --json | jq -r '[.items[] | select(.target_id == "'"${FP[late-1]}"'")][0].actor')" "the due revocation is audited as system"
cw audit verify >/dev/null && pass || fail "audit chain after the due revocation"

# --- EAB keys ---------------------------------------------------------------------------------
eab_refused() {  # STATUS CODE METHOD PATH TOKEN BODY MESSAGE
  local before got
  before=$(state)/$(db_scalar "SELECT COUNT(*), COUNT(revoked_at) FROM acme_eab_keys")
  got=$(api "$3" "$4" "$5" "$6")
  assert_eq "$1/$2" "$got/$(jq -r .code "$T/resp" 2>/dev/null)" "$7"
  assert_eq "$before" "$(state)/$(db_scalar "SELECT COUNT(*), COUNT(revoked_at) FROM acme_eab_keys")" "$7: nothing changes"
}
for role in operator requester auditor; do
  eab_refused 403 unauthorized POST /api/v1/acme/eab "${TOKEN[$role]}" '{"team":"web"}' "$role creates an EAB key"
done
eab_refused 401 unauthorized POST /api/v1/acme/eab "" '{"team":"web"}' "no token"
eab_refused 404 not_found POST /api/v1/acme/eab "$A" '{"team":"nosuch"}' "unknown team"
eab_refused 400 invalid_argument POST /api/v1/acme/eab "$A" '{"team":"../web"}' "bad team name"
eab_refused 400 invalid_argument POST /api/v1/acme/eab "$A" '{"team":"web","directory":"a b"}' "bad directory name"
eab_refused 400 malformed POST /api/v1/acme/eab "$A" '{"team":"web","hmac_key":"AAAA"}' "unknown field"
eab_refused 400 malformed POST /api/v1/acme/eab "$A" '{}' "no team"
eab_refused 400 malformed POST /api/v1/acme/eab "$A" '{"team":["web"]}' "team not a string"
eab_refused 400 invalid_argument POST /api/v1/acme/eab "$A" "{\"team\":\"web\",\"description\":\"$(head -c 100000 /dev/zero | tr '\0' x)\"}" "huge description"
eab_refused 404 not_found DELETE /api/v1/acme/eab/eab-000000000000000000000000 "$A" "" "revoke an unknown kid"

assert_eq 201 "$(api POST /api/v1/acme/eab "$A" '{"team":"web","description":"for the web fleet"}')" "create an EAB key"
KID=$(jq -r .kid "$T/resp")
HMAC=$(jq -r .hmac_key "$T/resp")
[[ ${#HMAC} -ge 32 ]] && pass || fail "hmac_key shown once at creation (got '${HMAC:0:8}...')"
assert_exit 0 "cli eab create" cw acme eab create --team other
CLI_HMAC=$(grep -o '[A-Za-z0-9_-]\{43\}' "$T/out" | head -1 || true)
[[ -n $CLI_HMAC ]] && pass || fail "cli eab create prints the key"
assert_eq 200 "$(api GET /api/v1/acme/eab "${TOKEN[auditor]}")" "auditor lists EAB keys"
! grep -q -e "$HMAC" -e "hmac_key" "$T/resp" && pass || fail "a listing shows no hmac_key"
assert_eq 200 "$(api GET /api/v1/acme/eab "$A")" "EAB keys"
[[ $(jq -r '(.items | length) > 0 and ([.items[].created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")] | all)' "$T/resp") == true ]] && pass ||
  fail "EAB keys' times are RFC 3339: $(head -c 300 "$T/resp")"
assert_eq 200 "$(api GET '/api/v1/acme/eab?team=web' "$A")" "list by team"
assert_eq '["web"]' "$(jq -c '[.items[].team] | unique' "$T/resp")" "list by team: only that team"
assert_eq 400 "$(api GET '/api/v1/acme/eab?teem=web' "$A")" "unknown query parameter"
eab_refused 403 unauthorized DELETE "/api/v1/acme/eab/$KID" "${TOKEN[operator]}" "" "operator revokes an EAB key"
assert_eq 200 "$(api DELETE "/api/v1/acme/eab/$KID" "$A")" "revoke"
[[ $(jq -r .revoked_at "$T/resp") != null ]] && pass || fail "revoked_at set"
assert_eq 200 "$(api GET /api/v1/acme/eab "$A")" "EAB keys after the revocation"
[[ $(jq -r --arg k "$KID" '.items[] | select(.kid == $k) | .revoked_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")' "$T/resp") == true ]] && pass ||
  fail "a revoked EAB key's revoked_at is RFC 3339: $(head -c 300 "$T/resp")"
eab_refused 409 conflict DELETE "/api/v1/acme/eab/$KID" "$A" "" "revoke twice"
audit=$(cw audit list --limit 1000 --json)
assert_eq 2 "$(jq '[.items[] | select(.action == "acme.eab.create" and (.target_id == "'"$KID"'" or .details.team == "other"))] | length' <<<"$audit")" "EAB creations audited"
! grep -q -e "$HMAC" -e "$CLI_HMAC" <<<"$audit" && pass || fail "the audit log holds an hmac_key"
! grep -q -e "$HMAC" -e "$CLI_HMAC" "$T/serve.out" "$T/serve.err" && pass || fail "the server's log holds an hmac_key"
cw audit verify >/dev/null && pass || fail "audit chain at the end"

stop_server
finish
