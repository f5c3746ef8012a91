#!/usr/bin/env bash
# The SSH certificate authority against a real sshd and ssh client on 127.0.0.1: SSH CAs with
# Ed25519 and ECDSA software keys and an RSA key in a PKCS#11 token (SoftHSM2); user
# certificates that log in through TrustedUserCAKeys and AuthorizedPrincipalsFile, a host
# certificate the client accepts through @cert-authority alone, critical options sshd enforces
# (force-command, source-address), and a revocation that sshd refuses through the KRL fetched
# from certward's plain-HTTP listener. Then the rules: a team's requester within its
# principals only, profiles' limits, hostile keys and principals, other teams' certificates
# invisible; the inventory of SSH certificates (search, expiring, revoked) and the audit chain.
source "$(dirname "$0")/lib.sh"

command -v ssh-keygen >/dev/null && [[ -x /usr/sbin/sshd && -x /usr/bin/ssh ]] ||
  { echo "missing OpenSSH (ssh-keygen, /usr/sbin/sshd, /usr/bin/ssh)" >&2; exit 1; }

# SoftHSM2 for the token-held CA.
export CERTWARD_HSM_PIN=ssh-hsm-pin-77
start_softhsm ssh-token "$CERTWARD_HSM_PIN"

cat >"$T/certward.toml" <<EOF
[ca.pkcs11]
module = "/usr/lib/softhsm/libsofthsm2.so"
[ca.pkcs11.tokens."ssh-token"]
pin_env = "CERTWARD_HSM_PIN"
[ssh]
default_authority = "users"
[ssh.profiles.web-users]
type = "user"
authority = "users"
max_validity = "2h"
default_validity = "1h"
principals = ["web-*", "deploy"]
extensions = ["permit-pty"]
allowed_extensions = ["permit-pty", "permit-port-forwarding"]
[ssh.profiles.web-users.team_principals]
web = ["web-*"]
EOF
export CERTWARD_CONFIG=$T/certward.toml
start_server
A=$ADMIN_TOKEN

# ---- SSH CAs --------------------------------------------------------------------------------
assert_eq 201 "$(api POST /api/v1/ssh/authorities "$A" '{"name":"users","key_type":"ed25519"}')" "an Ed25519 SSH CA over REST"
assert_eq ed25519 "$(jq -r .key_type "$T/resp")" "its key type"
cw ssh ca create --name hosts --key-type ec-p256 >/dev/null && pass || fail "an ECDSA SSH CA with the CLI"
assert_eq 201 "$(api POST /api/v1/ssh/authorities "$A" '{"name":"vault","key_type":"rsa-3072","key_store":"pkcs11","token":"ssh-token"}')" \
  "an RSA SSH CA with its key in a token"
assert_eq pkcs11 "$(jq -r .key_storage "$T/resp")" "the token CA's key storage"
VAULT_KEY=$(jq -r .public_key "$T/resp")
assert_eq 409 "$(api POST /api/v1/ssh/authorities "$A" '{"name":"users"}')" "a name taken"
assert_eq 400 "$(api POST /api/v1/ssh/authorities "$A" '{"name":"edtoken","key_type":"ed25519","key_store":"pkcs11","token":"ssh-token"}')" \
  "Ed25519 in a token"
assert_eq 400 "$(api POST /api/v1/ssh/authorities "$A" '{"name":"weak","key_type":"rsa-pss-2048"}')" "an RSA-PSS SSH CA"

# The CAs' public keys as hosts fetch them, from the plain-HTTP listener.
for ca in users hosts vault; do
  curl -sf "$HTTP_BASE/ssh/$ca.pub" >"$T/$ca.pub" && pass || fail "GET /ssh/$ca.pub"
done
assert_eq "$VAULT_KEY" "$(cat "$T/vault.pub")" "the served key is the API's"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_BASE/ssh/nosuch.pub")" "an unknown CA"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_BASE/ssh/..%2Fusers.pub")
[[ $code == 400 || $code == 404 ]] && pass || fail "a path in the name: $code"

# ---- sshd trusting the CAs ------------------------------------------------------------------
SSH_USER=$(id -un)
SSH_PORT=$(free_port)
mkdir -p "$T/sshd/principals" "$T/client"
ssh-keygen -q -N '' -t ed25519 -C certward-ssh-host -f "$T/sshd/host_ed25519"
cat "$T/users.pub" "$T/vault.pub" >"$T/sshd/trusted_user_cas"
echo "ops-$SSH_USER" >"$T/sshd/principals/$SSH_USER"
fetch_krl() { curl -sf -o "$T/sshd/revoked.krl" "$HTTP_BASE/ssh/users.krl"; }
fetch_krl && pass || fail "GET /ssh/users.krl"

