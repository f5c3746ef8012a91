#!/usr/bin/env bash
# Managed certificates end to end on a real `certward serve`: one declared in the configuration
# ([[managed]]) and one created through REST and one through the CLI (client mode) are issued
# and written to their file targets within seconds (the files are what openssl reads: the
# served fingerprint, a key that matches it); the timeline shows it; renew now with
# rotate_key gives a new certificate and key and supersedes the old one; bad input (names
# outside a requester's team, an unknown profile or authority, a target outside
# [lifecycle] allowed_paths, a file another managed certificate writes, an unknown member, a
# bad name) is refused with problem+json (and a one-line CLI error) and creates nothing; a
# declared one cannot be deleted through the API.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/managed_lib.sh"

D=$T/deploy
mkdir -p "$D"
cat >"$T/certward.toml" <<EOF
[lifecycle]
allowed_paths = ["$D"]
poll_interval_ms = 100
sweep_interval = "5s"

[[managed]]
name = "declared"
sans = ["declared.example.test"]
validity = "1d"
tags = ["from-config"]
[[managed.targets]]
name = "files"
kind = "files"
files = { key = "$D/declared.key", fullchain = "$D/declared.crt" }
EOF
export CERTWARD_CONFIG=$T/certward.toml
start_server
A=$ADMIN_TOKEN

# The SHA-256 fingerprint of the first certificate of a PEM file, as the API writes it.
file_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
# Whether the key file holds the key of the certificate file.
key_matches() {
  [[ "$(openssl pkey -in "$1" -pubout 2>/dev/null)" == "$(openssl x509 -in "$2" -noout -pubkey)" ]]
}
managed_field() { api GET "/api/v1/managed/$1" "$A" >/dev/null && jq -r ".$2" "$T/resp"; }
deployed() { [[ "$(managed_field "$1" deployed)" == true && "$(managed_field "$1" state)" == active ]]; }
target() {  # name -> a files target under $D
  jq -nc --arg d "$D" --arg n "$1" \
    '{name: "files", kind: "files", files: {key: ($d + "/" + $n + ".key"), fullchain: ($d + "/" + $n + ".crt")}}'
}

# --- Declared in the configuration -----------------------------------------------------------
wait_until 20 test -s "$D/declared.crt" || fail "the declared certificate was not deployed"
wait_until 10 deployed declared || fail "the declared certificate is not active"
assert_eq "$(managed_field declared fingerprint)" "$(file_fp "$D/declared.crt")" "declared: deployed certificate"
key_matches "$D/declared.key" "$D/declared.crt" && pass || fail "declared: key does not match"
assert_eq true "$(managed_field declared declared)" "declared: marked declared"
assert_eq 409 "$(api DELETE /api/v1/managed/declared "$A")" "a declared one is not deleted through the API"
assert_eq conflict "$(jq -r .code "$T/resp")" "declared delete code"

# --- Through REST ----------------------------------------------------------------------------
body=$(jq -nc --argjson t "$(target web)" '{name: "web", sans: ["www.example.test", "example.test"], validity: "1d", targets: [$t]}')
assert_eq 201 "$(api POST /api/v1/managed "$A" "$body")" "create through REST"
ID=$(jq -r .id "$T/resp")
wait_until 20 deployed "$ID" || fail "REST: not deployed: $(cat "$T/resp")"
FP1=$(managed_field "$ID" fingerprint)
assert_eq "$FP1" "$(file_fp "$D/web.crt")" "REST: the file holds the managed certificate"
key_matches "$D/web.key" "$D/web.crt" && pass || fail "REST: key does not match"
openssl x509 -in "$D/web.crt" -noout -ext subjectAltName | grep -q 'DNS:example.test' && pass ||
  fail "REST: names missing from the certificate"
assert_eq 600 "$(stat -c %a "$D/web.key")" "REST: the key file is private"
assert_eq 200 "$(api GET "/api/v1/managed/$ID/timeline" "$A")" "timeline"
assert_eq "created issued deployed" "$(jq -r '[.items[].kind] | join(" ")' "$T/resp")" "timeline kinds"
assert_eq 200 "$(api GET "/api/v1/managed?state=active&limit=1" "$A")" "list"
assert_eq 1 "$(jq '.items | length' "$T/resp")" "list page size"
[[ "$(jq -r .next_cursor "$T/resp")" != null ]] && pass || fail "list: no next cursor"
assert_eq 200 "$(api GET "/api/v1/managed?fingerprint=${FP1^^}" "$A")" "by its certificate's fingerprint"
assert_eq "$ID" "$(jq -r '[.items[].id] | join(" ")' "$T/resp")" "the one managed certificate of that certificate"
assert_eq 400 "$(api GET "/api/v1/managed?fingerprint=abc" "$A")" "a fingerprint that is not one"

# Renew now, with a new key: a new certificate, deployed, the old one superseded.
PUB1=$(openssl pkey -in "$D/web.key" -pubout)
assert_eq 202 "$(api POST "/api/v1/managed/$ID/renew" "$A" '{"rotate_key": true}')" "renew now"
wait_until 20 bash -c "[[ \$(openssl x509 -in '$D/web.crt' -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f) != $FP1 ]]" ||
  fail "renew: the file was not replaced"
