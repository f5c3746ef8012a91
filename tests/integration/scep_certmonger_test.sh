#!/usr/bin/env bash
# SCEP (RFC 8894) against a real `certward serve`, driven by Debian's certmonger (its
# scep-submit helper) as a managed Linux host would be: GetCACaps and GetCACert over plain
# HTTP; enrollment with a static challenge and with a dynamic one-time challenge minted through
# the API for one expected subject; a used, an expired, a revoked and a wrong challenge refused
# (CA_REJECTED); renewal with the same key and with a new one, the old certificate superseded;
# everything verified with `openssl verify`. certmonger runs hermetically (no D-Bus, its own
# state and lock) and is started once for the whole file.
source "$(dirname "$0")/lib.sh"

command -v certmonger >/dev/null && command -v getcert >/dev/null || {
  echo "certmonger is not installed (scripts/setup.sh installs it)" >&2
  exit 1
}

cat >"$T/certward.toml" <<EOT
[profiles.gated-device]
description = "Devices an approver lets in"
allowed_domains = ["fleet.example.test"]
requires_approval = true
EOT
export CERTWARD_CONFIG="$T/certward.toml"
start_server
A=$ADMIN_TOKEN
S="$HTTP_BASE/scep"
must 201 POST /api/v1/teams '{"name":"fleet","allowed_profiles":["device","gated-device"],"allowed_domains":["fleet.example.test"]}'

# --- GetCACaps and GetCACert over plain HTTP ---------------------------------------------------
caps=$(curl -s "$S?operation=GetCACaps")
for cap in AES SHA-256 SHA-384 POSTPKIOperation Renewal; do
  grep -qx "$cap" <<<"$caps" && pass || fail "GetCACaps lacks $cap: $caps"
done
grep -qx 'DES' <<<"$caps" && fail "single DES is advertised" || pass
code=$(curl -s -o "$T/cacert.p7" -D "$T/hdr" -w '%{http_code}' "$S?operation=GetCACert")
assert_eq 200 "$code" "GetCACert answers"
grep -qi '^content-type: application/x-x509-ca-ra-cert' "$T/hdr" && pass || fail "GetCACert media type"
openssl pkcs7 -inform DER -in "$T/cacert.p7" -print_certs 2>/dev/null | sed -n '/BEGIN/,/END/p' >"$T/cacert.pem"
assert_eq 3 "$(grep -c 'BEGIN CERTIFICATE' "$T/cacert.pem")" "GetCACert: the RA, the issuing CA and the root"
openssl x509 -in "$T/cacert.pem" -noout -subject -ext keyUsage,extendedKeyUsage >"$T/ra.txt" 2>&1
grep -q 'Enrollment RA' "$T/ra.txt" && grep -q 'Key Encipherment' "$T/ra.txt" && pass ||
  fail "the first certificate is the RA's: $(cat "$T/ra.txt")"
"$CERTWARD_BIN" ca export issuing >"$T/issuing.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/cacert.pem" >/dev/null && pass ||
  fail "the RA certificate chains to the root"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/root.pem" "$BASE/scep?operation=GetCACaps")" \
  "SCEP is on the HTTPS listener too"
assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' "$S?operation=Frobnicate")" "an unknown operation"
assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' "$S?operation=PKIOperation&message=%%%")" "a message that is not base64"

# --- certmonger, hermetic -------------------------------------------------------------------
CM=$T/cm
mkdir -p "$CM"/{req,cas,tmp,local,config}
export CERTMONGER_REQUESTS_DIR=$CM/req CERTMONGER_CAS_DIR=$CM/cas CERTMONGER_TMPDIR=$CM/tmp \
  CERTMONGER_LOCAL_CA_DIR=$CM/local CERTMONGER_CONFIG_DIR=$CM/config CERTMONGER_SYSTEM_LOCK_FILE=$CM/lock
certmonger -n -L -P "$CM/cm.sock" -p "$CM/cm.pid" >"$CM/cm.log" 2>&1 &
CM_PID=$!
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $CM_PID"
export CERTMONGER_PVT_ADDRESS=unix:path=$CM/cm.sock
wait_until 10 test -S "$CM/cm.sock" || { echo "certmonger did not start: $(cat "$CM/cm.log")" >&2; exit 1; }
getcert add-scep-ca -c certward -u "$S" >"$T/out" 2>&1 && pass || fail "add-scep-ca: $(cat "$T/out")"

