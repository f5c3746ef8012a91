#!/usr/bin/env bash
# Managed certificates deployed by `certward agent` to its own host: a real `certward serve`, a
# real agent (role agent, its own token) and a real nginx on 127.0.0.1, every claim checked by
# a real handshake (`openssl s_client`).
#   1. A requester of team web creates a managed certificate whose target is its team's agent:
#      the server issues it and waits (not deployed); the agent fetches it, writes the files
#      under its --deploy-dir, reloads nginx with a command it allows and verifies; nginx
#      serves it and the managed certificate is deployed. A renewal goes the same way.
#   2. Hostile: another agent fetching or reporting the deployment (404), a replayed report
#      (409), a target writing outside the agent's --deploy-dir and one whose reload the agent
#      does not allow (refused by the agent, reported failed with an alert, the previous files
#      and what nginx serves untouched, the command never run), a requester naming another
#      team's agent (refused, nothing changed), and an agent token changing managed
#      certificates (403).
source "$(dirname "$0")/managed_peers_lib.sh"
source "$(dirname "$0")/managed_lib.sh"

D=$T/agenthost/tls
OUT=$T/agenthost/elsewhere
mkdir -p "$D" "$OUT"
start_nginx "$T/nginx" www.example.test="$D/www" rb.example.test="$D/rb"
# The server's own allowed_paths name nothing: agent targets are not held to them.
start_managed_server

remote() { "$CERTWARD_BIN" --server "$BASE" --ca-file "$T/root.pem" "$@"; }
admin() { CERTWARD_TOKEN=$A remote "$@"; }
admin team create web --profile tls-server --domain example.test >/dev/null
admin team create db --profile tls-server --domain example.test >/dev/null
admin principal create web1-agent --role agent --team web >/dev/null
admin principal create db1-agent --role agent --team db >/dev/null
admin principal create dev --role requester --team web >/dev/null
admin token create --principal web1-agent --ttl 1d -o "$T/web1.token" >/dev/null
admin token create --principal db1-agent --ttl 1d -o "$T/db1.token" >/dev/null
DEV=$(admin token create --principal dev --ttl 1d)
AG=$(cat "$T/web1.token") AG2=$(cat "$T/db1.token")
RELOAD_CMD=$(jq -r 'join(" ")' <<<"$NGINX_RELOAD")

# One round of the agent on this host: deployments only, into $D, reloading nginx only.
agent() {
  remote --token-file "$T/web1.token" agent --deploy-only --deploy-dir "$D" \
    --allow-reload "$RELOAD_CMD" --once >"$T/agent.out" 2>"$T/agent.err"
}
# target NAME AGENT FILES-PREFIX SNI [RELOAD-ARGV-JSON] [FULLCHAIN]
target() {
  jq -nc --arg n "$1" --arg a "$2" --arg f "$3" --arg sni "$4" --argjson reload "${5:-$NGINX_RELOAD}" \
    --arg fc "${6:-$3.crt}" --arg ep "127.0.0.1:$NGINX_PORT" \
    '{name: $n, kind: "agent", agent: $a, files: {key: ($f + ".key"), fullchain: $fc},
      reload: {argv: $reload, timeout: "20s"},
      verify: {endpoint: $ep, server_name: $sni, timeout: "4s"}}'
}
awaiting_id() {
  api GET /api/v1/agent/deployments "$AG" >/dev/null && jq -r '.items[0].id // empty' "$T/resp"
}
has_awaiting() { [[ -n $(awaiting_id) ]]; }

# --- 1. Deployed by the agent, then renewed --------------------------------------------------
body=$(jq -nc --argjson t "$(target host web1-agent "$D/www" www.example.test)" \
  '{name: "www", sans: ["www.example.test"], validity: "1h", targets: [$t]}')
