#!/usr/bin/env bash
# A replacement campaign end to end on a real `certward serve`: 200 managed certificates with
# file targets, all issued by the issuing CA "issuing" (three of them with a verification
# endpoint that is closed, so none of their deployments can succeed), and one certificate
# issued directly (nobody manages it). A new issuing CA is made; the campaign's plan (a dry run
# through the CLI) lists all of them and changes nothing; bad requests are refused with
# problem+json and store nothing; the campaign runs in waves of 50 while its progress is
# reported, until the 197 are replaced (their files hold certificates of the new CA), the
# three are listed failed with their error, and the direct one has its replacement asked for
# (replace_by: its ACME renewal information shows a window in the past). Finishing with
# --revoke revokes exactly the replaced certificates (the CRL lists them), not the new ones
# and not those whose replacement failed.
source "$(dirname "$0")/lib.sh"

D=$T/deploy
mkdir -p "$D"
CLOSED_PORT=$(free_port)  # nothing listens there
cat >"$T/certward.toml" <<EOF
[lifecycle]
allowed_paths = ["$D"]
poll_interval_ms = 100
concurrency = 2
batch = 25
retry_base = "30s"
sweep_interval = "60s"

[server.rate_limit]
requests_per_second = 0
EOF
export CERTWARD_CONFIG=$T/certward.toml
start_server
A=$ADMIN_TOKEN
remote() { env CERTWARD_TOKEN="$A" "$CERTWARD_BIN" --server "$BASE" --ca-file "$T/root.pem" "$@"; }
file_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
count_state() { api GET "/api/v1/managed?state=$1&limit=1000" "$A" >/dev/null && jq '.items | length' "$T/resp"; }
campaign_field() { api GET "/api/v1/campaigns/$1" "$A" >/dev/null && jq -r "$2" "$T/resp"; }

# --- 200 managed certificates under "issuing" -------------------------------------------------
N=200
BAD=(m198 m199 m200)
for i in $(seq -w 1 $N); do
  n=m$(printf '%03d' "$((10#$i))")
  verify=''
  [[ " ${BAD[*]} " == *" $n "* ]] && verify=",\"verify\":{\"endpoint\":\"127.0.0.1:$CLOSED_PORT\",\"timeout\":\"2s\"}"
  body="{\"name\":\"$n\",\"sans\":[\"$n.example.test\"],\"authority\":\"issuing\",\"validity\":\"30d\",\"targets\":[{\"name\":\"files\",\"kind\":\"files\",\"files\":{\"key\":\"$D/$n.key\",\"fullchain\":\"$D/$n.crt\"}$verify}]}"
  must 201 POST /api/v1/managed "$body"
done
wait_until 120 bash -c "[[ \$(curl -s --cacert '$T/root.pem' -H 'Authorization: Bearer $A' '$BASE/api/v1/managed?state=active&limit=1000' | jq '.items | length') == 197 ]]" ||
  fail "the 197 reachable managed certificates were not all issued and deployed"
wait_until 30 bash -c "[[ \$(curl -s --cacert '$T/root.pem' -H 'Authorization: Bearer $A' '$BASE/api/v1/managed?state=failed&limit=1000' | jq '.items | length') == 3 ]]" ||
  fail "the three unreachable ones did not fail"
declare -A OLD
api GET "/api/v1/managed?limit=1000" "$A" >/dev/null
while read -r name fp; do OLD[$name]=$fp; done < <(jq -r '.items[] | "\(.name) \(.fingerprint)"' "$T/resp")
assert_eq 200 "${#OLD[@]}" "200 managed certificates"
[[ ${OLD[m200]} != null ]] && pass || fail "an unreachable one has no certificate to replace"

# One certificate nobody manages, and the new CA.
must 201 POST /api/v1/certificates '{"profile":"tls-server","key_type":"ec-p256","common_name":"direct.example.test"}'
FP_DIRECT=$(jq -r .fingerprint "$T/resp")
must 201 POST /api/v1/authorities '{"name":"issuing-2","kind":"issuing","parent":"root","subject":"CN=certward Issuing CA 2,O=certward"}'

