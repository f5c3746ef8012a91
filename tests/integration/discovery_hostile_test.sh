#!/usr/bin/env bash
# Discovery against what others control: file names chosen by whoever writes a scanned
# directory must not drive the terminal that shows the scan; an agent token taken from one host
# must not speak for another; a requester must not learn where other teams keep a certificate
# that it may see.
source "$(dirname "$0")/lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/a.key" \
  -subj "/CN=shared.test" -days 30 -out "$T/a.pem" 2>/dev/null
FP=$(openssl x509 -in "$T/a.pem" -outform DER | sha256sum | cut -d' ' -f1)
DER=$(openssl x509 -in "$T/a.pem" -outform DER | base64 -w0)

# A file name with an OSC title sequence, a screen clear and a line break: the table shows it
# escaped, on one line, and nothing of it reaches the terminal raw.
mkdir -p "$T/scan"
evil=$'\e]0;owned\a\e[2J\nforged-line.pem'
cp "$T/a.pem" "$T/scan/$evil"
CERTWARD_DATA_DIR="$T/local" cw init >/dev/null
CERTWARD_DATA_DIR="$T/local" cw scan files "$T/scan" >"$T/out" 2>"$T/err"
assert_eq 0 "$(grep -c $'\e' "$T/out" || true)" "an escape byte reached the terminal"
assert_eq 0 "$(grep -c '^forged-line' "$T/out" || true)" "a file name added a line to the table"
assert_eq 1 "$(grep -c -F '\x1b]0;owned\x07\x1b[2J\x0aforged-line.pem' "$T/out" || true)" \
  "the name is shown escaped"

# Two hosts, two teams, one certificate on both.
cat >"$T/certward.toml" <<TOML
[[discovery.ownership]]
team = "a"
host = "web-a"

[[discovery.ownership]]
team = "b"
host = "web-b"
TOML
start_server CERTWARD_CONFIG="$T/certward.toml"
A=$ADMIN_TOKEN
for team in a b; do
  must 201 POST /api/v1/teams "{\"name\":\"$team\",\"allowed_profiles\":[\"tls-server\"],\"allowed_domains\":[\"$team.test\"]}"
  must 201 POST /api/v1/principals "{\"name\":\"agent-$team\",\"role\":\"agent\"}"
  must 201 POST /api/v1/tokens "{\"principal\":\"agent-$team\",\"ttl\":\"1d\"}"
  declare "AGENT_${team}=$(jq -r .token "$T/resp")"
done
must 201 POST /api/v1/principals '{"name":"alice","role":"requester","team":"a"}'
must 201 POST /api/v1/tokens '{"principal":"alice","ttl":"1d"}'
R=$(jq -r .token "$T/resp")

report() {  # host [observations]
  jq -nc --arg h "$1" --argjson o "${2:-[]}" '{host: $h, roots: ["/etc/ssl"], final: true, observations: $o}'
}
obs=$(jq -nc --arg c "$DER" '[{path: "/etc/ssl/shared.pem", format: "pem", certificates: [$c]}]')
assert_eq 201 "$(api POST /api/v1/discovery/agent-reports "$AGENT_a" "$(report web-a "$obs")")" "web-a's report"
assert_eq 201 "$(api POST /api/v1/discovery/agent-reports "$AGENT_b" "$(report web-b "$obs")")" "web-b's report"

# web-a's token, stolen, tries to empty web-b's /etc/ssl: refused, nothing changes.
s0=$(state)
assert_eq 403 "$(api POST /api/v1/discovery/agent-reports "$AGENT_a" "$(report web-b)")" "web-a's token as web-b"
assert_eq unauthorized "$(jq -r .code "$T/resp")" "web-a's token as web-b (code)"
assert_eq "$s0" "$(state)" "a refused agent report changed the database"
assert_eq 1 "$(db_scalar "SELECT count(*) FROM sightings WHERE location = 'web-b:/etc/ssl/shared.pem' AND gone_at IS NULL")" \
  "web-b's sighting is still active"

# Team a's requester sees the certificate (team a found it first) and only team a's place.
assert_eq 200 "$(api GET "/api/v1/certificates/$FP/sightings" "$R")" "requester: certificate sightings"
assert_eq '["web-a:/etc/ssl/shared.pem"]' "$(jq -c '[.items[].location]' "$T/resp")" \
  "requester sees only its team's places"
assert_eq 200 "$(api GET "/api/v1/discovery/sightings?fingerprint=$FP" "$R")" "requester: sightings list"
assert_eq '["web-a:/etc/ssl/shared.pem"]' "$(jq -c '[.items[].location]' "$T/resp")" \
  "the list agrees"
assert_eq 200 "$(api GET "/api/v1/certificates/$FP/sightings" "$A")" "admin: certificate sightings"
assert_eq 2 "$(jq '.items | length' "$T/resp")" "the admin sees both places"

# The agent on a host whose directory holds a CA bundle (more certificates than one file was
# allowed to carry) and a file whose name has control characters: both are reported, the odd
# name escaped, and the run succeeds.
mkdir -p "$T/agent"
for i in $(seq 1 80); do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/CN=bundle-$i.test" -days 30 2>/dev/null
done >"$T/agent/bundle.pem"
cp "$T/a.pem" "$T/agent/$evil"
printf '%s\n' "$AGENT_a" >"$T/agent.token"
rc=0
cw --server "$BASE" --ca-file "$T/root.pem" --token-file "$T/agent.token" \
  agent --path "$T/agent" --host web-a --once >"$T/out" 2>"$T/err" || rc=$?
assert_eq 0 "$rc" "the agent's run ($(head -c 300 "$T/err"))"
assert_eq 2 "$(db_scalar "SELECT count(DISTINCT location) FROM sightings WHERE location LIKE 'web-a:$T/agent/%'")" \
  "both files are sighted"
assert_eq 81 "$(db_scalar "SELECT count(*) FROM sightings WHERE location LIKE 'web-a:$T/agent/%'")" \
  "every certificate of the bundle, and the odd file's"
assert_eq 1 "$(db_scalar "SELECT count(*) FROM sightings WHERE location = 'web-a:$T/agent/\\x1b]0;owned\\x07\\x1b[2J\\x0aforged-line.pem'")" \
  "the odd name is recorded escaped"

stop_server
finish