# The host certificate, signed by the ECDSA CA; the client trusts that CA and nothing else.
cw ssh sign --host 127.0.0.1 --authority hosts --validity 1d "$T/sshd/host_ed25519.pub" >/dev/null &&
  pass || fail "ssh sign --host"
echo "@cert-authority [127.0.0.1]:$SSH_PORT $(cat "$T/hosts.pub")" >"$T/client/known_hosts"

cat >"$T/sshd/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $T/sshd/host_ed25519
HostCertificate $T/sshd/host_ed25519-cert.pub
PidFile $T/sshd/sshd.pid
UsePAM no
StrictModes no
AuthorizedKeysFile none
TrustedUserCAKeys $T/sshd/trusted_user_cas
AuthorizedPrincipalsFile $T/sshd/principals/%u
RevokedKeys $T/sshd/revoked.krl
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
EOF
[[ $(id -u) != 0 ]] || mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$T/sshd/sshd_config" >"$T/sshd/sshd.log" 2>&1 &
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $!"
wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT" 2>/dev/null ||
  { echo "sshd did not start:" >&2; cat "$T/sshd/sshd.log" >&2; exit 1; }

login() {  # key [command]: ssh with the key and its certificate; the output in $T/ssh.out
  ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o "UserKnownHostsFile=$T/client/known_hosts" -o IdentitiesOnly=yes -o ConnectTimeout=5 \
    -i "$1" -o "CertificateFile=$1-cert.pub" -p "$SSH_PORT" "$SSH_USER@127.0.0.1" \
    "${2:-echo in-as-\$(id -un)}" >"$T/ssh.out" 2>"$T/ssh.err"
}
newkey() { ssh-keygen -q -N '' -t "${2:-ed25519}" -C "$1@laptop" -f "$T/client/$1"; }

# ---- User certificates log in ---------------------------------------------------------------
newkey alice
cw ssh sign --user alice --principal "ops-$SSH_USER" --validity 8h "$T/client/alice.pub" >"$T/sign.out" &&
  pass || fail "ssh sign --user (the command in the guide)"
grep -q 'user certificate alice' "$T/sign.out" && pass || fail "says what it wrote: $(cat "$T/sign.out")"
ssh-keygen -L -f "$T/client/alice-cert.pub" >"$T/alice.txt"
grep -q "Key ID: \"alice\"" "$T/alice.txt" && grep -q "ops-$SSH_USER" "$T/alice.txt" &&
  grep -q 'permit-pty' "$T/alice.txt" && pass || fail "ssh-keygen reads the certificate: $(cat "$T/alice.txt")"
login "$T/client/alice" && pass || fail "login with the Ed25519 CA's certificate: $(cat "$T/ssh.err")"
assert_eq "in-as-$SSH_USER" "$(cat "$T/ssh.out")" "logged in"
grep -q 'Accepted publickey.*ID alice' "$T/sshd/sshd.log" && pass || fail "sshd logs the key id"

# The token CA's certificate (RSA, signed in SoftHSM2), over REST.
newkey bob
body=$(jq -n --arg k "$(cat "$T/client/bob.pub")" --arg p "ops-$SSH_USER" \
  '{authority:"vault",public_key:$k,principals:[$p],validity:"30m",key_id:"bob"}')
assert_eq 201 "$(api POST /api/v1/ssh/certificates "$A" "$body")" "sign with the token CA over REST"
jq -r .certificate "$T/resp" >"$T/client/bob-cert.pub"
BOB_ID=$(jq -r .id "$T/resp")
login "$T/client/bob" && pass || fail "login with the token CA's certificate: $(cat "$T/ssh.err")"

# Client mode: the CLI against the server, as the admin token.
newkey gina
env CERTWARD_SERVER="$BASE" CERTWARD_TOKEN="$A" CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" \
  ssh sign --user gina --principal "ops-$SSH_USER" --validity 10m "$T/client/gina.pub" >/dev/null &&
  pass || fail "ssh sign through a server"
login "$T/client/gina" && pass || fail "login with the certificate signed through a server: $(cat "$T/ssh.err")"

# A principal sshd does not list for the user.
newkey carol
cw ssh sign --user carol --principal "someone-else" "$T/client/carol.pub" >/dev/null
! login "$T/client/carol" && pass || fail "a principal not in AuthorizedPrincipalsFile logs in"