assert_eq 201 "$(api POST /api/v1/managed "$DEV" "$body")" "a requester targets its team's agent"
wait_until 20 has_awaiting || fail "www: nothing awaits the agent: $(cat "$T/resp")"
FP1=$(managed_field www fingerprint)
assert_eq "false issuing" "$(managed_field www deployed) $(managed_field www state)" "www: not deployed before the agent reports"
assert_eq 0 "$(db_scalar "SELECT COUNT(*) FROM agent_deployments WHERE sealed_key LIKE '%PRIVATE KEY%' OR certificate_pem LIKE '%PRIVATE%'")" "the key is not in the clear in the database"
agent && pass || fail "agent: $(cat "$T/agent.out" "$T/agent.err")"
grep -q "^agent deployment [0-9a-f]* (www/host): deployed$" "$T/agent.out" && pass || fail "agent output: $(cat "$T/agent.out")"
wait_until 10 deployed www || fail "www: not deployed after the agent's report: $(cat "$T/resp")"
serves www.example.test "$FP1" && pass || fail "www: nginx does not serve the certificate"
key_matches "$D/www.key" "$D/www.crt" && pass || fail "www: the key does not match"
assert_eq "600" "$(stat -c %a "$D/www.key")" "www: the key file is private"
timeline_json www
assert_eq "created issued awaiting_agent agent_fetched deployed" "$(jq -r '[.[].kind] | join(" ")' "$T/timeline.json")" "www: timeline"
assert_eq "token:$(cut -d_ -f2 "$T/web1.token")" "$(jq -r '[.[] | select(.kind == "deployed")][0].actor' "$T/timeline.json")" "www: deployed, as the agent reported"
assert_eq "write reload verify" "$(jq -r '[.[] | select(.kind == "deployed")][0].detail.outcome.steps | map(.name) | join(" ")' "$T/timeline.json")" "www: the agent's steps"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'managed.agent_report'")" "the report is audited"
# Nothing more awaits the agent: a second round does nothing.
agent && assert_eq "" "$(cat "$T/agent.out")" "a second round finds nothing"

assert_eq 202 "$(api POST /api/v1/managed/www/renew "$DEV")" "renew www"
wait_until 20 bash -c "[[ \$(curl -s --cacert '$T/root.pem' -H 'Authorization: Bearer $A' '$BASE/api/v1/managed/www' | jq -r .fingerprint) != '$FP1' ]]" || fail "www: not renewed"
FP2=$(managed_field www fingerprint)
wait_until 20 has_awaiting || fail "www: the renewal does not await the agent"
RID=$(awaiting_id)

# --- 2a. Another agent's deployment is not found; a report is recorded once -------------------
assert_eq 404 "$(api GET "/api/v1/agent/deployments/$RID" "$AG2")" "another agent fetches the deployment"
assert_eq not_found "$(jq -r .code "$T/resp")" "another agent: problem code"
assert_eq 404 "$(api POST "/api/v1/agent/deployments/$RID/outcome" "$AG2" '{"deployed": true, "steps": []}')" "another agent reports it"
assert_eq 0 "$(api GET /api/v1/agent/deployments "$AG2" >/dev/null; jq '.items | length' "$T/resp")" "another agent lists nothing"
assert_eq 403 "$(api GET "/api/v1/agent/deployments/$RID" "$A")" "an admin does not receive an agent's key"
agent && pass || fail "agent (renewal): $(cat "$T/agent.out" "$T/agent.err")"
wait_until 10 deployed www || fail "www: the renewal is not deployed"
serves www.example.test "$FP2" && pass || fail "www: nginx does not serve the renewal"
[[ $FP2 != "$FP1" ]] && pass || fail "www: the same certificate"
assert_eq 409 "$(api POST "/api/v1/agent/deployments/$RID/outcome" "$AG" '{"deployed": false, "steps": [], "error": {"code": "unavailable", "message": "replayed"}}')" "a replayed report"
assert_eq conflict "$(jq -r .code "$T/resp")" "replayed report: problem code"
assert_eq 409 "$(api GET "/api/v1/agent/deployments/$RID" "$AG")" "a reported deployment is not fetched again"
assert_eq active "$(managed_field www state)" "www: the replay changed nothing"

# --- 2b. What the agent's allow-list refuses --------------------------------------------------
body=$(jq -nc --argjson t "$(target host web1-agent "$D/rb" rb.example.test)" \
  '{name: "rb", sans: ["rb.example.test"], team: "web", validity: "1h", targets: [$t]}')
assert_eq 201 "$(api POST /api/v1/managed "$A" "$body")" "create rb"
wait_until 20 has_awaiting || fail "rb: nothing awaits the agent"
agent || fail "agent (rb): $(cat "$T/agent.out" "$T/agent.err")"
wait_until 10 deployed rb || fail "rb: not deployed"
FPR=$(managed_field rb fingerprint)
serves rb.example.test "$FPR" && pass || fail "rb: nginx does not serve it"
before=$(sha256sum "$D/rb.key" "$D/rb.crt")

