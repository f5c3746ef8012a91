#!/usr/bin/env bash
# Approvals against a real server: a profile that requires approval holds a request (202 with a
# Location) instead of issuing; its requester cannot approve it (by role, and as an admin by
# principal, whatever token); an approver of another team neither sees nor decides it; an
# approved request is issued exactly once (a second approve is 409, the inventory holds one
# certificate); nothing is issued for a requester disabled or revoked since it asked; a rejected one and an expired one (short TTL) never are; hostile bodies and ids
# answer problem+json and change nothing; the CLI (client and local) lists, shows, approves and
# rejects, and `certward issue` prints the pending id.
source "$(dirname "$0")/lib.sh"

write_config() {  # ttl
  cat >"$T/certward.toml" <<EOT
[approvals]
ttl = "$1"

[profiles.gated]
description = "TLS server certificates that need an approver"
allowed_domains = ["example.test"]
requires_approval = true
EOT
}
write_config 1h
export CERTWARD_CONFIG="$T/certward.toml"
start_server
A=$ADMIN_TOKEN
remote() { env CERTWARD_TOKEN="$1" CERTWARD_SERVER="$BASE" CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" "${@:2}"; }
issued_gated() { db_scalar "SELECT COUNT(*) FROM certificates WHERE profile = 'gated'"; }
held() { db_scalar "SELECT COUNT(*) FROM approval_requests"; }

must 201 POST /api/v1/teams '{"name":"web","allowed_profiles":["gated","tls-server"],"allowed_domains":["web.example.test"]}'
must 201 POST /api/v1/teams '{"name":"other","allowed_profiles":["gated"],"allowed_domains":["other.example.test"]}'
token_for() {  # name role team
  must 201 POST /api/v1/principals "{\"name\":\"$1\",\"role\":\"$2\"${3:+,\"team\":\"$3\"}}"
  must 201 POST /api/v1/tokens "{\"principal\":\"$1\",\"ttl\":\"1d\"}"
  jq -r .token "$T/resp"
}
ALICE=$(token_for alice requester web)
BOB=$(token_for bob approver web)
CAROL=$(token_for carol approver other)
ROOT2=$(token_for root2 admin)
# A second token of the bootstrap admin: the same principal.
must 201 POST /api/v1/tokens '{"principal":"admin","ttl":"1d"}'
A2=$(jq -r .token "$T/resp")
assert_eq 400 "$(api POST /api/v1/principals "$A" '{"name":"dave","role":"approver"}')" "an approver without a team"

csr() {  # name -> PEM CSR for name.web.example.test
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
    -subj "/CN=$1" -addext "subjectAltName=DNS:$1" -out "$T/$1.csr" 2>/dev/null
  cat "$T/$1.csr"
}
request() {  # token name -> status; body in $T/resp
  api POST /api/v1/certificates "$1" "$(jq -n --arg c "$(csr "$2")" '{profile: "gated", csr: $c}')"
}

# --- A request is held, not issued.
assert_eq 202 "$(request "$ALICE" www.web.example.test)" "requesting on a gated profile"
ID=$(jq -r .id "$T/resp")
assert_eq pending "$(jq -r .status "$T/resp")" "the request is pending"
assert_eq web "$(jq -r .team "$T/resp")" "the request is its requester's team's"
curl -s -D "$T/headers" -o /dev/null --cacert "$T/root.pem" -H "Authorization: Bearer $ALICE" \
  -H 'Content-Type: application/json' --data-binary "$(jq -n --arg c "$(csr loc.web.example.test)" '{profile: "gated", csr: $c}')" \
  "$BASE/api/v1/certificates"
LOC_ID=$(sed -n 's/^[Ll]ocation: \/api\/v1\/approvals\/\([0-9a-f]*\).*/\1/p' "$T/headers" | tr -d '\r')
assert_eq 16 "${#LOC_ID}" "202 carries a Location naming the request"
assert_eq 0 "$(issued_gated)" "nothing issued while pending"
# What could never be issued is refused when asked, and held nowhere.
n=$(held)
assert_eq 403 "$(request "$ALICE" www.elsewhere.test)" "a name outside the requester's domains"
assert_eq 400 "$(api POST /api/v1/certificates "$ALICE" '{"profile":"gated","key_type":"ec-p256","common_name":"k.web.example.test"}')" "a server-side key on a gated profile"
assert_eq "application/problem+json" "$(jq -r 'if .code then "application/problem+json" else "no" end' "$T/resp")" "refusal is a problem"
assert_eq "$n" "$(held)" "refused requests are not held"

# --- The requester cannot approve: not by role (a requester), and not as an admin.
assert_eq 403 "$(api POST "/api/v1/approvals/$ID/approve" "$ALICE")" "requester approves its own"
assert_eq 200 "$(api GET "/api/v1/approvals/$ID" "$ALICE")" "requester sees its own request"
assert_eq 202 "$(request "$A" self.web.example.test)" "an admin requests"
SELF=$(jq -r .id "$T/resp")
s0=$(state)
for t in "$A" "$A2"; do
  assert_eq 403 "$(api POST "/api/v1/approvals/$SELF/approve" "$t")" "admin approves its own request"
  assert_eq unauthorized "$(jq -r .code "$T/resp")" "self-approval problem code"
  assert_eq 403 "$(api POST "/api/v1/approvals/$SELF/reject" "$t" '{"reason":"mine"}')" "admin rejects its own request"
done
assert_eq "$s0" "$(state)" "refused self-approvals change nothing"
assert_eq 200 "$(api GET "/api/v1/approvals/$SELF" "$A")" "still visible"
assert_eq pending "$(jq -r .status "$T/resp")" "still pending"

# --- Another team's approver neither sees nor decides.
assert_eq 404 "$(api GET "/api/v1/approvals/$ID" "$CAROL")" "other team's approver reads"
assert_eq 404 "$(api POST "/api/v1/approvals/$ID/approve" "$CAROL")" "other team's approver approves"
assert_eq 404 "$(api POST "/api/v1/approvals/$ID/reject" "$CAROL" '{"reason":"no"}')" "other team's approver rejects"
assert_eq 200 "$(api GET /api/v1/approvals "$CAROL")" "other team's approver lists"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "and sees none of web's"
assert_eq 403 "$(api GET '/api/v1/approvals?team=web' "$CAROL")" "asking for another team's"
assert_eq 200 "$(api GET '/api/v1/approvals?status=pending' "$BOB")" "the team's approver lists"
assert_eq 2 "$(jq '.items | length' "$T/resp")" "and sees its team's pending requests"

# --- Approved: issued once.
assert_eq 200 "$(api POST "/api/v1/approvals/$ID/approve" "$BOB")" "the team's approver approves"
FP=$(jq -r .certificate "$T/resp")
assert_eq issued "$(jq -r .status "$T/resp")" "approved and issued"
jq -r .certificate_pem "$T/resp" >"$T/issued.pem"
assert_eq "$FP" "$(openssl x509 -in "$T/issued.pem" -outform DER | sha256sum | cut -d' ' -f1)" "the certificate returned is the one recorded"
assert_eq 409 "$(api POST "/api/v1/approvals/$ID/approve" "$BOB")" "a second approve"
assert_eq 409 "$(api POST "/api/v1/approvals/$ID/approve" "$ROOT2")" "a second approve by an admin"
assert_eq 409 "$(api POST "/api/v1/approvals/$ID/reject" "$BOB" '{"reason":"late"}')" "rejecting an issued request"
assert_eq 1 "$(issued_gated)" "exactly one certificate"
assert_eq 200 "$(api GET "/api/v1/certificates/$FP" "$ALICE")" "the requester sees its certificate"
assert_eq web "$(jq -r .team "$T/resp")" "issued into the requester's team"
# Concurrent approvals of one request: one certificate.
racers=()
for i in 1 2 3 4; do
  curl -s -o /dev/null -w '%{http_code}\n' --cacert "$T/root.pem" -X POST -H "Authorization: Bearer $BOB" \
    "$BASE/api/v1/approvals/$LOC_ID/approve" >"$T/race.$i" &
  racers+=($!)
done
wait "${racers[@]}"
assert_eq "200 409 409 409" "$(cat "$T"/race.* | sort | tr '\n' ' ' | sed 's/ $//')" "one of four concurrent approvals wins"
assert_eq 2 "$(issued_gated)" "four concurrent approvals issue one certificate"

# --- Nothing is issued in the name of a requester disabled, or whose token was revoked, since
# it asked: the request waits, to be rejected.
assert_eq 202 "$(request "$ALICE" gated-off.web.example.test)" "a request before its requester is disabled"
OFF=$(jq -r .id "$T/resp")
must 200 POST /api/v1/principals/alice/disable
s0=$(state)
assert_eq 422 "$(api POST "/api/v1/approvals/$OFF/approve" "$BOB")" "approving for a disabled requester"
assert_eq policy_rejected "$(jq -r .code "$T/resp")" "a disabled requester's problem code"
assert_eq "$s0" "$(state)" "a disabled requester has nothing issued"
must 200 POST /api/v1/principals/alice/enable
must 201 POST /api/v1/tokens '{"principal":"alice","ttl":"1d"}'
ALICE2=$(jq -r .token "$T/resp")
assert_eq 202 "$(request "$ALICE2" gated-rev.web.example.test)" "a request through a token revoked later"
REV=$(jq -r .id "$T/resp")
must 204 DELETE "/api/v1/tokens/$(cut -c5-20 <<<"$ALICE2")"
s0=$(state)
assert_eq 422 "$(api POST "/api/v1/approvals/$REV/approve" "$BOB")" "approving what a revoked token asked"
assert_eq "$s0" "$(state)" "a revoked token's request has nothing issued"
assert_eq 200 "$(api GET "/api/v1/approvals/$REV" "$BOB")" "it is still there"
assert_eq pending "$(jq -r .status "$T/resp")" "and pending, to be rejected"
assert_eq 2 "$(issued_gated)" "no certificate for either"

# --- Hostile bodies and ids: problem+json, nothing changes.
s0=$(state)
big=$(head -c 5000 /dev/zero | tr '\0' x)
check_refused() {  # want method path token body message
  local got
  got=$(api "$2" "$3" "$4" "$5")
  assert_eq "$1" "$got" "$6"
  assert_eq true "$(jq -r 'has("code") and has("detail")' "$T/resp" 2>/dev/null || echo false)" "$6: problem+json"
}
check_refused 400 POST "/api/v1/approvals/$SELF/reject" "$ROOT2" "{\"reason\":\"$big\"}" "a huge reason"
check_refused 400 POST "/api/v1/approvals/$SELF/reject" "$ROOT2" '{"reason":"a\nb"}' "a reason with a newline"
check_refused 400 POST "/api/v1/approvals/$SELF/reject" "$ROOT2" '{"reason":""}' "an empty reason"
check_refused 400 POST "/api/v1/approvals/$SELF/reject" "$ROOT2" '{"reason":"a\u2028b"}' "a reason with a line separator"
check_refused 400 POST "/api/v1/approvals/$SELF/reject" "$ROOT2" '{"reason":"\u202egnp.exe"}' "a reason with a bidirectional override"
check_refused 400 POST "/api/v1/approvals/$SELF/reject" "$ROOT2" '{"reason":' "bad JSON"
check_refused 400 POST "/api/v1/approvals/$SELF/reject" "$ROOT2" '{"reason":"x","extra":1}' "an unknown field"
check_refused 400 POST "/api/v1/approvals/$SELF/reject" "$ROOT2" '["x"]' "not an object"
check_refused 400 POST "/api/v1/approvals/$SELF/approve" "$ROOT2" '{"anything":1}' "a body on approve"
check_refused 404 POST /api/v1/approvals/0000000000000000/approve "$ROOT2" "" "an unknown id"
check_refused 400 POST /api/v1/approvals/..%2f..%2fetc/approve "$ROOT2" "" "an id escaping its path"
check_refused 404 POST /api/v1/approvals/ZZZZ%27%20OR%201=1/approve "$ROOT2" "" "an id that is not ours"
check_refused 404 GET "/api/v1/approvals/$(printf 'a%.0s' {1..300})" "$ROOT2" "" "a long id"
check_refused 400 GET '/api/v1/approvals?status=bogus' "$ROOT2" "" "an unknown status"
check_refused 400 GET '/api/v1/approvals?cursor=nonsense' "$ROOT2" "" "a bad cursor"
check_refused 400 GET '/api/v1/approvals?limit=0' "$ROOT2" "" "a bad limit"
check_refused 400 GET '/api/v1/approvals?colour=red' "$ROOT2" "" "an unknown parameter"
check_refused 404 POST "/api/v1/approvals/$ID/approve" "$CAROL" "" "another team's id"
assert_eq 415 "$(curl -s -o "$T/resp" -w '%{http_code}' --cacert "$T/root.pem" -H "Authorization: Bearer $ROOT2" \
  -H 'Content-Type: text/plain' --data-binary '{"reason":"x"}' "$BASE/api/v1/approvals/$SELF/reject")" "a reject that is not JSON"
assert_eq "$s0" "$(state)" "hostile input changes nothing"

# --- Rejected: never issued.
assert_eq 200 "$(api POST "/api/v1/approvals/$SELF/reject" "$ROOT2" '{"reason":"not a name we serve"}')" "another admin rejects"
assert_eq rejected "$(jq -r .status "$T/resp")" "rejected"
assert_eq "not a name we serve" "$(jq -r .reason "$T/resp")" "with its reason"
assert_eq 409 "$(api POST "/api/v1/approvals/$SELF/approve" "$ROOT2")" "approving a rejected request"
assert_eq 2 "$(issued_gated)" "the rejected request issued nothing"

# --- Cancel: only the requester.
assert_eq 202 "$(request "$ALICE" gone.web.example.test)" "another request"
GONE=$(jq -r .id "$T/resp")
assert_eq 403 "$(api POST "/api/v1/approvals/$GONE/cancel" "$ROOT2")" "someone else cancels"
assert_eq 200 "$(api POST "/api/v1/approvals/$GONE/cancel" "$ALICE" '{"reason":"wrong name"}')" "the requester cancels"
assert_eq 409 "$(api POST "/api/v1/approvals/$GONE/approve" "$BOB")" "approving a cancelled request"

# --- Every decision is audited.
for action in approval.request approval.approve approval.reject approval.cancel; do
  api GET "/api/v1/audit/events?action=$action&limit=100" "$A" >/dev/null
  [[ $(jq '.items | length' "$T/resp") -ge 1 ]] && pass || fail "no $action audit event"
done

# --- The CLI, as a client: issue prints the pending id (exit 9), approvals list/show/approve.
csr cli.web.example.test >/dev/null
rc=0
remote "$ALICE" issue --profile gated --csr "$T/cli.web.example.test.csr" >"$T/out" 2>"$T/err" || rc=$?
assert_eq 9 "$rc" "certward issue on a gated profile exits 9 ($(cat "$T/err"))"
CLI_ID=$(cat "$T/out")
assert_eq 16 "${#CLI_ID}" "and prints the request's id"
grep -q "waits for approval" "$T/err" && pass || fail "issue says it waits for approval: $(cat "$T/err")"
remote "$BOB" approvals list --status pending >"$T/out" 2>&1 || fail "approvals list: $(cat "$T/out")"
grep -q "$CLI_ID" "$T/out" && pass || fail "approvals list shows the request: $(cat "$T/out")"
remote "$BOB" approvals show "$CLI_ID" >"$T/out" 2>&1 || fail "approvals show"
grep -q "cli.web.example.test" "$T/out" && pass || fail "approvals show names the subject: $(cat "$T/out")"
assert_fails 6 unauthorized "the requester approves through the CLI" remote "$ALICE" approvals approve "$CLI_ID"
assert_fails 4 not_found "another team's approver through the CLI" remote "$CAROL" approvals approve "$CLI_ID"
remote "$BOB" approvals approve "$CLI_ID" >"$T/out" 2>&1 || fail "approvals approve: $(cat "$T/out")"
grep -q "issued certificate" "$T/out" && pass || fail "approve prints the certificate: $(cat "$T/out")"
assert_fails 5 conflict "approving twice through the CLI" remote "$BOB" approvals approve "$CLI_ID"
assert_eq 3 "$(issued_gated)" "the CLI's approval issued one certificate"

# --- The CLI, locally: the local operator requests, and cannot approve its own.
csr local.web.example.test >/dev/null
rc=0
cw issue --profile gated --csr "$T/local.web.example.test.csr" --team web >"$T/out" 2>"$T/err" || rc=$?
assert_eq 9 "$rc" "local issue on a gated profile exits 9 ($(cat "$T/err"))"
LOCAL_ID=$(cat "$T/out")
assert_fails 6 unauthorized "the local operator approves its own" cw approvals approve "$LOCAL_ID"
# Malformed UTF-8 (an overlong NUL) is refused, not passed on to the audit log.
assert_exit 3 "a local cancel with a malformed reason" cw approvals cancel "$LOCAL_ID" --reason $'over\xc0\x80long'
cw approvals list --status pending --json >"$T/out"
[[ $(jq "[.items[] | select(.id == \"$LOCAL_ID\")] | length" "$T/out") == 1 ]] && pass || fail "local list shows it"
remote "$BOB" approvals reject "$LOCAL_ID" --reason "use the managed certificate" >"$T/out" 2>&1 || fail "reject: $(cat "$T/out")"
grep -q rejected "$T/out" && pass || fail "reject prints the status: $(cat "$T/out")"
assert_exit 3 "reject with an empty reason" remote "$BOB" approvals reject "$CLI_ID" --reason ""
assert_eq 3 "$(issued_gated)" "the rejected local request issued nothing"
stop_server

# --- Expired: a short TTL; it can never be approved, and is listed as expired.
write_config 2s
start_server
A=$ADMIN_TOKEN  # none is printed again: keep using the earlier tokens
assert_eq 202 "$(request "$ALICE" late.web.example.test)" "a request with a 2s TTL"
LATE=$(jq -r .id "$T/resp")
sleep 3
assert_eq 409 "$(api POST "/api/v1/approvals/$LATE/approve" "$BOB")" "approving an expired request"
assert_eq 200 "$(api GET "/api/v1/approvals/$LATE" "$BOB")" "reading it"
assert_eq expired "$(jq -r .status "$T/resp")" "it reads as expired"
assert_eq 200 "$(api GET '/api/v1/approvals?status=expired' "$BOB")" "listing expired requests"
[[ $(jq "[.items[] | select(.id == \"$LATE\")] | length" "$T/resp") == 1 ]] && pass || fail "listed as expired"
assert_eq 3 "$(issued_gated)" "the expired request issued nothing"
stop_server

# --- The CLI prints what a server sends as text, escaped: a hostile server moves no terminal.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" \
  -out "$T/evil.pem" -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 2>/dev/null
EVIL_PORT=$(free_port)
python3 - "$EVIL_PORT" "$T/evil.pem" "$T/evil.key" <<'PY' &
import http.server, json, ssl, sys
ESC = "\x1b]0;owned\x07\x1b[2J\u009b31m"
class Evil(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({k: ESC for k in ("id", "status", "certificate", "serial")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Evil)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
EVIL_PID=$!
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $EVIL_PID"
wait_until 10 bash -c "echo >/dev/tcp/127.0.0.1/$EVIL_PORT" 2>/dev/null
for cmd in "approve 0123456789abcdef" "reject 0123456789abcdef --reason no" "cancel 0123456789abcdef"; do
  # shellcheck disable=SC2086 # the command's words
  env CERTWARD_TOKEN="$BOB" CERTWARD_SERVER="https://127.0.0.1:$EVIL_PORT" CERTWARD_CA_FILE="$T/evil.pem" \
    "$CERTWARD_BIN" approvals $cmd >"$T/out" 2>&1 || fail "approvals $cmd against a hostile server: $(cat -v "$T/out")"
  if LC_ALL=C grep -q $'\x1b\|\x07\|\xc2\x9b' "$T/out"; then
    fail "approvals $cmd prints a server's control characters: $(cat -v "$T/out")"
  else
    pass
  fi
done
kill "$EVIL_PID"
finish
