#!/usr/bin/env bash
# `certward agent` against a real `certward serve`: it scans its host's files and reports them
# with an agent token; the server records the scan, the certificates and "host:/path"
# sightings. What an agent token may do and what others may not: an agent cannot read the
# inventory or start scans, a requester cannot post agent reports, another agent cannot
# continue the first one's scan, a path outside the declared roots is refused, a part larger
# than the limit is refused, and a revoked agent token stops the agent with one line and a
# non-zero exit. A report of 1,200 files arrives in several parts and is complete.
source "$(dirname "$0")/lib.sh"

start_server
A=$ADMIN_TOKEN
remote() { "$CERTWARD_BIN" --server "$BASE" --ca-file "$T/root.pem" "$@"; }
admin() { CERTWARD_TOKEN=$A remote "$@"; }

admin principal create agent-1 --role agent >/dev/null
admin principal create agent-2 --role agent >/dev/null
admin team create web --profile tls-server --domain web.example.test >/dev/null
admin principal create dev --role requester --team web >/dev/null
admin token create --principal agent-1 --ttl 1d -o "$T/agent1.token" >/dev/null
admin token create --principal agent-2 --ttl 1d -o "$T/agent2.token" >/dev/null
REQ=$(admin token create --principal dev --ttl 1d)
AG1=$(cat "$T/agent1.token") AG2=$(cat "$T/agent2.token")

# --- The host's files -----------------------------------------------------------------------
R=$T/host/etc/ssl
mkdir -p "$R/private"
o() { openssl "$@" 2>>"$T/openssl.err" >/dev/null; }
o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ca.key"
o req -x509 -new -key "$T/ca.key" -subj /CN=Agent-Root -days 365 \
  -addext keyUsage=critical,keyCertSign -out "$T/ca.pem"
