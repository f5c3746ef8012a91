#!/usr/bin/env bash
# Managed certificates deployed to a real nginx on 127.0.0.1, with no manual step, and every
# claim checked by a real handshake (`openssl s_client`):
#   1. A managed certificate with a lifetime of three minutes and renew_before two minutes:
#      certward issues it, writes the key and full chain (a files target), reloads nginx and
#      verifies by handshake; about a minute later the reconciler renews it on its own and
#      nginx serves the NEW certificate (another serial and fingerprint) before the old one
#      expires.
#   2. Deployments that fail: a verification that sees another certificate (the endpoint's SNI
#      names another server block) and a reload that fails (nginx -s reload with a missing
#      configuration). Each time the previous files are restored and nginx still serves the
#      previous certificate; the timeline shows deploy_failed and rolled_back, the managed
#      certificate is failed with last_error, and a critical alert is listed by the alerts
#      API. Repaired, the same managed certificate deploys and becomes active.
# Part 2 runs while part 1 waits for its renewal: about 80 s in all.
source "$(dirname "$0")/managed_peers_lib.sh"

D=$T/deploy
mkdir -p "$D"
start_nginx "$T/nginx" www.example.test="$D/www" rb.example.test="$D/rb"

start_managed_server "allowed_paths = [\"$D\"]"

# target NAME FILES-PREFIX SNI [RELOAD-ARGV-JSON]: a files target reloading nginx and verifying
# the handshake for SNI.
target() {
  jq -nc --arg n "$1" --arg f "$2" --arg sni "$3" --argjson reload "${4:-$NGINX_RELOAD}" \
    --arg ep "127.0.0.1:$NGINX_PORT" \
    '{name: $n, kind: "files", files: {key: ($f + ".key"), fullchain: ($f + ".crt")},
      reload: {argv: $reload, timeout: "20s"},
      verify: {endpoint: $ep, server_name: $sni, timeout: "4s"}}'
}
secs_until() { echo $(($(date -d "$1" +%s) - $(date +%s))); }

# --- 1. Issued, deployed, verified --------------------------------------------------------
PRE=$(served_fp www.example.test)
body=$(jq -nc --argjson t "$(target nginx "$D/www" www.example.test)" \
  '{name: "www", sans: ["www.example.test"], validity: "3m", renew_before: "2m", targets: [$t]}')
assert_eq 201 "$(api POST /api/v1/managed "$A" "$body")" "create www"
wait_until 30 deployed www || fail "www: not deployed: $(cat "$T/resp")"
FP1=$(managed_field www fingerprint)
NA1=$(managed_field www not_after)
RA1=$(managed_field www renew_at)
[[ $FP1 != "$PRE" && $FP1 != null ]] && pass || fail "www: no new certificate"
serves www.example.test "$FP1" && pass || fail "www: nginx does not serve the issued certificate"
assert_eq "$FP1" "$(file_fp "$D/www.crt")" "www: the full chain file"
key_matches "$D/www.key" "$D/www.crt" && pass || fail "www: key does not match"
SERIAL1=$(served_serial www.example.test)
timeline_json www
assert_eq "created issued deployed" "$(jq -r '[.[].kind] | join(" ")' "$T/timeline.json")" "www: timeline"
assert_eq "write reload verify" \
  "$(jq -r '[.[] | select(.kind == "deployed") | .detail.outcome.steps[].name] | join(" ")' "$T/timeline.json")" \
  "www: deployment steps"
assert_eq "served SHA256:$FP1" \
  "$(jq -r '.[] | select(.kind == "deployed") | .detail.outcome.steps[] | select(.name == "verify") | .detail' "$T/timeline.json")" \
  "www: certward's verification saw the new certificate"
lifetime=$(($(date -d "$NA1" +%s) - $(date -d "$(managed_field www not_before)" +%s)))
((lifetime <= 240)) && pass || fail "www: lifetime ${lifetime}s, want a few minutes"
echo "www: issued $FP1 (serial $SERIAL1), lifetime ${lifetime}s, renewal due $RA1, expires $NA1"

