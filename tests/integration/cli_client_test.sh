#!/usr/bin/env bash
# The CLI against a running server (--server, CERTWARD_TOKEN, --ca-file): the same commands
# and exit codes as locally, over HTTPS.
source "$(dirname "$0")/lib.sh"

start_server
export CERTWARD_SERVER=$BASE CERTWARD_TOKEN=$ADMIN_TOKEN CERTWARD_CA_FILE=$T/root.pem
# Prove the client never reads the data directory.
export CERTWARD_DATA_DIR_SAVED=$CERTWARD_DATA_DIR
remote() { env CERTWARD_DATA_DIR=/nonexistent "$CERTWARD_BIN" "$@"; }

assert_eq "admin (admin)" "$(remote whoami)" "whoami"
assert_eq admin "$(remote whoami --json | jq -r .role)" "whoami --json"
remote profile list | grep -q '^tls-server ' && pass || fail "profile list"
assert_eq 2 "$(remote ca list --json | jq '.items | length')" "ca list"
remote ca export root >"$T/root-remote.pem"
assert_eq "$(openssl x509 -in "$T/root.pem" -noout -fingerprint -sha256)" "$(openssl x509 -in "$T/root-remote.pem" -noout -fingerprint -sha256)" "ca export"
assert_eq 2 "$(remote ca export issuing --chain | grep -c 'BEGIN CERTIFICATE')" "ca export --chain"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" -subj "/CN=cli.example.test" -out "$T/c.csr" 2>/dev/null
remote issue --profile tls-server --csr "$T/c.csr" --out-cert "$T/c.pem" --out-chain "$T/c-chain.pem" --owner cli-team 2>/dev/null && pass || fail "issue from CSR"
if openssl verify -CAfile "$T/root.pem" -untrusted "$T/c-chain.pem" "$T/c.pem" >/dev/null; then pass; else fail "remote-issued certificate"; fi
export P12PW=secret
remote issue --profile tls-client --key-type ec-p256 --cn client-1 --p12 "$T/c.p12" --p12-password-env P12PW >/dev/null 2>&1 && pass || fail "issue PKCS#12"
if openssl pkcs12 -in "$T/c.p12" -passin env:P12PW -noout 2>/dev/null; then pass; else fail "PKCS#12 from the server"; fi
key_json=$(remote issue --profile tls-client --key-type ec-p256 --cn client-2 --json)
echo "$key_json" | jq -e '.private_key_pem | startswith("-----BEGIN PRIVATE KEY-----")' >/dev/null && pass || fail "--json carries the generated key"

fp=$(openssl x509 -in "$T/c.pem" -outform DER | sha256sum | cut -d' ' -f1)
assert_eq 1 "$(remote cert list --owner cli-team --json | jq '.items | length')" "cert list --owner"
remote cert show "${fp:0:16}" | grep -q "cli.example.test" && pass || fail "cert show"
remote cert export "$fp" --format der >"$T/c.der"
assert_eq "$fp" "$(sha256sum <"$T/c.der" | cut -d' ' -f1)" "cert export der"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/x.key" -subj "/CN=imported.example.test" -days 5 -out "$T/x.pem" 2>/dev/null
assert_eq "imported 1, already present 0, failed 0" "$(remote cert import "$T/x.pem")" "cert import"
assert_eq "imported 0, already present 1, failed 0" "$(remote cert import "$T/x.pem")" "cert re-import"
# The import modes are the local importer's: through a server each file is one request.
assert_exit 3 "cert import --bulk through a server" remote cert import --bulk "$T/x.pem"
assert_exit 3 "cert import --batched through a server" remote cert import --batched "$T/x.pem"
remote audit list --action certificate.import | grep -q 'certificate.import' && pass || fail "audit list"
assert_eq "audit chain intact" "$(remote audit verify | head -n 1 | cut -d: -f1)" "audit verify"

# Teams, principals and tokens through the client, and a locally minted break-glass token.
remote team create web --profile tls-server --domain web.example.test >/dev/null && pass || fail "team create"

# Labels: owner, team and tags through PATCH /api/v1/certificates/{id}.
remote cert set "${fp:0:16}" --team web --add-tag Prod --add-tag pci >/dev/null && pass || fail "cert set"
set_json=$(remote cert show "$fp" --json)
assert_eq "web prod,pci" "$(jq -r '.team + " " + (.tags | join(","))' <<<"$set_json")" "cert set result"
assert_eq 1 "$(remote cert list --tag PROD --json | jq '.items | length')" "tag filter is case-insensitive"
remote cert set "$fp" --remove-tag pci --no-owner >/dev/null && pass || fail "cert set --remove-tag --no-owner"
assert_eq "null prod" "$(remote cert show "$fp" --json | jq -r '(.owner | tostring) + " " + (.tags | join(","))')" "owner cleared, tag removed"
assert_fails 3 invalid_argument "client mode: unknown team" remote cert set "$fp" --team nowhere
assert_fails 3 invalid_argument "client mode: bad tag" remote cert set "$fp" --add-tag "two words"
remote audit list --action certificate.update --json | jq -e '.items | length == 2' >/dev/null && pass || fail "two certificate.update events"
remote principal create deployer --role requester --team web >/dev/null && pass || fail "principal create"