# --- Bad input: problem+json, nothing stored --------------------------------------------------
bad() {  # status code body message
  assert_eq "$1" "$(api POST /api/v1/campaigns "$A" "$3")" "$4"
  assert_eq "$2" "$(jq -r .code "$T/resp")" "$4: problem code"
}
bad 400 invalid_argument '{"selector":{}}' "empty selector"
bad 400 invalid_argument '{"target":{"authority":"issuing-2"}}' "no selector"
bad 404 not_found '{"selector":{"authority":"issuing"},"target":{"authority":"no-such-ca"}}' "unknown target authority"
bad 404 not_found '{"selector":{"authority":"no-such-ca"}}' "unknown selector authority"
bad 422 policy_rejected '{"selector":{"authority":"issuing"},"target":{"authority":"root"}}' "a root as target"
bad 400 invalid_argument '{"selector":{"authority":"issuing"},"wave_size":0}' "wave size 0"
bad 400 invalid_argument '{"selector":{"authority":"issuing"},"max_failures":-1}' "negative max_failures"
bad 400 malformed '{"selector":{"authority":"issuing"},"bogus":true}' "unknown member"
assert_eq 200 "$(api GET /api/v1/campaigns "$A")" "list"
assert_eq 0 "$(jq '.items | length' "$T/resp")" "nothing stored by bad requests"
assert_fails 3 invalid_argument "CLI plan without a selector" remote campaign plan --to-authority issuing-2

# --- The plan (dry run) ----------------------------------------------------------------------
remote campaign plan --authority issuing --search example.test --to-authority issuing-2 --dry-run >"$T/plan.txt" ||
  fail "CLI dry run"
grep -q '201 (200 managed, 1 not managed)' "$T/plan.txt" && pass || fail "dry run counts: $(head -8 "$T/plan.txt")"
assert_eq 200 "$(api POST /api/v1/campaigns "$A" '{"selector":{"authority":"issuing","search":"example.test"},"target":{"authority":"issuing-2"},"wave_size":50,"dry_run":true}')" "API dry run"
assert_eq "201 200 1 4" "$(jq -r '"\(.counts.total) \(.counts.managed) \(.counts.not_managed) \(.waves)"' "$T/resp")" "plan counts and waves"
assert_eq 1 "$(jq '[.items[] | select(.managed.name == "m001")][0].targets | length' "$T/resp")" "plan lists the targets"
assert_eq 0 "$(api GET /api/v1/campaigns "$A" >/dev/null; jq '.items | length' "$T/resp")" "a dry run stores nothing"
assert_eq issuing "$(api GET /api/v1/managed/m001 "$A" >/dev/null; jq -r .authority "$T/resp")" "a dry run changes nothing"

# --- Run ----------------------------------------------------------------------------------------
assert_eq 201 "$(api POST /api/v1/campaigns "$A" '{"name":"leave-issuing","selector":{"authority":"issuing","search":"example.test"},"target":{"authority":"issuing-2"},"wave_size":50,"item_timeout":"5m"}')" "plan stored"
ID=$(jq -r .id "$T/resp")
assert_eq planned "$(jq -r .state "$T/resp")" "planned"
remote campaign start "$ID" >/dev/null || fail "CLI start"
assert_eq 409 "$(api POST "/api/v1/campaigns/$ID/start" "$A")" "started twice"
started=$(date +%s)
seen_partial=0
for _ in $(seq 1 180); do
  state=$(campaign_field "$ID" .state)
  progress=$(jq -r '"wave \(.current_wave + 1)/\(.waves) done \(.counts.done) replacing \(.counts.replacing) pending \(.counts.pending) failed \(.counts.failed) not_managed \(.counts.not_managed)"' "$T/resp")
  echo "  campaign $state: $progress"
  done_now=$(jq .counts.done "$T/resp")
  ((done_now > 0 && done_now < 197)) && seen_partial=1
  [[ $state == completed ]] && break
  sleep 1
