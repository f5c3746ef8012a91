#!/usr/bin/env bash
# The web dashboard in Debian's chromium (headless, driven by playwright-core from web/'s npm
# packages) against a real `certward serve`: sign-in, the overview against the API's own
# counts, the inventory search and a certificate page, a certificate whose names are HTML and
# script shown as text with no script run, a requester who sees its team's certificates only,
# issuance from a CSR found in the inventory and revoked, a token shown once, the CA tree and
# the audit chain's verification, the Content-Security-Policy on every dashboard response with
# no violation logged, and a phone-sized window. Screenshots of each page go to $SCREENSHOTS (default:
# dashboard-screenshots/ in the directory the test runs in).
source "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || { echo "chromium is missing: run scripts/setup.sh" >&2; exit 1; }
command -v node >/dev/null || { echo "node is missing: run scripts/setup.sh" >&2; exit 1; }

start_server
A=$ADMIN_TOKEN

# A team with a requester, who issues one certificate of its own.
must 201 POST /api/v1/teams '{"name":"payments","allowed_profiles":["tls-server"],"allowed_domains":["payments.example.test"]}'
must 201 POST /api/v1/principals '{"name":"alice","role":"requester","team":"payments"}'
must 201 POST /api/v1/tokens '{"principal":"alice","ttl":"1d"}'
R=$(jq -r .token "$T/resp")
assert_eq 201 "$(api POST /api/v1/certificates "$R" '{"profile":"tls-server","key_type":"ec-p256","common_name":"www.payments.example.test"}')" "the requester issues"
requester_fp=$(jq -r '.fingerprint' "$T/resp")

# A certificate found in the wild whose subject and names are markup and script.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/hostile.key" \
  -days 30 -out "$T/hostile.pem" \
  -subj '/CN=pwned <script>window.__pwned=1<\/script>/O=<img src=x onerror=window.__pwned=2>' \
  -addext 'subjectAltName=DNS:<b>bold</b>.example,URI:javascript:window.__pwned=3,email:<svg onload=window.__pwned=4>@x.example' \
  2>"$T/openssl.err" || { cat "$T/openssl.err" >&2; exit 1; }
assert_eq 201 "$(api POST /api/v1/certificates/import "$A" "$(jq -nc --rawfile p "$T/hostile.pem" '{pem: $p}')")" "the hostile certificate is imported"
hostile_fp=$(openssl x509 -in "$T/hostile.pem" -outform DER | sha256sum | cut -d' ' -f1)
must 200 GET "/api/v1/certificates/$hostile_fp"
hostile_subject=$(jq -r .subject "$T/resp")
[[ $hostile_subject == *'<script'* ]] || { echo "the subject lost its markup: $hostile_subject" >&2; exit 1; }

# Two certificates for the inventory's bulk actions.
for n in 1 2; do
  must 201 POST /api/v1/certificates "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"b$n.bulk.example.test\"}"
done
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/app.key" \
  -subj /CN=app.example.test -addext subjectAltName=DNS:app.example.test -out "$T/app.csr" 2>/dev/null

# A name that reads backwards after a right-to-left override (U+202E).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/bidi.key" \
  -days 30 -utf8 -subj "/CN=bidi-$(printf '\xe2\x80\xae')moc.elpmaxe.www" -out "$T/bidi.pem" 2>/dev/null
assert_eq 201 "$(api POST /api/v1/certificates/import "$A" "$(jq -nc --rawfile p "$T/bidi.pem" '{pem: $p}')")" "the bidi certificate is imported"
bidi_fp=$(openssl x509 -in "$T/bidi.pem" -outform DER | sha256sum | cut -d' ' -f1)

# The dashboard's files answer HEAD as GET, with the same policy.
h=$(curl -s -I --cacert "$T/root.pem" "$BASE/" | tr -d '\r')
assert_eq 200 "$(sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' <<<"$h")" "HEAD / answers"
[[ $h == *"Content-Security-Policy: default-src 'self'"* ]] && pass || fail "HEAD / has no CSP: $h"

# A managed certificate, and a scan of one closed port, for the automation and discovery pages.
must 201 POST /api/v1/managed '{"name":"web1","common_name":"web1.example.test"}'
api POST /api/v1/discovery/scans "$A" '{"kind":"net","targets":["127.0.0.1"],"ports":"1"}' >/dev/null
# The inventory must be still when the totals are counted: the managed certificate issued.
for _ in $(seq 1 150); do
  api GET "/api/v1/managed?state=active" "$A" >/dev/null
  [[ $(jq '.items | length' "$T/resp") == 1 ]] && break
  sleep 0.2
done
assert_eq 1 "$(jq '.items | length' "$T/resp")" "the managed certificate is issued"

total() {  # token
  api GET /api/v1/reports/summary "$1" >/dev/null
  jq -r '.sections.totals[0].certificates' "$T/resp"
}
admin_total=$(total "$A")
requester_total=$(total "$R")
assert_eq 1 "$requester_total" "the requester's own count (API)"

if BASE=$BASE ADMIN_TOKEN=$A REQUESTER_TOKEN=$R ADMIN_TOTAL=$admin_total \
  REQUESTER_TOTAL=$requester_total HOSTILE_FP=$hostile_fp HOSTILE_SUBJECT=$hostile_subject \
  REQUESTER_FP=$requester_fp CSR_FILE=$T/app.csr BIDI_FP=$bidi_fp \
  SHOTS=${SCREENSHOTS:-$PWD/dashboard-screenshots} \
  node "$(dirname "$0")/../e2e/dashboard.mjs" >"$T/browser.out" 2>&1; then
  pass
else
  fail "browser checks: $(grep -v '^ok\|^time' "$T/browser.out" | head -20)"
fi
cat "$T/browser.out"
finish
