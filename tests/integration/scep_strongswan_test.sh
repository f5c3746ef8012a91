#!/usr/bin/env bash
# SCEP (RFC 8894) against a real `certward serve`, driven by strongSwan's `pki` as an IPsec
# gateway would be: --scepca fetches the CA and RA certificates and checks the RA chains to the
# root; --scep enrolls with a challenge over POST (AES-128), then renews with a
# RenewalReq signed by the certificate it holds and a new key; a retry of that renewal gets the
# same certificate; a renewal by a revoked certificate and an enrollment with a wrong
# challenge fail and issue nothing.
source "$(dirname "$0")/lib.sh"

command -v pki >/dev/null || { echo "strongswan-pki is not installed (scripts/setup.sh installs it)" >&2; exit 1; }

start_server
A=$ADMIN_TOKEN
S="$HTTP_BASE/scep"
must 201 POST /api/v1/teams '{"name":"gateways","allowed_profiles":["device"],"allowed_domains":["vpn.example.test"]}'
must 201 POST /api/v1/enrollment/credentials '{"kind":"scep","team":"gateways","profile":"device","max_uses":0}'
CH=$(jq -r .secret "$T/resp")
cd "$T"

pki --scepca --url "$S" --caout ca.der --raout ra.der >scepca.out 2>&1 && pass || fail "pki --scepca: $(cat scepca.out)"
grep -q 'RA cert is trusted' scepca.out && pass || fail "strongSwan trusts the RA certificate: $(cat scepca.out)"
[[ -s ca.der && -s ca-1.der && -s ra.der ]] && pass || fail "root, issuing CA and RA written"
openssl x509 -inform DER -in ra.der -noout -subject | grep -q 'Enrollment RA' && pass || fail "ra.der is the RA"

# scep KEY DN OUT [pki args...] -> exit code
scep() {
  local key=$1 dn=$2 out=$3 rc=0
  shift 3
  timeout 60 pki --scep --url "$S" --in "$key" --dn "$dn" --cacert-enc ra.der --cacert-sig ra.der \
    --cacert ca.der --cacert ca-1.der --interval 1 --maxpolltime 5 "$@" >"$out" 2>scep.err || rc=$?
  echo "$rc"
}
gen() { pki --gen --type rsa --size 2048 --outform der >"$1" 2>/dev/null; }
verify() { openssl verify -CAfile "$T/root.pem" -untrusted <(openssl x509 -inform DER -in ca-1.der) <(openssl x509 -inform DER -in "$1") >/dev/null; }
fp() { openssl x509 -inform DER -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'; }

gen k1.der
assert_eq 0 "$(scep k1.der CN=gw1.vpn.example.test gw1.der --password "$CH" --cipher aes)" "AES enrollment: $(grep -iv tpm scep.err | tail -3)"
verify gw1.der && pass || fail "gw1 verifies to the root"
gen k2.der
# AES-128 here; 3DES is covered by the hostile client (Debian's pki needs plugins for it).
assert_eq 0 "$(scep k2.der CN=gw2.vpn.example.test gw2.der --password "$CH" --cipher aes)" "a second enrollment: $(grep -iv tpm scep.err | tail -3)"
verify gw2.der && pass || fail "gw2 verifies to the root"

before=$(db_scalar "SELECT COUNT(*) FROM certificates")
gen k3.der
[[ $(scep k3.der CN=gw3.vpn.example.test gw3.der --password not-the-challenge --cipher aes) != 0 ]] && pass ||
  fail "a wrong challenge is refused"
assert_eq "$before" "$(db_scalar "SELECT COUNT(*) FROM certificates")" "and issues nothing"

# Renewal: a RenewalReq for a new key, signed by the certificate held, no challenge.
gen k1b.der
assert_eq 0 "$(scep k1b.der CN=gw1.vpn.example.test gw1b.der --cert gw1.der --key k1.der --cipher aes)" \
  "RenewalReq: $(grep -iv tpm scep.err | tail -3)"
verify gw1b.der && pass || fail "the renewed certificate verifies"
[[ $(fp gw1b.der) != "$(fp gw1.der)" ]] && pass || fail "a new certificate"
assert_eq "$(fp gw1b.der)" "$(db_scalar "SELECT superseded_by FROM certificates WHERE fingerprint = '$(fp gw1.der)'")" \
  "the old certificate is superseded by its renewal"
# The same renewal again (its answer lost): the same certificate, nothing new.
before=$(db_scalar "SELECT COUNT(*) FROM certificates")
assert_eq 0 "$(scep k1b.der CN=gw1.vpn.example.test gw1c.der --cert gw1.der --key k1.der --cipher aes)" "a retried renewal"
assert_eq "$(fp gw1b.der)" "$(fp gw1c.der)" "gets the certificate already issued"
assert_eq "$before" "$(db_scalar "SELECT COUNT(*) FROM certificates")" "and issues nothing"
# Another key through the superseded certificate: refused.
gen k1d.der
[[ $(scep k1d.der CN=gw1.vpn.example.test gw1d.der --cert gw1.der --key k1.der --cipher aes) != 0 ]] && pass ||
  fail "a superseded certificate cannot renew to another key"

# A revoked certificate cannot renew.
must 200 POST "/api/v1/certificates/$(fp gw2.der)/revoke" '{"reason":"keyCompromise"}'
gen k2b.der
[[ $(scep k2b.der CN=gw2.vpn.example.test gw2b.der --cert gw2.der --key k2.der --cipher aes) != 0 ]] && pass ||
  fail "a revoked certificate cannot renew"
assert_eq "$before" "$(db_scalar "SELECT COUNT(*) FROM certificates")" "refused renewals issue nothing"

stop_server
finish
