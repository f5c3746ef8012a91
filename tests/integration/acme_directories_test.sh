#!/usr/bin/env bash
# ACME directories made through the REST API (/api/v1/acme/directories) and served at once by a
# real `certward serve` to lego (Debian's package, unchanged): made by an administrator,
# refused to other roles and to names and settings that are almost allowed, changed (EAB
# required from the next request on), deleted (its URLs answer 404, its account is refused),
# made again (the account is back), and kept across a restart. Every change is audited;
# every refusal changes nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/acme_lib.sh"

start_dns
acme_config "[acme.directories.fixed]" "profiles = [\"tls-server\"]"
PORT=$(free_port)
export CERTWARD_HTTP_LISTEN=127.0.0.1:$PORT
cw init >/dev/null
start_server CERTWARD_HTTP_LISTEN="$CERTWARD_HTTP_LISTEN"
A=$ADMIN_TOKEN
cw team create web --profile tls-server --domain "$ZONE" >/dev/null
cw principal create dev --role requester --team web >/dev/null
cw principal create ops --role operator >/dev/null
cw principal create aud --role auditor >/dev/null
DEV=$(cw token create --principal dev --ttl 1h)
OPS=$(cw token create --principal ops --ttl 1h)
AUD=$(cw token create --principal aud --ttl 1h)
COLLECTION=/api/v1/acme/directories
PARTNERS=$BASE/acme/partners/directory

lg() {  # directory path args...: one lego run, its output in $T/lego.out
  local server=$1 path=$2
  shift 2
  LEGO_CA_CERTIFICATES=$T/root.pem timeout 120 lego --server "$server" --path "$path" \
    --accept-tos --email "ops@$ZONE" --cert.timeout 20 --http-timeout 10 "$@" >"$T/lego.out" 2>&1
}
HTTP01=(--http --http.port "127.0.0.1:$HTTP01_PORT")
served() { curl -s -o "$T/dir.json" -w '%{http_code}' --cacert "$T/root.pem" "$1"; }
stored() { db_scalar "SELECT COUNT(*) FROM acme_directories"; }
audited() { db_scalar "SELECT COUNT(*) FROM audit_events WHERE target_type = 'acme_directory'"; }

# The list: the default and the file's directory, read-only; any role that reads the catalogue.
assert_eq 200 "$(api GET "$COLLECTION" "$AUD")" "an auditor lists the directories"
assert_eq '["",true,"/acme/directory"] ["fixed",true,"/acme/fixed/directory"]' \
  "$(jq -c '.items[] | [.name, .configured, .path]' "$T/resp" | tr '\n' ' ' | sed 's/ $//')" \
  "the default directory and the configuration file's, marked configured"
assert_eq 401 "$(api GET "$COLLECTION")" "no token: 401"

# Made by the roles that run the CA only.
BODY='{"profiles": ["tls-server", "tls-client"], "terms_of_service": "https://pki.example/tos",
       "caa_identities": ["pki.example"], "authority": "issuing"}'
assert_eq 403 "$(api PUT "$COLLECTION/partners" "$DEV" "$BODY")" "a requester may not make one"
assert_eq 403 "$(api PUT "$COLLECTION/partners" "$AUD" "$BODY")" "an auditor may not make one"
assert_eq 401 "$(api PUT "$COLLECTION/partners" "" "$BODY")" "nobody may not make one"
assert_eq 404 "$(served "$PARTNERS")" "not served before it is made"
assert_eq 0 "$(stored)" "nothing stored by the refusals"

assert_eq 201 "$(api PUT "$COLLECTION/partners" "$OPS" "$BODY")" "an operator makes one"
assert_eq "tls-server false issuing token" \
  "$(jq -r '[.effective_default_profile, .configured, .authority, (.created_by | split(":")[0])] | join(" ")' "$T/resp")" \
  "the answer shows the directory as stored"
assert_eq 200 "$(served "$PARTNERS")" "served at once, without a restart"
assert_eq "https://pki.example/tos pki.example tls-client,tls-server false" \
  "$(jq -r '[.meta.termsOfService, .meta.caaIdentities[0], (.meta.profiles | keys | join(",")), .meta.externalAccountRequired] | join(" ")' "$T/dir.json")" \
  "its directory document carries its meta and profiles"
jq -e '.newOrder | endswith("/acme/partners/new-order")' "$T/dir.json" >/dev/null && pass ||
  fail "its resources are under its own prefix: $(cat "$T/dir.json")"

# lego orders through it; the account belongs to the directory.
rc=0
lg "$PARTNERS" "$T/lego" --domains "p.$ZONE" "${HTTP01[@]}" run || rc=$?
assert_eq 0 "$rc" "lego run against the API's directory succeeds: $(tail -5 "$T/lego.out")"
check_chain "$T/lego/certificates/p.$ZONE.crt" "p.$ZONE"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM acme_accounts WHERE directory = 'partners'")" \
  "lego's account is the partners directory's"