done
echo "  campaign ran $(($(date +%s) - started)) s"
assert_eq completed "$state" "the campaign completed"
[[ $seen_partial == 1 ]] && pass || fail "no progress was reported between start and end"
remote campaign status "$ID" >"$T/status.txt" || fail "CLI status"
grep -q 'done 197, pending 0, replacing 0, failed 3, not managed 1' "$T/status.txt" && pass ||
  fail "CLI status: $(cat "$T/status.txt")"

# The failures are listed, with their error.
assert_eq 200 "$(api GET "/api/v1/campaigns/$ID/items?state=failed" "$A")" "failed items"
assert_eq "m198 m199 m200" "$(jq -r '[.items[].managed.name] | sort | join(" ")' "$T/resp")" "the unreachable ones failed"
assert_eq 0 "$(jq '[.items[] | select(.error == "")] | length' "$T/resp")" "each failure has its error"
# The local CLI reads the same database the server writes.
cw campaign status "$ID" >"$T/local.txt" || fail "local CLI status"
grep -q 'failed 3' "$T/local.txt" && pass || fail "local CLI status: $(cat "$T/local.txt")"
cw campaign list | grep -q leave-issuing && pass || fail "local CLI list"
remote campaign items "$ID" --state failed >"$T/failed.txt" || fail "CLI items"
grep -q m199 "$T/failed.txt" && pass || fail "CLI items: $(cat "$T/failed.txt")"
# Paginated.
assert_eq 200 "$(api GET "/api/v1/campaigns/$ID/items?limit=150" "$A")" "items page 1"
assert_eq 150 "$(jq '.items | length' "$T/resp")" "page size"
CURSOR=$(jq -r .next_cursor "$T/resp")
assert_eq 200 "$(api GET "/api/v1/campaigns/$ID/items?limit=150&cursor=$CURSOR" "$A")" "items page 2"
assert_eq 51 "$(jq '.items | length' "$T/resp")" "second page"
assert_eq 400 "$(api GET "/api/v1/campaigns/$ID/items?state=bogus" "$A")" "bad item state"

# The 197 files hold a certificate of the new CA, the one the managed certificate names.
moved=0
for name in "${!OLD[@]}"; do
  [[ " ${BAD[*]} " == *" $name "* ]] && continue
  fp=$(file_fp "$D/$name.crt")
  if [[ $fp != "${OLD[$name]}" ]] && openssl x509 -in "$D/$name.crt" -noout -issuer | grep -q 'Issuing CA 2'; then
    moved=$((moved + 1))
  fi
done
assert_eq 197 "$moved" "deployed files moved to the new CA"
api GET /api/v1/managed/m001 "$A" >/dev/null
assert_eq issuing-2 "$(jq -r .authority "$T/resp")" "m001 now names the new CA"
assert_eq "$(jq -r .fingerprint "$T/resp")" "$(file_fp "$D/m001.crt")" "m001 served what it holds"
api GET /api/v1/managed/m001/timeline "$A" >/dev/null
assert_eq 2 "$(jq '[.items[] | select(.kind == "campaign")] | length' "$T/resp")" "timeline: started and replaced"