o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$R/private/web.key"
chmod 600 "$R/private/web.key"
o req -new -key "$R/private/web.key" -subj /CN=web.example.test -out "$T/web.csr"
o x509 -req -in "$T/web.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -days 365 -out "$R/web.crt"
cp "$R/private/web.key" "$R/web.key"
cat "$R/web.crt" "$T/ca.pem" >"$R/chain.pem"
o x509 -in "$T/ca.pem" -outform DER -out "$R/ca.der"
o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$R/private/loose.key"
chmod 644 "$R/private/loose.key"
printf 'not a certificate\n' >"$R/README"
fp_of() { openssl x509 -in "$1" -inform "${2:-PEM}" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
WEB=$(fp_of "$R/web.crt") CA=$(fp_of "$R/ca.der" DER)
host=$(hostname)

# --- One run of the agent -------------------------------------------------------------------
rc=0
remote --token-file "$T/agent1.token" --json agent --path "$R" --once >"$T/agent.json" 2>"$T/agent.err" || rc=$?
assert_eq "0/" "$rc/$(head -c 300 "$T/agent.err")" "agent --once exits 0 silently"
id=$(jq -r .id "$T/agent.json")
assert_eq "agent done token:$(cut -d_ -f2 "$T/agent1.token") $host" "$(jq -r '"\(.kind) \(.status) \(.requested_by) \(.host)"' "$T/agent.json")" "the agent's scan as the server returns it"
remote --token-file "$T/agent1.token" agent --path "$R" --once >"$T/agent.txt" 2>&1 &&
  grep -q "^agent scan [0-9a-f]* done: 7 files, 4 certificates (0 new), 0 gone$" "$T/agent.txt" && pass ||
  fail "agent text output: $(cat "$T/agent.txt")"

# The scan through the API, with an admin token.
assert_eq 200 "$(api GET "/api/v1/discovery/scans/$id" "$A")" "admin reads the agent's scan"
cp "$T/resp" "$T/scan.json"
files=$(cd "$R" && find . -type f | sed 's|^\./||' | sort)
assert_eq "$files" "$(jq -r --arg r "$R/" '.report.results[].path | ltrimstr($r)' "$T/scan.json" | sort)" "every file reported once"
expected="README||
ca.der|der|
chain.pem|pem|
private/loose.key|private_key|key_readable_by_others
private/web.key|private_key|
web.crt|pem|
web.key|private_key|"
assert_eq "$(sort <<<"$expected")" "$(jq -r --arg r "$R/" '.report.results[] | [(.path | ltrimstr($r)), .format, ([.findings[].code] | sort | join(","))] | join("|")' "$T/scan.json" | sort)" "formats and findings as the agent read them"
jq -e --arg h "$host" '(.report.results | length) as $n | [.report.results[] | select(.host == $h and .location == ($h + ":" + .path))] | length == $n' "$T/scan.json" >/dev/null &&
  pass || fail "results are at host:/path"
assert_eq "$(printf '%s\n' "$WEB" "$CA" | sort | paste -sd,)" "$(jq -r '.report.new_certificates | sort | join(",")' "$T/scan.json")" "new certificates"
assert_eq "7 4 0 0" "$(jq -r '.report | "\(.places) \(.certificates) \(.gone | length) \(.errors)"' "$T/scan.json")" "places, certificates, gone, errors"
assert_eq "true" "$(jq -r --arg p "$R/web.crt" '.report.results[] | select(.path == $p) | .key_present' "$T/scan.json")" "the key beside web.crt is noticed"

# The certificates and their sightings.
assert_eq 200 "$(api GET "/api/v1/certificates/$WEB" "$A")" "the certificate is in the inventory"
assert_eq "discovered" "$(jq -r .origin "$T/resp")" "origin discovered"
assert_eq 200 "$(api GET "/api/v1/certificates/$WEB/sightings" "$A")" "its sightings"
assert_eq "file $host:$R/chain.pem,file $host:$R/web.crt" "$(jq -r '[.items[] | "\(.kind) \(.location)"] | sort | join(",")' "$T/resp")" "sighted in each file at host:/path"
assert_eq 200 "$(api GET "/api/v1/certificates/$CA/sightings" "$A")" "the root's sightings"
assert_eq "$host:$R/ca.der,$host:$R/chain.pem" "$(jq -r '[.items[] | .location] | sort | join(",")' "$T/resp")" "the root, in two files"
assert_eq 200 "$(api GET "/api/v1/discovery/sightings?location=$host:$R/" "$A")" "sightings under the root"
assert_eq 4 "$(jq '.items | length' "$T/resp")" "four sightings"

# --- What each token may do -----------------------------------------------------------------
assert_eq 403 "$(api GET /api/v1/certificates "$AG1")" "an agent cannot list the inventory"
assert_eq 403 "$(api GET "/api/v1/certificates/$WEB" "$AG1")" "an agent cannot read a certificate"
assert_eq 403 "$(api GET /api/v1/discovery/sightings "$AG1")" "an agent cannot read sightings"
assert_eq 403 "$(api GET "/api/v1/discovery/scans/$id" "$AG1")" "an agent cannot read scans"
assert_eq 403 "$(api POST /api/v1/discovery/scans "$AG1" "{\"kind\":\"files\",\"paths\":[\"$R\"]}")" "an agent cannot start a scan"
assert_eq 403 "$(api POST /api/v1/certificates "$AG1" '{}')" "an agent cannot issue"
report() {  # host roots-json observations-json [scan] [final]
  jq -cn --arg h "$1" --argjson r "$2" --argjson o "$3" --arg s "${4:-}" --argjson f "${5:-false}" \
    '{host: $h, roots: $r, observations: $o, final: $f} + (if $s == "" then {} else {scan: $s} end)'
}
one="[{\"path\":\"$R/web.crt\",\"format\":\"pem\",\"certificates\":[\"$(openssl x509 -in "$R/web.crt" -outform DER | base64 -w0)\"]}]"
scans_before=$(db_scalar 'SELECT COUNT(*) FROM discovery_scans')
assert_eq 403 "$(api POST /api/v1/discovery/agent-reports "$REQ" "$(report "$host" "[\"$R\"]" "$one")")" "a requester cannot post an agent report"
# A path outside the roots the report declares.
outside="[{\"path\":\"$T/host/etc/passwd\",\"format\":\"\"}]"
assert_eq 400 "$(api POST /api/v1/discovery/agent-reports "$AG1" "$(report "$host" "[\"$R\"]" "$outside")")" "a path outside the declared roots is refused"
assert_eq "invalid_argument" "$(jq -r '.code // .type' "$T/resp" | sed 's|.*/||')" "with its code"
dotdot="[{\"path\":\"$R/../../passwd\",\"format\":\"\"}]"
assert_eq 400 "$(api POST /api/v1/discovery/agent-reports "$AG1" "$(report "$host" "[\"$R\"]" "$dotdot")")" "a path that climbs out with .. is refused"
assert_eq "$scans_before" "$(db_scalar 'SELECT COUNT(*) FROM discovery_scans')" "refused reports start no scan"
# Another agent cannot continue the first one's scan, running or finished.
assert_eq 201 "$(api POST /api/v1/discovery/agent-reports "$AG1" "$(report "$host" "[\"$R\"]" "$one")")" "agent-1 starts a scan in parts"
running=$(jq -r .id "$T/resp")
assert_eq running "$(jq -r .status "$T/resp")" "the scan is running until its final part"
assert_eq 404 "$(api POST /api/v1/discovery/agent-reports "$AG2" "$(report "$host" "[\"$R\"]" "$one" "$running")")" "agent-2 cannot continue agent-1's running scan"
assert_eq 404 "$(api POST /api/v1/discovery/agent-reports "$AG2" "$(report "$host" "[\"$R\"]" "$one" "$id")")" "nor its finished one"
assert_eq 404 "$(api POST /api/v1/discovery/agent-reports "$AG1" "$(report other-host "[\"$R\"]" "$one" "$running")")" "nor agent-1 under another host name"
assert_eq 200 "$(api POST /api/v1/discovery/agent-reports "$AG1" "$(report "$host" "[\"$R\"]" '[]' "$running" true)")" "agent-1 finishes it"
assert_eq "done 1" "$(jq -r '"\(.status) \(.report.places)"' "$T/resp")" "finished with its one place"
assert_eq 409 "$(api POST /api/v1/discovery/agent-reports "$AG1" "$(report "$host" "[\"$R\"]" "$one" "$running")")" "a finished scan takes no more parts"
# A part above the limit (500 observations).
big=$(jq -cn --arg p "$R/README" '[range(501) | {path: $p, format: ""}]')
assert_eq 400 "$(api POST /api/v1/discovery/agent-reports "$AG1" "$(report "$host" "[\"$R\"]" "$big")")" "a part of 501 observations is refused"

# --- Many files arrive in parts -------------------------------------------------------------
M=$T/many
mkdir -p "$M"
for i in $(seq -w 1 1200); do cp "$R/web.crt" "$M/c$i.pem"; done
start=$(date +%s%N)
rc=0
remote --token-file "$T/agent1.token" --json agent --path "$M" --once >"$T/many.json" 2>"$T/many.err" || rc=$?
assert_eq "0/" "$rc/$(head -c 300 "$T/many.err")" "agent over 1,200 files exits 0"
assert_below 30 "$(( ($(date +%s%N) - start) / 1000000000 ))" "1,200 files reported in under 30 s"
many=$(jq -r .id "$T/many.json")
assert_eq 200 "$(api GET "/api/v1/discovery/scans/$many" "$A")" "the scan of many files"
assert_eq "done 1200 1200 1200 0" "$(jq -r '"\(.status) \(.report.places) \(.report.results | length) \(.report.certificates) \(.report.errors)"' "$T/resp")" "all 1,200 files arrived, each once"
assert_eq 1200 "$(jq -r '[.report.results[].path] | unique | length' "$T/resp")" "1,200 distinct paths"
assert_eq 1200 "$(db_scalar "SELECT COUNT(*) FROM sightings WHERE location LIKE '$host:$M/%' AND gone_at IS NULL")" "1,200 sightings"
# The server refuses a part of more than 500 (above), so 1,200 complete places came in at
# least three parts, all added to the one scan.
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM discovery_scans WHERE id = '$many'")" "one scan, however many parts"

# --- A revoked token stops the agent --------------------------------------------------------
admin token revoke "$(cut -d_ -f2 "$T/agent1.token")" >/dev/null
assert_exit 6 "the agent with a revoked token" remote --token-file "$T/agent1.token" agent --path "$R" --once
assert_eq 401 "$(api POST /api/v1/discovery/agent-reports "$AG1" "$(report "$host" "[\"$R\"]" "$one")")" "a revoked token is refused"
# The other agent's token still works.
rc=0
remote --token-file "$T/agent2.token" agent --path "$R" --once >/dev/null 2>"$T/agent2.err" || rc=$?
assert_eq "0/" "$rc/$(head -c 300 "$T/agent2.err")" "agent-2 still reports"

stop_server
finish