# Hostile changes: each refused with a problem, nothing stored, nothing audited.
before_rows=$(stored)
before_audit=$(audited)
refused() {  # status method name body what
  local got
  got=$(api "$2" "$COLLECTION/$3" "$A" "$4")
  assert_eq "$1" "$got" "$5: $(head -c 300 "$T/resp")"
  jq -e '.title and .detail' "$T/resp" >/dev/null 2>&1 && pass || fail "$5: a problem document"
}
P='{"profiles": ["tls-server"]}'
refused 400 PUT order "$P" "a resource word as a name (it would shadow /acme/order)"
refused 400 PUT new-nonce "$P" "new-nonce as a name"
refused 400 PUT Partners "$P" "an upper-case name"
refused 400 PUT caf%C3%A9 "$P" "a non-ASCII name"
refused 400 PUT a.b "$P" "a dot in the name"
refused 400 PUT %2e%2e "$P" "an escaped .. as the name"
refused 400 PUT "$(printf 'a%.0s' $(seq 1 65))" "$P" "a 65-character name"
refused 409 PUT fixed "$P" "the configuration file's directory"
refused 409 DELETE fixed "" "deleting the configuration file's directory"
refused 400 PUT x '{"profiles": []}' "no profile"
refused 400 PUT x '{"profiles": "tls-server"}' "profiles as a string"
refused 400 PUT x '{"profiles": ["intermediate-ca"]}' "a CA profile"
refused 400 PUT x '{"profiles": ["ocsp-responder"]}' "an internal profile"
refused 400 PUT x '{"profiles": ["nope"]}' "an unknown profile"
refused 400 PUT x '{"profiles": ["tls-server"], "default_profile": "tls-client"}' \
  "a default profile the directory does not offer"
refused 400 PUT x '{"profiles": ["tls-server"], "authority": "nobody"}' "an unknown authority"
refused 400 PUT x '{"profiles": ["tls-server"], "terms_of_service": "javascript:alert(1)"}' \
  "a terms-of-service URL that is not http(s)"
refused 400 PUT x '{"profiles": ["tls-server"], "website": "https://a.example/\r\nX: y"}' \
  "a website with a line break"
refused 400 PUT x '{"profiles": ["tls-server"], "caa_identities": ["PKI.example"]}' \
  "an upper-case CAA identity"
refused 400 PUT x '{"profiles": ["tls-server"], "enabled": true}' "an unknown field"
refused 400 PUT x 'profiles=tls-server' "a body that is not JSON"
refused 404 DELETE nowhere "" "deleting a directory that does not exist"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --cacert "$T/root.pem" -X PUT \
  -H "Authorization: Bearer $A" -H 'Content-Type: text/plain' --data-binary "$P" "$BASE$COLLECTION/x")
assert_eq 415 "$code" "a body that is not sent as JSON"
assert_eq "$before_rows" "$(stored)" "the refusals stored nothing"
assert_eq "$before_audit" "$(audited)" "the refusals audited nothing"
assert_eq 404 "$(served "$BASE/acme/x/directory")" "no directory x is served"

# Changed: EAB required from the next request on.
assert_eq 200 "$(api PUT "$COLLECTION/partners" "$A" '{"profiles": ["tls-server"], "external_account_required": true}')" \
  "the administrator requires EAB on it"
assert_eq 200 "$(served "$PARTNERS")" "still served"
assert_eq true "$(jq -r .meta.externalAccountRequired "$T/dir.json")" \
  "its document says so at once"
rc=0
lg "$PARTNERS" "$T/lego-new" --domains "n.$ZONE" "${HTTP01[@]}" run || rc=$?
[[ $rc != 0 && $rc != 124 && ! -e $T/lego-new/certificates/n.$ZONE.crt ]] && pass ||
  fail "a new account without EAB is refused on it: rc $rc: $(tail -3 "$T/lego.out")"
# Nor does the account made before EAB was required order any more: nobody bound it to a team.
cp "$T/lego/certificates/p.$ZONE.crt" "$T/p-before.crt"
rc=0
lg "$PARTNERS" "$T/lego" --domains "p.$ZONE" "${HTTP01[@]}" renew --days 1000 --no-random-sleep || rc=$?
[[ $rc != 0 && $rc != 124 ]] && pass ||
  fail "lego does not renew once EAB is required: rc $rc: $(tail -3 "$T/lego.out")"