# request NICK CN CHALLENGE -> getcert's exit code (0 issued, 2 rejected)
request() {
  local rc=0
  getcert request -c certward -I "$1" -f "$CM/$1.pem" -k "$CM/$1.key" -N "CN=$2" -L "$3" \
    -w --wait-timeout=60 >"$T/getcert.out" 2>&1 || rc=$?
  echo "$rc"
}
status() { getcert list -i "$1" | sed -n 's/^[[:space:]]*status: //p'; }
verify() { openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$CM/$1.pem" >/dev/null; }
fingerprint() { openssl x509 -in "$CM/$1.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'; }

# A static challenge: the one an operator puts in a device profile, any number of uses.
credential '{"kind":"scep","team":"fleet","profile":"device","max_uses":0,"lifetime":"365d","description":"fleet profile"}'
STATIC_ID=$ID STATIC=$SECRET
assert_eq 0 "$(request static1 static1.fleet.example.test "$STATIC")" "enrollment with the static challenge: $(cat "$T/getcert.out")"
assert_eq MONITORING "$(status static1)" "certmonger monitors it"
verify static1 && pass || fail "the certificate verifies to the root"
assert_eq 0 "$(request static2 static2.fleet.example.test "$STATIC")" "the static challenge again"
FP1=$(fingerprint static1)
assert_eq 200 "$(api GET "/api/v1/certificates/$FP1" "$A")" "static1 is in the inventory"
assert_eq scep "$(jq -r .channel "$T/resp")" "enrolled over SCEP"
assert_eq fleet "$(jq -r .team "$T/resp")" "for the credential's team"
jq -e --arg t "credential:$STATIC_ID" '.tags | index($t)' "$T/resp" >/dev/null && pass || fail "tagged with the credential"

# A dynamic challenge, as an MDM mints one per device: one use, one expected subject.
credential '{"kind":"scep","team":"fleet","profile":"device","expected_subject":"laptop7.fleet.example.test","lifetime":"1h"}'
DYN_ID=$ID DYN=$SECRET
assert_eq 2 "$(request other laptop8.fleet.example.test "$DYN")" "a dynamic challenge for another subject is refused"
assert_eq CA_REJECTED "$(status other)" "certmonger is told it was rejected"
getcert stop-tracking -i other >/dev/null 2>&1
assert_eq 0 "$(request laptop7 laptop7.fleet.example.test "$DYN")" "enrollment with the dynamic challenge: $(cat "$T/getcert.out")"
verify laptop7 && pass || fail "the dynamically enrolled certificate verifies"
must 200 GET "/api/v1/enrollment/credentials/$DYN_ID"
assert_eq used "$(jq -r .state "$T/resp")" "the dynamic challenge is used"
assert_eq "$(fingerprint laptop7)" "$(jq -r '.certificates[0].certificate' "$T/resp")" "and records what it enrolled"
before=$(db_scalar "SELECT COUNT(*) FROM certificates")
assert_eq 2 "$(request again laptop7.fleet.example.test "$DYN")" "a used dynamic challenge is refused"
getcert stop-tracking -i again >/dev/null 2>&1

# Expired and revoked challenges, and one that was never issued.
credential '{"kind":"scep","team":"fleet","profile":"device","expected_subject":"old.fleet.example.test","lifetime":"1h"}'
db_scalar "UPDATE enrollment_credentials SET expires_at = $(($(date +%s) - 1)) WHERE id = '$ID'" >/dev/null
assert_eq 2 "$(request expired old.fleet.example.test "$SECRET")" "an expired dynamic challenge is refused"
getcert stop-tracking -i expired >/dev/null 2>&1
credential '{"kind":"scep","team":"fleet","profile":"device","max_uses":0}'
must 200 DELETE "/api/v1/enrollment/credentials/$ID"
assert_eq 2 "$(request revoked rev.fleet.example.test "$SECRET")" "a revoked challenge is refused"
getcert stop-tracking -i revoked >/dev/null 2>&1
assert_eq 2 "$(request wrong wrong.fleet.example.test "not-a-challenge")" "a wrong challenge is refused"
getcert stop-tracking -i wrong >/dev/null 2>&1
assert_eq "$before" "$(db_scalar "SELECT COUNT(*) FROM certificates")" "refused requests issued nothing"
# An EST credential's secret is not a SCEP challenge.
credential '{"kind":"est","team":"fleet","profile":"device","max_uses":0}'
assert_eq 2 "$(request crossed crossed.fleet.example.test "$SECRET")" "an EST password is not a SCEP challenge"
getcert stop-tracking -i crossed >/dev/null 2>&1

# --- held for approval -----------------------------------------------------------------------
# PENDING, and certmonger keeps waiting; once approved, its next PKCSReq (same transactionID,
# same CSR) collects the certificate without using the one-time challenge again.
credential '{"kind":"scep","team":"fleet","profile":"gated-device","expected_subject":"kiosk1.fleet.example.test","lifetime":"1h"}'
GATED_ID=$ID GATED=$SECRET
rc=0
getcert request -c certward -I kiosk1 -f "$CM/kiosk1.pem" -k "$CM/kiosk1.key" -N CN=kiosk1.fleet.example.test \
  -L "$GATED" -w --wait-timeout=5 >"$T/getcert.out" 2>&1 || rc=$?
assert_eq 5 "$rc" "a held request leaves certmonger waiting: $(cat "$T/getcert.out")"
assert_eq CA_WORKING "$(status kiosk1)" "certmonger is still working on it"
must 200 GET "/api/v1/approvals?status=pending"
AID=$(jq -r '.items[0].id' "$T/resp")
assert_eq scep "$(jq -r '.items[0].channel' "$T/resp")" "the held request came over SCEP"
assert_eq "enrollment-credential:$GATED_ID" "$(jq -r '.items[0].requester' "$T/resp")" "asked by the challenge"
getcert resubmit -i kiosk1 -w --wait-timeout=5 >/dev/null 2>&1 || true
assert_eq CA_WORKING "$(status kiosk1)" "asked again before a decision: still pending"
must 200 POST "/api/v1/approvals/$AID/approve"
getcert resubmit -i kiosk1 -w --wait-timeout=60 >"$T/out" 2>&1 && pass || fail "resubmit after approval: $(cat "$T/out")"
assert_eq MONITORING "$(status kiosk1)" "the approved certificate is collected"
verify kiosk1 && pass || fail "the approved certificate verifies"
must 200 GET "/api/v1/enrollment/credentials/$GATED_ID"
assert_eq 1 "$(jq -r .uses "$T/resp")" "the challenge was used once, when the request was held"
# Rejected: the client is told so.
credential '{"kind":"scep","team":"fleet","profile":"gated-device","expected_subject":"kiosk2.fleet.example.test","lifetime":"1h"}'
getcert request -c certward -I kiosk2 -f "$CM/kiosk2.pem" -k "$CM/kiosk2.key" -N CN=kiosk2.fleet.example.test \
  -L "$SECRET" -w --wait-timeout=5 >/dev/null 2>&1 || true
must 200 GET "/api/v1/approvals?status=pending"
must 200 POST "/api/v1/approvals/$(jq -r '.items[0].id' "$T/resp")/reject" '{"reason":"not one of ours"}'
getcert resubmit -i kiosk2 -w --wait-timeout=30 >/dev/null 2>&1 || true
assert_eq CA_REJECTED "$(status kiosk2)" "a rejected request is refused"
getcert stop-tracking -i kiosk2 >/dev/null 2>&1

# --- renewal ---------------------------------------------------------------------------------
# Same key: certmonger sends a PKCSReq signed by the certificate being renewed.
getcert resubmit -i static1 -w --wait-timeout=60 >"$T/out" 2>&1 && pass || fail "resubmit: $(cat "$T/out")"
wait_until 30 test "$(fingerprint static1)" != "$FP1" && pass || fail "static1 was renewed"
NEW1=$(fingerprint static1)
verify static1 && pass || fail "the renewed certificate verifies"
assert_eq 200 "$(api GET "/api/v1/certificates/$FP1" "$A")" "the old certificate"
assert_eq "$NEW1" "$(jq -r .superseded_by "$T/resp")" "is superseded by its renewal"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'scep.renew' AND target_id = '$FP1'")" \
  "the renewal is audited"
# A new key: `rekey` sends a new-key PKCSReq signed by the old certificate.
FP7=$(fingerprint laptop7)
KEY7=$(openssl pkey -in "$CM/laptop7.key" -pubout | sha256sum)
getcert rekey -i laptop7 -w --wait-timeout=60 >"$T/out" 2>&1 && pass || fail "rekey: $(cat "$T/out")"
wait_until 30 test "$(fingerprint laptop7)" != "$FP7" && pass || fail "laptop7 was re-keyed"
[[ $(openssl pkey -in "$CM/laptop7.key" -pubout | sha256sum) != "$KEY7" ]] && pass || fail "with a new key"
openssl x509 -in "$CM/laptop7.pem" -noout -subject | grep -q 'laptop7.fleet.example.test' && pass || fail "same subject"
verify laptop7 && pass || fail "the re-keyed certificate verifies"
must 200 GET "/api/v1/enrollment/credentials/$DYN_ID"
assert_eq 1 "$(jq -r .uses "$T/resp")" "a renewal uses no challenge"
# The superseded certificate cannot renew again.
assert_eq "$(fingerprint laptop7)" "$(db_scalar "SELECT superseded_by FROM certificates WHERE fingerprint = '$FP7'")" \
  "the re-keyed certificate supersedes the old one"

kill "$CM_PID" 2>/dev/null
wait "$CM_PID" 2>/dev/null
CW_BACKGROUND_PIDS=${CW_BACKGROUND_PIDS//$CM_PID/}
stop_server
finish
