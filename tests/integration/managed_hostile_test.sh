#!/usr/bin/env bash
# Managed certificates against a hostile requester on a real `certward serve`: a requester of
# one team may not have certward run a command of its choosing (a reload argv), read a file of
# its choosing (the server's master key as a PKCS#12 password file, an SSH identity), or dial
# an address outside [lifecycle] verify_networks (a cloud metadata service); each is refused
# with problem+json and changes nothing, and no command runs, even after the reconciler has
# had time to. A listed reload command works. Another team's managed certificates and alerts
# stay invisible by id and by name, and one declared in the configuration cannot be changed
# through the API.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/managed_lib.sh"

D=$T/deploy
S=$T/secrets
mkdir -p "$D" "$S/payments" "$S/web"
cat >"$T/certward.toml" <<EOF2
[lifecycle]
allowed_paths = ["$D"]
allowed_ssh_hosts = ["127.0.0.1"]
team_reload_commands = ["/bin/true"]
team_secrets_dir = "$S"
poll_interval_ms = 100
sweep_interval = "5s"

[[managed]]
name = "declared"
sans = ["declared.example.test"]
validity = "1d"
EOF2
export CERTWARD_CONFIG=$T/certward.toml
start_server
A=$ADMIN_TOKEN

must 201 POST /api/v1/teams '{"name":"payments","allowed_profiles":["tls-server"],"allowed_domains":["payments.example.test"]}'
must 201 POST /api/v1/teams '{"name":"web","allowed_profiles":["tls-server"],"allowed_domains":["web.example.test"]}'
must 201 POST /api/v1/principals '{"name":"alice","role":"requester","team":"payments"}'
must 201 POST /api/v1/tokens '{"principal":"alice","ttl":"1d"}'
R=$(jq -r .token "$T/resp")
must 201 POST /api/v1/principals '{"name":"wendy","role":"requester","team":"web"}'
must 201 POST /api/v1/tokens '{"principal":"wendy","ttl":"1d"}'
W=$(jq -r .token "$T/resp")

with_target() {  # name target-json -> a managed certificate of team payments
  jq -nc --arg n "$1" --argjson t "$2" '{name: $n, sans: [($n + ".payments.example.test")], targets: [$t]}'
}
files_target() {  # name [extra members as JSON]
  jq -nc --arg d "$D" --arg n "$1" --argjson x "${2:-{\}}" \
    '{name: "files", kind: "files", files: {key: ($d + "/" + $n + ".key"), fullchain: ($d + "/" + $n + ".crt")}} + $x'
}

# --- Commands of its own ------------------------------------------------------------------
for argv in '["/bin/sh", "-c", "touch '"$T"'/pwned"]' '["/usr/bin/env", "touch", "'"$T"'/pwned"]' \
  '["/bin/true", "'"$T"'/pwned"]'; do
  refused "$R" 422 policy_rejected "reload $argv" \
    "$(with_target rce "$(files_target rce "{\"reload\": {\"argv\": $argv}}")")"
done
ssh_rce=$(jq -nc --arg s "$S/payments" '{name: "edge", kind: "ssh",
  ssh: {host: "127.0.0.1", user: "deploy", identity_file: ($s + "/id"), known_hosts: ($s + "/known_hosts")},
  files: {fullchain: "/tmp/edge.crt"}, reload: {argv: ["/bin/sh", "-c", "id"]}}')
refused "$R" 422 policy_rejected "an SSH reload of its own" "$(with_target edge "$ssh_rce")"

# --- Files of its choosing -----------------------------------------------------------------
master=$CERTWARD_DATA_DIR/master.key
[[ -f $master ]] || fail "no master key at $master"
p12() { files_target p12 "{\"files\": {\"pkcs12\": \"$D/p12.p12\", \"pkcs12_password_file\": \"$1\"}}"; }
refused "$R" 422 policy_rejected "the master key as a password file" "$(with_target p12 "$(p12 "$master")")"
echo pw >"$S/web/pass" && chmod 600 "$S/web/pass"
refused "$R" 422 policy_rejected "another team's password file" "$(with_target p12 "$(p12 "$S/web/pass")")"
ln -s "$master" "$S/payments/master"
refused "$R" 422 policy_rejected "a link to the master key in its own directory" \
  "$(with_target p12 "$(p12 "$S/payments/master")")"
for id in "$master" "$S/web/id"; do
  t=$(jq -nc --arg i "$id" --arg k "$S/payments/known_hosts" '{name: "edge", kind: "ssh",
    ssh: {host: "127.0.0.1", user: "deploy", identity_file: $i, known_hosts: $k}, files: {fullchain: "/tmp/edge.crt"}}')
  refused "$R" 422 policy_rejected "SSH identity $id" "$(with_target edge "$t")"
done
if grep -rqF "$(head -c 40 "$master")" "$T/resp" "$T/serve.out" "$T/serve.err"; then
  fail "the master key was echoed"