# Client-certificate mappings through the client and locally.
remote principal create robot --role operator >/dev/null && pass || fail "principal create robot"
remote issue --profile tls-client --key-type ec-p256 --cn robot --out-cert "$T/robot.pem" --out-key "$T/robot.key" >/dev/null 2>&1
robot_fp=$(openssl x509 -in "$T/robot.pem" -outform DER | sha256sum | cut -d' ' -f1)
assert_eq "mapped $robot_fp to robot" "$(remote principal map robot --cert "$T/robot.pem")" "principal map --cert"
assert_fails 5 conflict "mapping the same certificate twice" remote principal map robot --fingerprint "$robot_fp"
assert_eq "$robot_fp" "$(remote principal mappings robot | cut -d' ' -f1)" "principal mappings lists it"
assert_fails 4 not_found "mappings of no such principal" remote principal mappings nobody
assert_eq "unmapped $robot_fp from robot" "$(remote principal unmap robot "$robot_fp")" "principal unmap"
assert_fails 4 not_found "unmapping twice" remote principal unmap robot "$robot_fp"
assert_eq "" "$(remote principal mappings robot)" "no mapping left"
assert_fails 3 invalid_argument "map with a short fingerprint" remote principal map robot --fingerprint abcd
assert_fails 3 invalid_argument "map without a certificate" remote principal map robot
assert_exit 2 "map with both --cert and --fingerprint" remote principal map robot --cert "$T/robot.pem" --fingerprint "$robot_fp"
local_map=$(env -u CERTWARD_SERVER CERTWARD_DATA_DIR="$CERTWARD_DATA_DIR_SAVED" "$CERTWARD_BIN" principal map robot --fingerprint "${robot_fp^^}")
assert_eq "mapped $robot_fp to robot" "$local_map" "local principal map (upper-case fingerprint normalised)"
assert_eq 1 "$(remote audit list --action certificate_mapping.delete --target "$robot_fp" --json | jq ".items | length")" "unmap audited"
dep=$(remote token create --principal deployer --ttl 1d --description ci)
[[ $dep == cwt_* ]] && pass || fail "token create prints the secret"
assert_eq "deployer (requester, team web)" "$(CERTWARD_TOKEN=$dep remote whoami)" "new token authenticates"
assert_exit 6 "requester outside its team's domains" env CERTWARD_TOKEN="$dep" CERTWARD_DATA_DIR=/nonexistent "$CERTWARD_BIN" issue --profile tls-server --key-type ec-p256 --cn www.other.test
remote token list --principal deployer | grep -q ' deployer ' && pass || fail "token list"
remote token list --json | grep -q "$dep" && fail "token list shows a secret" || pass
remote token revoke "$(echo "$dep" | cut -d_ -f2)" >/dev/null && pass || fail "token revoke"
assert_exit 6 "revoked token" env CERTWARD_TOKEN="$dep" CERTWARD_DATA_DIR=/nonexistent "$CERTWARD_BIN" whoami
local_token=$(env -u CERTWARD_SERVER "$CERTWARD_BIN" token create --principal admin --ttl 1h --description break-glass)
assert_eq "admin (admin)" "$(CERTWARD_TOKEN=$local_token remote whoami)" "token minted on the server host"

# Errors map to the same exit codes as locally.
assert_exit 3 "unknown profile" remote issue --profile nope --key-type ec-p256 --cn x
assert_exit 6 "validity above the maximum" remote issue --profile tls-server --key-type ec-p256 --cn a.example.test --validity 999d
assert_exit 4 "unknown certificate" remote cert show 0123456789abcdef
assert_exit 6 "bad token" env CERTWARD_TOKEN=cwt_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "$CERTWARD_BIN" whoami
assert_exit 6 "no token" env -u CERTWARD_TOKEN "$CERTWARD_BIN" whoami
assert_exit 7 "untrusted server certificate" env -u CERTWARD_CA_FILE CURL_CA_BUNDLE=/dev/null "$CERTWARD_BIN" whoami
assert_exit 3 "local administration refused in client mode" remote init
assert_exit 3 "CA import refused in client mode" remote ca import --name x --cert "$T/x.pem" --key "$T/x.key"
stop_server
assert_exit 7 "server down" remote whoami
finish