wait_until 10 deployed "$ID" || fail "renew: not active again"
FP2=$(managed_field "$ID" fingerprint)
[[ $FP2 != "$FP1" ]] && pass || fail "renew: same fingerprint"
assert_eq "$FP2" "$(file_fp "$D/web.crt")" "renew: the file holds the new certificate"
[[ "$(openssl pkey -in "$D/web.key" -pubout)" != "$PUB1" ]] && pass || fail "renew: the key was not rotated"
key_matches "$D/web.key" "$D/web.crt" && pass || fail "renew: key does not match"
assert_eq 200 "$(api GET "/api/v1/certificates/$FP1" "$A")" "old certificate"
assert_eq superseded "$(jq -r .status "$T/resp")" "the old certificate is superseded"
api GET "/api/v1/managed/$ID/timeline" "$A" >/dev/null
jq -e '[.items[].kind] | index("renewed")' "$T/resp" >/dev/null && pass || fail "timeline: no renewal"

# --- Through the CLI (client mode), and read back locally ------------------------------------
remote() { env CERTWARD_TOKEN="$A" "$CERTWARD_BIN" --server "$BASE" --ca-file "$T/root.pem" "$@"; }
remote managed create cli --san cli.example.test --validity 1d --target "$(target cli)" >"$T/out" ||
  fail "CLI create: $(cat "$T/out")"
wait_until 20 deployed cli || fail "CLI: not deployed"
assert_eq "$(managed_field cli fingerprint)" "$(file_fp "$D/cli.crt")" "CLI: the file holds the certificate"
remote --json managed show cli >"$T/out"
jq -e '.timeline | map(.kind) | index("deployed")' "$T/out" >/dev/null && pass || fail "CLI show: no timeline"
cw managed list >"$T/out"
grep -q '^cli ' "$T/out" && grep -q '^web ' "$T/out" && pass || fail "local list: $(cat "$T/out")"

# --- Bad input: refused, nothing created -----------------------------------------------------
must 201 POST /api/v1/teams '{"name":"payments","allowed_profiles":["tls-server"],"allowed_domains":["payments.example.test"]}'
must 201 POST /api/v1/principals '{"name":"alice","role":"requester","team":"payments"}'
must 201 POST /api/v1/tokens '{"principal":"alice","ttl":"1d"}'
R=$(jq -r .token "$T/resp")
refused "$R" 403 unauthorized "names outside the team's domains" \
  '{"name":"bank","sans":["www.bank.example"]}'
refused "$R" 403 unauthorized "another team's" \
  '{"name":"bank","sans":["a.payments.example.test"],"team":"web"}'
refused "$A" 404 not_found "an unknown profile" '{"name":"p","sans":["p.example.test"],"profile":"nope"}'
refused "$A" 404 not_found "an unknown authority" '{"name":"p","sans":["p.example.test"],"authority":"nope"}'
outside=$(jq -nc '{name: "files", kind: "files", files: {key: "/etc/certward-it.key", fullchain: "/etc/certward-it.crt"}}')
refused "$A" 422 policy_rejected "a target outside allowed_paths" \
  "$(jq -nc --argjson t "$outside" '{name: "o", sans: ["o.example.test"], targets: [$t]}')"
refused "$A" 400 malformed "an unknown member" '{"name":"u","sans":["u.example.test"],"colour":"red"}'
refused "$A" 400 invalid_argument "a bad name" '{"name":"Bad Name","sans":["u.example.test"]}'
refused "$A" 400 invalid_argument "no names" '{"name":"nonames"}'
refused "$A" 409 conflict "a name taken" '{"name":"web","sans":["www.example.test"]}'
refused "$R" 409 conflict "a file another managed certificate writes" \
  "$(jq -nc --argjson t "$(target web)" '{name: "steal", sans: ["s.payments.example.test"], targets: [$t]}')"
[[ ! -e /etc/certward-it.key ]] && pass || fail "a file was written outside allowed_paths"
n0=$(managed_count)
assert_fails 6 policy_rejected "CLI: a target outside allowed_paths" \
  remote managed create o --san o.example.test --target "$outside"
assert_fails 6 unauthorized "CLI: names outside the team's domains" env CERTWARD_TOKEN="$R" \
  "$CERTWARD_BIN" --server "$BASE" --ca-file "$T/root.pem" managed create bank --san www.bank.example
assert_fails 4 not_found "local CLI: an unknown profile" cw managed create p --san p.example.test --profile nope
assert_eq "$n0" "$(managed_count)" "CLI refusals created a managed certificate"
# The requester sees none of the others' managed certificates.
assert_eq 200 "$(api GET /api/v1/managed "$R")" "requester list"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "requester sees only its team's"
assert_eq 404 "$(api GET "/api/v1/managed/$ID" "$R")" "requester: another team's is not found"
assert_eq 200 "$(api GET /api/v1/alerts "$A")" "alerts list"

# --- Delete: no longer reconciled; its files stay --------------------------------------------
assert_eq 200 "$(api DELETE /api/v1/managed/cli "$A")" "delete"
assert_eq 404 "$(api GET /api/v1/managed/cli "$A")" "deleted is gone by name"
[[ -s $D/cli.crt ]] && pass || fail "delete removed the deployed files"

stop_server || fail "the server did not stop cleanly"
finish