else
  pass
fi

# --- Addresses outside verify_networks -----------------------------------------------------
for ep in 169.254.169.254:80 '[fe80::1]:443' 8.8.8.8:443; do
  refused "$A" 422 policy_rejected "verify endpoint $ep" \
    "$(with_target ssrf "$(files_target ssrf "{\"verify\": {\"endpoint\": \"$ep\"}}")")"
done

# --- What is allowed works -----------------------------------------------------------------
echo pw >"$S/payments/pass" && chmod 600 "$S/payments/pass"
ok_target=$(files_target ok "{\"reload\": {\"argv\": [\"/bin/true\"]}}")
assert_eq 201 "$(api POST /api/v1/managed "$R" "$(with_target ok "$ok_target")")" "a listed reload command"
OK_ID=$(jq -r .id "$T/resp")
wait_until 20 test -s "$D/ok.crt" || fail "the allowed target was not deployed"
assert_eq 422 "$(api PATCH "/api/v1/managed/$OK_ID" "$R" \
  "$(jq -nc --argjson t "$(files_target ok '{"reload": {"argv": ["/bin/sh", "-c", "id"]}}')" '{targets: [$t]}')")" \
  "PATCH to a reload of its own"
sleep 1
[[ ! -e $T/pwned ]] && pass || fail "a requester's command ran"

# The managed key is in the deployed file only: not in the API's answers, the timeline, the
# logs, nor in clear in the database (sealed there).
key_line=$(sed -n 2p "$D/ok.key")
[[ ${#key_line} -gt 40 ]] || fail "no key in $D/ok.key"
api GET "/api/v1/managed/$OK_ID" "$R" >/dev/null && cp "$T/resp" "$T/managed.json"
api GET "/api/v1/managed/$OK_ID/timeline" "$R" >/dev/null && cp "$T/resp" "$T/timeline.json"
sqlite3 -cmd ".timeout 10000" "$CERTWARD_DATA_DIR/certward.db" .dump >"$T/db.dump"
for where in "$T/managed.json" "$T/timeline.json" "$T/serve.out" "$T/serve.err" "$T/db.dump"; do
  grep -qF -- "$key_line" "$where" && fail "the managed key is in $where" || pass
done
grep -q "PRIVATE KEY" "$T/db.dump" && fail "a PEM private key is in the database" || pass

# --- Another team's ------------------------------------------------------------------------
for who in "$OK_ID" ok; do
  assert_eq 404 "$(api GET "/api/v1/managed/$who" "$W")" "web reads payments' $who"
  assert_eq 404 "$(api GET "/api/v1/managed/$who/timeline" "$W")" "web reads payments' timeline $who"
  assert_eq 404 "$(api PATCH "/api/v1/managed/$who" "$W" '{"team":"web"}')" "web changes payments' $who"
  assert_eq 404 "$(api POST "/api/v1/managed/$who/renew" "$W")" "web renews payments' $who"
  assert_eq 404 "$(api DELETE "/api/v1/managed/$who" "$W")" "web deletes payments' $who"
done
assert_eq 403 "$(api GET "/api/v1/managed?team=payments" "$W")" "web lists payments'"
assert_eq 200 "$(api GET /api/v1/managed "$W")" "web lists its own"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "web sees none of payments'"
assert_eq 403 "$(api PATCH "/api/v1/managed/$OK_ID" "$R" '{"team":"web"}')" "payments moves its own to web"

# An alert of payments' (a verification that fails) is not web's to see.
bad_verify=$(files_target alerting "{\"verify\": {\"endpoint\": \"127.0.0.1:$(free_port)\", \"timeout\": \"1s\"}}")
assert_eq 201 "$(api POST /api/v1/managed "$R" "$(with_target alerting "$bad_verify")")" "a target that fails"
alerts_raised() { [[ $(db_scalar "SELECT COUNT(*) FROM managed_alerts WHERE team = 'payments'") -gt 0 ]]; }
wait_until 30 alerts_raised || fail "no alert was raised"
assert_eq 200 "$(api GET /api/v1/alerts "$R")" "payments' alerts"
[[ $(jq '.items | length' "$T/resp") -gt 0 ]] && pass || fail "payments sees no alert"
assert_eq 200 "$(api GET /api/v1/alerts "$W")" "web's alerts"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "web sees payments' alerts"

# --- Declared in the configuration ---------------------------------------------------------
assert_eq 409 "$(api PATCH /api/v1/managed/declared "$A" '{"tags":["x"]}')" "a declared one is not changed through the API"
assert_eq 409 "$(api DELETE /api/v1/managed/declared "$A")" "a declared one is not deleted through the API"
assert_eq 202 "$(api POST /api/v1/managed/declared/renew "$A")" "a declared one may be renewed"

stop_server || fail "the server did not stop cleanly"
finish