# Critical options are enforced by sshd.
newkey dave
cw ssh sign --user dave --principal "ops-$SSH_USER" --force-command "echo forced" "$T/client/dave.pub" >/dev/null
login "$T/client/dave" "echo not-this" && pass || fail "force-command login: $(cat "$T/ssh.err")"
assert_eq forced "$(cat "$T/ssh.out")" "force-command runs instead"
newkey erin
cw ssh sign --user erin --principal "ops-$SSH_USER" --source-address 192.0.2.1/32 "$T/client/erin.pub" >/dev/null
! login "$T/client/erin" && pass || fail "source-address elsewhere still logs in"

# A certificate from a CA sshd does not trust.
newkey frank
cw ssh sign --user frank --principal "ops-$SSH_USER" --authority hosts "$T/client/frank.pub" >/dev/null
! login "$T/client/frank" && pass || fail "an untrusted CA's certificate logs in"

# ---- Revocation through the KRL -------------------------------------------------------------
ALICE_ID=$(cw ssh list --search alice --json | jq -r '.items[0].id')
[[ ${#ALICE_ID} == 64 ]] && pass || fail "ssh list finds alice's certificate"
assert_eq ok "$(ssh-keygen -Q -f "$T/sshd/revoked.krl" "$T/client/alice-cert.pub" | awk '{print $NF}')" "not revoked yet"
assert_eq 200 "$(api POST "/api/v1/ssh/certificates/$ALICE_ID/revoke" "$A" '{"reason":"laptop lost"}')" "revoke over REST"
assert_eq 409 "$(api POST "/api/v1/ssh/certificates/$ALICE_ID/revoke" "$A" '{}')" "revoked twice"
fetch_krl
assert_eq REVOKED "$(ssh-keygen -Q -f "$T/sshd/revoked.krl" "$T/client/alice-cert.pub" | awk '{print $NF}')" "ssh-keygen -Q reads the KRL"
! login "$T/client/alice" && pass || fail "sshd still accepts a revoked certificate"
login "$T/client/dave" && pass || fail "another certificate of the CA still logs in"
cw ssh revoke "$BOB_ID" --reason test >/dev/null && pass || fail "ssh revoke with the CLI"
curl -sf -o "$T/vault.krl" "$HTTP_BASE/ssh/vault.krl"
cat "$T/sshd/revoked.krl" "$T/vault.krl" >/dev/null
assert_eq REVOKED "$(ssh-keygen -Q -f "$T/vault.krl" "$T/client/bob-cert.pub" | awk '{print $NF}')" "the token CA's KRL"
cw ssh krl vault -o "$T/vault-cli.krl" && cmp -s <(tail -c +29 "$T/vault-cli.krl") <(tail -c +29 "$T/vault.krl") &&
  pass || fail "ssh krl writes the same list"
# The KRL version grows with every revocation, two in one second included.
krl_version() { curl -sf "$HTTP_BASE/ssh/$1.krl" | od -An -t u1 -j 12 -N 8 | tr -s ' ' | sed 's/^ //'; }
v1=$(krl_version users)
cw ssh revoke "$(cw ssh list --search dave --json | jq -r '.items[0].id')" >/dev/null
v2=$(krl_version users)
cw ssh revoke "$(cw ssh list --search erin --json | jq -r '.items[0].id')" >/dev/null
v3=$(krl_version users)
[[ $v1 != "$v2" && $v2 != "$v3" && $v1 != "$v3" ]] && pass || fail "KRL versions $v1 / $v2 / $v3"

# ---- A team's requester, and the profiles' limits -------------------------------------------
must 201 POST /api/v1/teams '{"name":"web","allowed_profiles":["tls-server"],"allowed_domains":["web.example.test"]}'
must 201 POST /api/v1/teams '{"name":"db","allowed_profiles":["tls-server"],"allowed_domains":["db.example.test"]}'
must 201 POST /api/v1/principals '{"name":"wendy","role":"requester","team":"web"}'
must 201 POST /api/v1/tokens '{"principal":"wendy","ttl":"1d"}'
W=$(jq -r .token "$T/resp")
must 201 POST /api/v1/principals '{"name":"dan","role":"requester","team":"db"}'
must 201 POST /api/v1/tokens '{"principal":"dan","ttl":"1d"}'
D=$(jq -r .token "$T/resp")
newkey wendy
KEY=$(cat "$T/client/wendy.pub")
sign_as() {  # token body-fields -> status; response in $T/resp
  api POST /api/v1/ssh/certificates "$1" "$(jq -n --arg k "$KEY" "{public_key:\$k} + $2")"
}
assert_eq 201 "$(sign_as "$W" '{profile:"web-users",principals:["web-wendy"]}')" "the team's principal"
WENDY_ID=$(jq -r .id "$T/resp")
assert_eq wendy "$(jq -r .requester "$T/resp" | sed 's/^token:.*/wendy/')" "requester recorded"
assert_eq web "$(jq -r .team "$T/resp")" "team recorded"
assert_eq 403 "$(sign_as "$W" '{profile:"web-users",principals:["deploy"]}')" "a principal the profile allows others, not the team"
assert_eq 403 "$(sign_as "$W" '{profile:"web-users",principals:["web-wendy","root"]}')" "one principal outside the team's"
assert_eq 403 "$(sign_as "$W" '{principals:["web-wendy"]}')" "a profile the team has no principals in"
assert_eq 403 "$(sign_as "$D" '{profile:"web-users",principals:["web-dan"]}')" "another team"
assert_eq 422 "$(sign_as "$W" '{profile:"web-users",principals:["web-wendy"],validity:"3h"}')" "validity above the profile's"
assert_eq 422 "$(sign_as "$W" '{profile:"web-users",principals:["web-wendy"],force_command:"id"}')" "force-command the profile does not allow"
assert_eq 422 "$(sign_as "$W" '{profile:"web-users",principals:["web-wendy"],extensions:["permit-X11-forwarding"]}')" "an extension the profile does not allow"
assert_eq 201 "$(sign_as "$W" '{profile:"web-users",principals:["web-wendy"],extensions:["permit-port-forwarding"]}')" "an allowed extension"
assert_eq 400 "$(sign_as "$W" '{profile:"web-users",principals:["web-a,root"]}')" "a comma in a principal"
assert_eq 400 "$(sign_as "$W" '{profile:"web-users",principals:["web-*"]}')" "a wildcard principal"
assert_eq 400 "$(sign_as "$W" '{profile:"web-users",principals:[]}')" "no principal"
assert_eq 400 "$(sign_as "$W" '{profile:"web-users",principals:["web-wendy"],validity:"10s"}')" "validity under a minute"
assert_eq 404 "$(sign_as "$A" '{profile:"nosuch",principals:["x"]}')" "an unknown profile"
assert_eq 404 "$(sign_as "$A" '{authority:"nosuch",principals:["x"]}')" "an unknown SSH CA"
assert_eq 400 "$(sign_as "$A" '{principals:["x"],source_address:"10.0.0.0/8,not-an-address"}')" "a bad source-address"
assert_eq 400 "$(sign_as "$A" '{principals:["x"],key_id:"two\nlines"}')" "a control character in the key id"
assert_eq 400 "$(sign_as "$A" '{principals:["x"],type:"host",profile:"ssh-user"}')" "a type the profile does not issue"
assert_eq 403 "$(api POST /api/v1/ssh/authorities "$W" '{"name":"mine"}')" "a requester cannot make SSH CAs"
assert_eq 403 "$(sign_as "$W" '{profile:"web-users",authority:"vault",principals:["web-wendy"]}')" "a team's requester choosing another CA than its profile's"
assert_eq 403 "$(sign_as "$W" '{profile:"web-users",authority:"hosts",principals:["web-wendy"]}')" "nor the host CA"
assert_eq 201 "$(sign_as "$W" '{profile:"web-users",principals:["web-wendy"],key_id:"local:root for ops-root"}')" "a key id of a team's requester"
[[ $(jq -r .key_id "$T/resp") == token:*": local:root for ops-root" ]] && pass ||
  fail "a team's requester's key id names it first: $(jq -r .key_id "$T/resp")"
assert_eq 400 "$(sign_as "$A" "{principals:[\"web-\u202eroot\"]}")" "a bidirectional control in a principal"
assert_eq 400 "$(sign_as "$A" "{principals:[\"x\"],key_id:\"x\u009b31m\"}")" "a C1 control in the key id"
assert_eq 400 "$(sign_as "$A" '{principals:["x"],source_address:"127.0.0.2/8"}')" "host bits under the prefix"
assert_eq 400 "$(sign_as "$A" '{principals:["x"],source_address:"::ffff:127.0.0.1"}')" "IPv4 written as IPv6"
assert_eq 201 "$(sign_as "$A" '{principals:["x"],source_address:"10.0.0.0/8,192.0.2.1,2001:db8::/32"}')" "canonical source addresses"
assert_eq 400 "$(api GET "/api/v1/ssh/certificates?search=%FF" "$A")" "a search that is not UTF-8"
cp "$T/client/wendy" "$T/client/private-only"
assert_fails 3 invalid_argument "ssh sign refuses a private key file" \
  cw ssh sign --user x "$T/client/private-only"
assert_fails 3 invalid_argument "ssh sign refuses what is not a regular file" \
  cw ssh sign --user x /dev/zero

# Hostile keys.
hostile_key() {  # status description key-line
  assert_eq "$1" "$(api POST /api/v1/ssh/certificates "$A" "$(jq -n --arg k "$3" '{public_key:$k,principals:["x"]}')")" "$2"
}
ssh-keygen -q -N '' -t rsa -b 1024 -f "$T/client/small" 2>/dev/null || true
[[ -f $T/client/small.pub ]] && hostile_key 422 "RSA-1024" "$(cat "$T/client/small.pub")"
hostile_key 422 "a certificate instead of a key" "$(cat "$T/client/dave-cert.pub")"
hostile_key 400 "garbage" "ssh-ed25519 not-base64!"
hostile_key 400 "a type that is not the blob's" "ssh-rsa ${KEY#ssh-ed25519 }"
hostile_key 400 "a truncated key" "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA"
hostile_key 400 "two lines" "$KEY
$KEY"
hostile_key 400 "an unknown type" "ssh-foo AAAAB3NzaC1mb28="
# An EC point that is not on the curve: the nistp256 key of alice's ECDSA sibling, one byte off.
newkey ec ecdsa
bad=$(python3 -c 'import base64,sys; t,b=open(sys.argv[1]).read().split()[:2]; d=bytearray(base64.b64decode(b)); d[-1]^=1; print(t, base64.b64encode(bytes(d)).decode())' "$T/client/ec.pub")
hostile_key 400 "an EC point off its curve" "$bad"

# ---- The inventory of SSH certificates --------------------------------------------------------
assert_eq 200 "$(api GET "/api/v1/ssh/certificates?search=web-wendy" "$A")" "search by principal"
assert_eq 3 "$(jq '.items | length' "$T/resp")" "wendy's three certificates"
assert_eq 200 "$(api GET "/api/v1/ssh/certificates?search=web-wendy" "$D")" "another team searches"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "another team's certificates are not shown"
assert_eq 404 "$(api GET "/api/v1/ssh/certificates/$WENDY_ID" "$D")" "nor one by id"
assert_eq 404 "$(api POST "/api/v1/ssh/certificates/$WENDY_ID/revoke" "$D" '{}')" "nor revoked by another team"
assert_eq 200 "$(api GET "/api/v1/ssh/certificates?expiring_within=40m" "$A")" "expiring within 40 minutes"
jq -e --arg id "$BOB_ID" '[.items[] | select(.id == $id)] | length == 1' "$T/resp" >/dev/null &&
  pass || fail "bob's 30-minute certificate is expiring"
jq -e '[.items[] | select(.key_id == "alice")] | length == 0' "$T/resp" >/dev/null &&
  pass || fail "alice's 8-hour one is not"
assert_eq 200 "$(api GET "/api/v1/ssh/certificates/$ALICE_ID" "$A")" "one certificate"
assert_eq "laptop lost" "$(jq -r .revocation_reason "$T/resp")" "its revocation"
assert_eq 400 "$(api GET "/api/v1/ssh/certificates?limit=0" "$A")" "a bad limit"
assert_eq 400 "$(api GET "/api/v1/ssh/certificates?bogus=1" "$A")" "an unknown parameter"

stop_server
cw audit verify >/dev/null && pass || fail "audit verify"
issued=$(cw audit list --action ssh.certificate.issue --json | jq '.items | length')
assert_eq "$(db_scalar 'SELECT COUNT(*) FROM ssh_certificates')" "$issued" "every SSH certificate is audited"
assert_eq 4 "$(cw audit list --action ssh.certificate.revoke --json | jq '.items | length')" "revocations audited"
# Each one is an SSH key of the inventory too, where discovery records those it finds.
assert_eq "$(db_scalar 'SELECT COUNT(*) FROM ssh_certificates')" \
  "$(db_scalar "SELECT COUNT(*) FROM ssh_keys WHERE type LIKE '%-cert-v01@openssh.com'")" "recorded among the inventory's SSH keys"
assert_eq "[\"ops-$SSH_USER\"]" "$(db_scalar "SELECT json_extract(certificate, '$.principals') FROM ssh_keys WHERE json_extract(certificate, '$.key_id') = 'alice'")" \
  "with the certificate's fields"
finish
