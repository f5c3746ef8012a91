#!/usr/bin/env bash
# A hostile ACME client (acme_hostile.py, on the small client in acme_client.py) against a
# real `certward serve`: malformed and unsigned JWS, replayed and missing nonces, URLs and
# Host headers that lie, keys that are not the account's, other accounts' resources,
# oversized and deeply nested bodies, CSRs that do not match their order, identifiers that are
# almost allowed, key rollover and deactivation, revocation by whom and why, external account
# binding, renewal information (RFC 9773) and "replaces", and races. Every refusal must carry
# the right ACME error type and HTTP status and change nothing in the database.
#
# The default directory offers one profile, hostile-web: names under acme.test only, no
# wildcards, no IP addresses. A second directory, eab, requires external account binding.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/acme_lib.sh"

start_dns
acme_config 'profiles = ["hostile-web"]' 'validation_retries = 0' \
  '[acme.directories.eab]' 'external_account_required = true' \
  '[profiles.hostile-web]' 'allowed_domains = ["acme.test"]' 'allow_wildcards = false' \
  'allow_ip_sans = false'
PORT=$(free_port)
export CERTWARD_HTTP_LISTEN=127.0.0.1:$PORT
cw init >/dev/null
start_server CERTWARD_HTTP_LISTEN="$CERTWARD_HTTP_LISTEN"

# Debian's interpreter, with its python3-cryptography and python3-requests.
rc=0
DIRECTORY=$BASE/acme/directory ROOT=$T/root.pem HTTP01_PORT=$HTTP01_PORT \
  /usr/bin/python3 "$(dirname "$0")/acme_hostile.py" >"$T/hostile.out" 2>&1 || rc=$?
while IFS= read -r line; do
  case $line in
    "ok   "*) pass ;;
    "FAIL "*) fail "${line#FAIL }" ;;
  esac
done <"$T/hostile.out"
tail -1 "$T/hostile.out" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$' ||
  fail "acme_hostile.py did not finish (exit $rc): $(tail -5 "$T/hostile.out")"

# Whatever it was sent, the server still serves and its audit chain holds.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/root.pem" "$BASE/acme/directory")
assert_eq 200 "$code" "the directory still answers"
cw audit verify >/dev/null 2>&1 && pass || fail "the audit chain verifies"

stop_server
finish