# --- 2. Failed deployments roll back -------------------------------------------------------
body=$(jq -nc --argjson t "$(target nginx "$D/rb" rb.example.test)" \
  '{name: "rb", sans: ["rb.example.test"], validity: "1h", targets: [$t]}')
assert_eq 201 "$(api POST /api/v1/managed "$A" "$body")" "create rb"
wait_until 30 deployed rb || fail "rb: not deployed: $(cat "$T/resp")"
FPA=$(managed_field rb fingerprint)
serves rb.example.test "$FPA" && pass || fail "rb: nginx does not serve it"
KEYA=$(cat "$D/rb.key")

# (a) Verification fails: a re-issue (the validity changed) deployed with a verification whose
# SNI reaches the default server block, which never serves it.
patch=$(jq -nc --argjson t "$(target nginx "$D/rb" other.example.test)" '{validity: "2h", targets: [$t]}')
assert_eq 200 "$(api PATCH /api/v1/managed/rb "$A" "$patch")" "rb: a change whose verification fails"
wait_until 30 in_state rb failed || fail "rb: not failed after a failed verification: $(cat "$T/resp")"
FPB=$(managed_field rb fingerprint)
[[ $FPB != "$FPA" ]] && pass || fail "rb: no new certificate was issued"
assert_eq false "$(managed_field rb deployed)" "rb: the new certificate is not marked deployed"
[[ $(managed_field rb last_error) == *verification* ]] && pass ||
  fail "rb: last_error does not name the verification: $(managed_field rb last_error)"
serves rb.example.test "$FPA" && pass || fail "rb: nginx does not serve the previous certificate: $(served_fp rb.example.test)"
assert_eq "$FPA" "$(file_fp "$D/rb.crt")" "rb: the previous full chain is restored"
assert_eq "$KEYA" "$(cat "$D/rb.key")" "rb: the previous key is restored"
assert_eq "rb.crt rb.key" "$(ls -A "$D" | grep rb | sort | tr '\n' ' ' | sed 's/ $//')" "rb: no temporary file left"
timeline_json rb
last_failed=$(jq -c '[.[] | select(.kind == "deploy_failed")] | last' "$T/timeline.json")
assert_eq "write reload verify restore reload-after-restore" \
  "$(jq -r '[.detail.outcome.steps[].name] | join(" ")' <<<"$last_failed")" "rb: the failed deployment's steps"
assert_eq true "$(jq -r '.detail.outcome.rolled_back' <<<"$last_failed")" "rb: the outcome says rolled back"
assert_eq "$FPB" "$(jq -r '.detail.fingerprint' <<<"$last_failed")" "rb: the failed deployment was of the new certificate"
[[ $(jq -r '.detail.outcome.steps[] | select(.name == "verify") | .detail' <<<"$last_failed") == *"served SHA256:$(served_fp other.example.test)"* ]] &&
  pass || fail "rb: the verification detail does not say what was served"
kinds=$(jq -r '[.[].kind] | join(" ")' "$T/timeline.json")
[[ $kinds == *"renewed deploy_failed rolled_back failed" ]] && pass || fail "rb: timeline: $kinds"
alerts_for rb >"$T/alerts"
assert_eq 1 "$(jq -s 'map(select(.kind == "deploy_failed" and .severity == "critical")) | length' "$T/alerts")" "rb: one critical alert"
[[ $(jq -rs '.[0].message' "$T/alerts") == *verification* ]] && pass || fail "rb: alert message: $(cat "$T/alerts")"