# The certificate nobody manages: its replacement is asked for now.
assert_eq 200 "$(api GET "/api/v1/certificates/$FP_DIRECT" "$A")" "direct certificate"
[[ "$(jq -r '.replace_by // empty' "$T/resp")" != "" ]] && pass || fail "replace_by not set: $(cat "$T/resp")"
assert_eq valid "$(jq -r .status "$T/resp")" "still valid until its client replaces it"
# ACME renewal information (RFC 9773) for it: a window in the past, renew at once.
curl -s --cacert "$T/root.pem" -H "Authorization: Bearer $A" "$BASE/api/v1/certificates/$FP_DIRECT/download" >"$T/direct.pem"
aki=$(openssl x509 -in "$T/direct.pem" -noout -ext authorityKeyIdentifier | grep -o '[0-9A-F][0-9A-F]\(:[0-9A-F][0-9A-F]\)\+' | head -1 | tr -d :)
serial=$(openssl x509 -in "$T/direct.pem" -noout -serial | cut -d= -f2)
CERT_ID=$(python3 -c '
import base64, sys
aki, serial = bytes.fromhex(sys.argv[1]), sys.argv[2]
serial = ("0" * (len(serial) % 2)) + serial
raw = bytes.fromhex(serial)
if raw[0] & 0x80: raw = b"\0" + raw
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
print(b(aki) + "." + b(raw))' "$aki" "$serial")
assert_eq 200 "$(curl -s -o "$T/ari" -w '%{http_code}' --cacert "$T/root.pem" "$BASE/acme/renewal-info/$CERT_ID")" "renewal info"
ARI_END=$(jq -r .suggestedWindow.end "$T/ari")
[[ $(date -d "$ARI_END" +%s) -lt $(date +%s) ]] && pass || fail "the ARI window is not in the past: $(cat "$T/ari")"

# --- Finish: revoke what was replaced --------------------------------------------------------
remote campaign finish "$ID" --revoke --reason cACompromise >/dev/null || fail "CLI finish"
wait_until 60 bash -c "[[ \$(curl -s --cacert '$T/root.pem' -H 'Authorization: Bearer $A' '$BASE/api/v1/campaigns/$ID' | jq -r .state) == finished ]]" ||
  fail "the campaign did not finish"
assert_eq 197 "$(campaign_field "$ID" .counts.revoked)" "197 revoked"
assert_eq cACompromise "$(campaign_field "$ID" .finish.reason)" "the finish names its reason"
assert_eq 200 "$(api GET "/api/v1/campaigns?limit=1000" "$A")" "campaigns"
assert_eq null "$(jq -r .next_before "$T/resp")" "a page shorter than asked for is the last"
revoked=0 kept=0
for name in "${!OLD[@]}"; do
  api GET "/api/v1/certificates/${OLD[$name]}" "$A" >/dev/null
  if [[ $(jq -r .status "$T/resp") == revoked ]]; then revoked=$((revoked + 1)); else kept=$((kept + 1)); fi
done
assert_eq "197 3" "$revoked $kept" "old certificates revoked, except those whose replacement failed"
api GET "/api/v1/certificates/${OLD[m001]}" "$A" >/dev/null
assert_eq cACompromise "$(jq -r .revocation_reason "$T/resp")" "the reason chosen"
api GET /api/v1/managed/m001 "$A" >/dev/null
NEW_M001=$(jq -r .fingerprint "$T/resp")
assert_eq 200 "$(api GET "/api/v1/certificates/$NEW_M001" "$A")" "new certificate"
[[ $(jq -r .status "$T/resp") != revoked ]] && pass || fail "the new certificate was revoked"
assert_eq valid "$(api GET "/api/v1/certificates/$FP_DIRECT" "$A" >/dev/null; jq -r .status "$T/resp")" "the unreplaced direct one is not revoked"
# The issuing CA's CRL lists them (published by the CRL job soon after).
crl_entries() { curl -s "$HTTP_BASE/crl/issuing.crl" | openssl crl -inform DER -noout -text 2>/dev/null | grep -c 'Serial Number' || true; }
wait_until 30 bash -c "[[ \$(curl -s '$HTTP_BASE/crl/issuing.crl' | openssl crl -inform DER -noout -text 2>/dev/null | grep -c 'Serial Number') -ge 197 ]]" ||
  fail "the CRL does not list the 197 ($(crl_entries))"
assert_eq 200 "$(api GET "/api/v1/audit/events?action=campaign.finished&limit=5" "$A")" "audit"
assert_eq 1 "$(jq '.items | length' "$T/resp")" "campaign.finished audited"
assert_eq 200 "$(api GET "/api/v1/audit/verify" "$A")" "audit verify"
assert_eq true "$(jq -r .ok "$T/resp")" "the audit chain verifies"
stop_server
finish
