#!/usr/bin/env bash
# certward as the ACME client of another certward (the upstream CA), on 127.0.0.1: a profile
# whose issuer is the other certward's ACME directory, asking for one of its ACME profiles
# (draft-ietf-acme-profiles); a managed certificate issued through it
# with http-01 (the upstream's validator dials this certward's plain-HTTP listener, names
# resolved by Knot) and recorded here as upstream; then the upstream asks for its replacement
# (a replacement of everything from its issuing CA, which moves its ACME renewal information
# window into the past, RFC 9773) and this certward renews the certificate for that reason,
# long before its own renew_before.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/acme_lib.sh"
start_dns

# ---- the upstream: certward's ACME server, validating http-01 on our plain-HTTP port --------
read -r B_HTTP TLSALPN_PORT <<<"$(free_ports 2)"
HTTP01_PORT=$B_HTTP acme_config 'profiles = ["tls-server", "short-tls"]' 'default_profile = "tls-server"'
printf '[profiles.short-tls]\ndefault_validity = "30d"\nmax_validity = "30d"\n' >>"$T/certward.toml"
mv "$T/certward.toml" "$T/upstream.toml"
U_DATA=$T/upstream-data
env CERTWARD_DATA_DIR="$U_DATA" CERTWARD_CONFIG="$T/upstream.toml" CERTWARD_LISTEN=127.0.0.1:0 \
  CERTWARD_HTTP_LISTEN=127.0.0.1:0 "$CERTWARD_BIN" serve >"$T/upstream.out" 2>"$T/upstream.err" &
U_PID=$!
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $U_PID"
wait_until 20 grep -q '^  plain HTTP' "$T/upstream.out" ||
  { echo "the upstream certward did not start: $(cat "$T/upstream.err")" >&2; exit 1; }
U_BASE=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$T/upstream.out")
U_TOKEN=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$T/upstream.out" | head -1)
CERTWARD_CONFIG=$T/upstream.toml "$CERTWARD_BIN" -d "$U_DATA" ca export root >"$T/upstream-root.pem"
upstream_api() {  # METHOD PATH [BODY] -> status; body in $T/uresp
  local args=(-s -o "$T/uresp" -w '%{http_code}' --cacert "$T/upstream-root.pem" -X "$1"
    -H "Authorization: Bearer $U_TOKEN")
  [[ -n ${3:-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "$U_BASE$2"
}

# ---- this certward, with the upstream as an issuer ---------------------------------------------
cat >"$T/certward.toml" <<CONF
[issuers.upstream-certward]
type = "acme"
directory = "$U_BASE/acme/directory"
ca_file = "$T/upstream-root.pem"
trust_anchors = "$T/upstream-root.pem"
contact = ["mailto:pki@$ZONE"]
profile = "short-tls"
timeout = "10s"
order_timeout = "60s"

[profiles.from-upstream]
allowed_domains = ["$ZONE"]
issuers = ["upstream-certward"]
CONF
export CERTWARD_CONFIG=$T/certward.toml
start_server CERTWARD_HTTP_LISTEN=127.0.0.1:$B_HTTP
A=$ADMIN_TOKEN

assert_eq 200 "$(api POST /api/v1/issuers/upstream-certward/check "$A")" "the upstream answers"
assert_eq "ok|true" "$(jq -r '.health.state + "|" + (.supports.renewal_info | tostring)' "$T/resp")" \
  "healthy, and it tells when to renew"

cw managed create ari --san "ari.$ZONE" --profile from-upstream --validity 30d >/dev/null &&
  pass || fail "managed create through the profile's issuer"
fp1=$(managed_next_fp ari) && pass || fail "issued through the upstream: $(cw managed show ari 2>&1 | tail -3)"
assert_eq "upstream|upstream-certward" \
  "$(db_scalar "SELECT origin || '|' || authority FROM certificates WHERE fingerprint = '$fp1'")" \
  "recorded here as upstream, under the issuer's name"
assert_eq "issued|short-tls" "$(sqlite3 "$U_DATA/certward.db" "SELECT origin || '|' || profile FROM certificates WHERE fingerprint = '$fp1'")" \
  "and at the upstream as its own issuance, with the ACME profile asked for"
cw --json managed show ari >"$T/m.json"
renew_at=$(jq -r .renew_at "$T/m.json")
[[ $(date -d "$renew_at" +%s) -gt $(($(date +%s) + 15 * 86400)) ]] && pass ||
  fail "its own renewal is weeks away: $renew_at"

# ---- the upstream asks for every certificate of its issuing CA to be replaced ------------------
assert_eq 200 "$(upstream_api POST /api/v1/certificates/revoke '{"authority":"issuing","replace_only":true,"dry_run":true}')" \
  "upstream: a dry run of the replacement"
count=$(jq -r .matched "$T/uresp")
assert_eq 200 "$(upstream_api POST /api/v1/certificates/revoke "{\"authority\":\"issuing\",\"replace_only\":true,\"expected_count\":$count}")" \
  "upstream: replace everything from its issuing CA"

# Any change wakes the reconciler, which asks the upstream's renewal information.
must_patch=$(api PATCH "/api/v1/managed/$(jq -r .id "$T/m.json")" "$A" '{"tags":["ari"]}')
assert_eq 200 "$must_patch" "a label change (no reissue by itself)"
fp2=$(managed_next_fp ari "$fp1") && pass || fail "renewed because the upstream asked: $(cw managed show ari 2>&1 | tail -5)"
assert_eq "$fp2" "$(db_scalar "SELECT superseded_by FROM certificates WHERE fingerprint = '$fp1'")" \
  "the new certificate supersedes the old"
api GET "/api/v1/managed/$(jq -r .id "$T/m.json")/timeline" "$A" >/dev/null
assert_eq 1 "$(jq '[.items[] | select(.kind == "renewed" and .detail.reason == "renewal_info")] | length' "$T/resp")" \
  "the timeline says why: renewal_info"

cw audit verify >/dev/null && pass || fail "the audit chain verifies"
finish