# (b) The reload fails (nginx cannot read the configuration it is told to reload): the new
# certificate's files are taken back, nginx goes on serving the previous one.
broken=$(jq -c --arg c "$T/nginx/missing.conf" '.[6] = $c' <<<"$NGINX_RELOAD")
patch=$(jq -nc --argjson t "$(target nginx "$D/rb" rb.example.test "$broken")" '{targets: [$t]}')
assert_eq 200 "$(api PATCH /api/v1/managed/rb "$A" "$patch")" "rb: a change whose reload fails"
wait_until 30 bash -c "[[ \$(curl -s --cacert '$T/root.pem' -H 'Authorization: Bearer $A' '$BASE/api/v1/alerts?limit=500' | jq '[.items[] | select(.managed_name == \"rb\")] | length') == 2 ]]" ||
  fail "rb: no second alert after the failed reload"
assert_eq failed "$(managed_field rb state)" "rb: failed after the failed reload"
[[ $(managed_field rb last_error) == *reload* ]] && pass || fail "rb: last_error: $(managed_field rb last_error)"
serves rb.example.test "$FPA" && pass || fail "rb: nginx does not serve the previous certificate after the failed reload"
assert_eq "$FPA" "$(file_fp "$D/rb.crt")" "rb: the previous full chain is restored after the failed reload"
timeline_json rb
last_failed=$(jq -c '[.[] | select(.kind == "deploy_failed")] | last' "$T/timeline.json")
assert_eq "write reload restore reload-after-restore" \
  "$(jq -r '[.detail.outcome.steps[] | .name] | join(" ")' <<<"$last_failed")" "rb: the failed reload's steps"
assert_eq false "$(jq -r '.detail.outcome.steps[1].ok' <<<"$last_failed")" "rb: the reload step failed"
assert_eq 2 "$(jq '[.[] | select(.kind == "rolled_back")] | length' "$T/timeline.json")" "rb: two rollbacks in the timeline"

# (c) Repaired: the pending certificate is deployed and served.
patch=$(jq -nc --argjson t "$(target nginx "$D/rb" rb.example.test)" '{targets: [$t]}')
assert_eq 200 "$(api PATCH /api/v1/managed/rb "$A" "$patch")" "rb: repaired"
wait_until 30 deployed rb || fail "rb: not active after the repair: $(cat "$T/resp")"
assert_eq "$FPB" "$(managed_field rb fingerprint)" "rb: the certificate issued before is the one deployed"
serves rb.example.test "$FPB" && pass || fail "rb: nginx does not serve the repaired deployment"
assert_eq "" "$(managed_field rb last_error)" "rb: last_error cleared"

# --- 1, continued. The renewal, on its own, before the old certificate expires -------------
echo "waiting for www's renewal (due in $(secs_until "$RA1") s)"
wait_renewal_served www.example.test "$FP1" "$NA1"
FP2=$RENEWED_FP
SERIAL2=$(served_serial www.example.test)
[[ -n $SERIAL2 && $SERIAL2 != "$SERIAL1" ]] && pass || fail "www: the served serial did not change ($SERIAL1 -> $SERIAL2)"
wait_until 10 deployed www || fail "www: not active after the renewal"
assert_eq "$FP2" "$(managed_field www fingerprint)" "www: the served certificate is the managed one"
assert_eq "$FP2" "$(file_fp "$D/www.crt")" "www: the full chain file holds the renewal"
key_matches "$D/www.key" "$D/www.crt" && pass || fail "www: the renewed key does not match"
openssl x509 -in "$D/www.crt" -noout -checkend 60 >/dev/null && pass || fail "www: the renewal expires within a minute"
timeline_json www
assert_eq "due" "$(jq -r '[.[] | select(.kind == "renewed")][0].detail.reason' "$T/timeline.json")" "www: renewed because it was due"
assert_eq "$FP1" "$(jq -r '[.[] | select(.kind == "renewed")][0].detail.superseded' "$T/timeline.json")" "www: the renewal names what it superseded"
assert_eq 200 "$(api GET "/api/v1/certificates/$FP1" "$A")" "the old certificate"
assert_eq superseded "$(jq -r .status "$T/resp")" "www: the old certificate is superseded"
assert_eq 0 "$(alerts_for www | wc -l)" "www: no alert"

stop_server || fail "the server did not stop cleanly"
finish