# (i) The full chain outside --deploy-dir: refused whole, the key beside it not written either.
patch=$(jq -nc --argjson t "$(target host web1-agent "$D/rb" rb.example.test "$NGINX_RELOAD" "$OUT/rb.crt")" '{validity: "2h", targets: [$t]}')
assert_eq 200 "$(api PATCH /api/v1/managed/rb "$A" "$patch")" "rb: a target outside the agent's directories"
wait_until 20 has_awaiting || fail "rb: the change does not await the agent"
agent && fail "the agent exits 0 after refusing a deployment" || pass
grep -q "(rb/host): failed: .*not under an allowed directory" "$T/agent.out" && pass || fail "agent output: $(cat "$T/agent.out" "$T/agent.err")"
wait_until 10 in_state rb failed || fail "rb: not failed after the refusal"
[[ ! -e $OUT/rb.crt ]] && pass || fail "rb: a file was written outside --deploy-dir"
assert_eq "$before" "$(sha256sum "$D/rb.key" "$D/rb.crt")" "rb: the previous files are untouched"
serves rb.example.test "$FPR" && pass || fail "rb: nginx no longer serves the previous certificate"
alerts_for rb >"$T/alerts"
assert_eq 1 "$(jq -s 'map(select(.kind == "deploy_failed" and .severity == "critical")) | length' "$T/alerts")" "rb: a critical alert"
[[ $(managed_field rb last_error) == *"web1-agent"*"not under an allowed directory"* ]] && pass || fail "rb: last_error: $(managed_field rb last_error)"
timeline_json rb
assert_eq "check" "$(jq -r '[.[] | select(.kind == "deploy_failed")] | last | .detail.outcome.steps | map(.name) | join(" ")' "$T/timeline.json")" "rb: refused before any step"

# (ii) A reload command the agent does not allow: never run.
evil=$(jq -nc --arg f "$T/pwned" '["/bin/sh", "-c", ("touch " + $f)]')
patch=$(jq -nc --argjson t "$(target host web1-agent "$D/rb" rb.example.test "$evil")" '{targets: [$t]}')
assert_eq 200 "$(api PATCH /api/v1/managed/rb "$A" "$patch")" "rb: a reload the agent does not allow"
wait_until 20 has_awaiting || fail "rb: the reload change does not await the agent"
agent && fail "the agent exits 0 after refusing a reload" || pass
grep -q "(rb/host): failed: .*--allow-reload" "$T/agent.out" && pass || fail "agent output: $(cat "$T/agent.out" "$T/agent.err")"
[[ ! -e $T/pwned ]] && pass || fail "the refused reload command ran"
assert_eq "$before" "$(sha256sum "$D/rb.key" "$D/rb.crt")" "rb: the files are untouched after the refused reload"
wait_until 10 bash -c "[[ \$(curl -s --cacert '$T/root.pem' -H 'Authorization: Bearer $A' '$BASE/api/v1/alerts?limit=500' | jq '[.items[] | select(.managed_name == \"rb\")] | length') == 2 ]]" ||
  fail "rb: no second alert"

# --- 2c. A requester naming another team's agent; an agent changing managed certificates ----
body=$(jq -nc --argjson t "$(target host db1-agent "$D/x" x.example.test)" '{name: "x", sans: ["x.example.test"], targets: [$t]}')
refused "$DEV" 422 policy_rejected "a requester targets another team's agent" "$body"
body=$(jq -nc --argjson t "$(target host nobody "$D/x" x.example.test)" '{name: "x", sans: ["x.example.test"], targets: [$t]}')
refused "$A" 422 policy_rejected "an admin targets no principal" "$body"
body=$(jq -nc --argjson t "$(target host web1-agent "$D/x" x.example.test)" '{name: "x", sans: ["x.example.test"], targets: [$t]}')
refused "$AG" 403 unauthorized "an agent creates a managed certificate" "$body"
s0=$(state)
assert_eq 403 "$(api PATCH /api/v1/managed/www "$AG" '{"validity": "2h"}')" "an agent changes a managed certificate"
assert_eq 403 "$(api POST /api/v1/managed/www/renew "$AG")" "an agent renews a managed certificate"
assert_eq 403 "$(api DELETE /api/v1/managed/www "$AG")" "an agent deletes a managed certificate"
assert_eq 403 "$(api GET /api/v1/managed/www "$AG")" "an agent reads managed certificates"
assert_eq "$s0" "$(state)" "the agent's attempts changed nothing"
assert_eq "$FP2" "$(managed_field www fingerprint)" "www is as it was"

stop_server || fail "the server did not stop cleanly"
finish