# lego gives up by itself on reading the directory's meta; the server refuses the account
# whatever a client does: its key's newAccount and its signed newOrder, with lego's own key.
refusals=$(PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$PARTNERS" "$T/root.pem" "$T/lego" \
  "$(dirname "$0")" "$ZONE" <<'PY'
import glob, json, sys
sys.path.insert(0, sys.argv[4])
from cryptography.hazmat.primitives import serialization
from acme_client import Acme, Account, Key
acme = Acme(sys.argv[1], sys.argv[2])
key_file = glob.glob(sys.argv[3] + "/accounts/*/*/keys/*.key")[0]
account_file = glob.glob(sys.argv[3] + "/accounts/*/*/account.json")[0]
key = Key(serialization.load_pem_private_key(open(key_file, "rb").read(), None), "ES256")
account = Account(acme, key)
answers = [account.create(onlyReturnExisting=True)]
account.kid = json.load(open(account_file))["registration"]["uri"]
answers.append(account.new_order(["p." + sys.argv[5]]))
print(" ".join(f"{r.status_code}:{r.json().get('type', '').rsplit(':', 1)[-1]}" for r in answers))
PY
)
assert_eq "400:externalAccountRequired 400:externalAccountRequired" "$refusals" \
  "the unbound account is refused once EAB is required (newAccount, newOrder)"
cmp -s "$T/p-before.crt" "$T/lego/certificates/p.$ZONE.crt" && pass ||
  fail "no certificate for the unbound account"

# Deleted: its URLs answer 404, its account is refused; made again, the account is back.
assert_eq 204 "$(api DELETE "$COLLECTION/partners" "$OPS")" "an operator deletes it"
assert_eq 404 "$(served "$PARTNERS")" "its directory is no longer served"
assert_eq 404 "$(api GET "$COLLECTION/partners" "$AUD")" "nor listed"
rc=0
lg "$PARTNERS" "$T/lego" --domains "p.$ZONE" "${HTTP01[@]}" renew --days 1000 --no-random-sleep || rc=$?
[[ $rc != 0 && $rc != 124 ]] && grep -q '404' "$T/lego.out" && pass ||
  fail "the deleted directory's account orders nothing: rc $rc: $(tail -3 "$T/lego.out")"
assert_eq 201 "$(api PUT "$COLLECTION/partners" "$A" '{"profiles": ["tls-server"]}')" \
  "made again under the same name"
rc=0
lg "$PARTNERS" "$T/lego" --domains "p.$ZONE" "${HTTP01[@]}" renew --days 1000 --no-random-sleep || rc=$?
assert_eq 0 "$rc" "its earlier account renews through it again: $(tail -5 "$T/lego.out")"
check_chain "$T/lego/certificates/p.$ZONE.crt" "p.$ZONE"

# The CLI: locally on the data directory (the running server serves it within its refresh
# interval), and through the server.
cw acme directory set cli-made --profile tls-server --caa-identity pki.example >/dev/null &&
  pass || fail "acme directory set (local)"
wait_until 10 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' --cacert '$T/root.pem' '$BASE/acme/cli-made/directory') == 200 ]]" &&
  pass || fail "the running server serves a directory made by the local CLI"
remote() { env CERTWARD_DATA_DIR=/nonexistent CERTWARD_SERVER="$BASE" CERTWARD_TOKEN="$1" \
  CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" "${@:2}"; }
assert_eq "api cli-made" "$(remote "$AUD" --json acme directory list | jq -r '.items[] | select(.name == "cli-made") | (if .configured then "config" else "api" end) + " " + .name')" \
  "acme directory list through the server"
assert_fails 6 unauthorized "a requester's acme directory set through the server" \
  remote "$DEV" acme directory set other --profile tls-server
assert_fails 3 invalid_argument "acme directory set with a resource word" \
  cw acme directory set order --profile tls-server
assert_fails 5 conflict "acme directory delete of the file's directory" \
  remote "$OPS" acme directory delete fixed
remote "$OPS" acme directory delete cli-made >/dev/null && pass || fail "acme directory delete through the server"
assert_eq 404 "$(served "$BASE/acme/cli-made/directory")" "deleted through the CLI: not served"

# Kept across a restart.
stop_server
start_server CERTWARD_HTTP_LISTEN="$CERTWARD_HTTP_LISTEN"
PARTNERS=$BASE/acme/partners/directory
assert_eq 200 "$(served "$PARTNERS")" "served after a restart"

# Audited: partners made, changed, deleted, made again; cli-made made and deleted.
assert_eq "create:partners:token update:partners:token delete:partners:token create:partners:token create:cli-made:local delete:cli-made:token" \
  "$(db_scalar "SELECT substr(action, 16) || ':' || target_id || ':' || substr(actor, 1, instr(actor, ':') - 1) FROM audit_events WHERE target_type = 'acme_directory' ORDER BY seq" | tr '\n' ' ' | sed 's/ $//')" \
  "every change has its audit event, with who made it"
cw audit verify >/dev/null 2>&1 && pass || fail "the audit chain verifies"
stop_server
finish
