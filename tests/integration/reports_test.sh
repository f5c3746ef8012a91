#!/usr/bin/env bash
# Reports against a real server: certificates issued here (RSA and EC; one managed, the others
# not), imported from an outside CA (one with a hostile subject, one tagged as renewed by
# outside automation) and an SSH key an agent found. Every report kind in every format through
# the API and the CLI (client and local mode), with the counts expected; team scoping; the
# CBOM validated against the official CycloneDX 1.6 JSON schema (tests/schemas, npm); the HTML
# report escaped and rendered by headless Chromium, whose screenshot path is printed.
source "$(dirname "$0")/lib.sh"

SRC=${CERTWARD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
start_server
A=$ADMIN_TOKEN
remote() { env CERTWARD_TOKEN="$1" CERTWARD_SERVER="$BASE" CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" "${@:2}"; }
# get PATH TOKEN -> status; body in $T/resp, headers in $T/headers.
get() { curl -s -o "$T/resp" -D "$T/headers" -w '%{http_code}' --cacert "$T/root.pem" -H "Authorization: Bearer $2" "$BASE$1"; }
header() { grep -i "^$1:" "$T/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

must 201 POST /api/v1/teams '{"name":"web","allowed_profiles":["tls-server"],"allowed_domains":["web.example.test"]}'
must 201 POST /api/v1/teams '{"name":"ops","allowed_profiles":["tls-server"],"allowed_domains":["ops.example.test"]}'
for who in wendy:web oscar:ops; do
  must 201 POST /api/v1/principals "{\"name\":\"${who%%:*}\",\"role\":\"requester\",\"team\":\"${who#*:}\"}"
  must 201 POST /api/v1/tokens "{\"principal\":\"${who%%:*}\",\"ttl\":\"1d\"}"
  declare "TOKEN_${who%%:*}=$(jq -r .token "$T/resp")"
done
W=$TOKEN_wendy

# The web team's five certificates:
# 1. RSA-2048 issued here for 365 days, nobody renews it: breaks under 200, 100 and 47 days.
must 201 POST /api/v1/certificates '{"profile":"tls-server","key_type":"rsa-2048","common_name":"rsa.web.example.test","validity":"365d","team":"web","owner":"alice"}'
FP_RSA=$(jq -r .fingerprint "$T/resp")
# 2. EC P-256 issued here for 90 days, nobody renews it: breaks under 47 days only.
must 201 POST /api/v1/certificates '{"profile":"tls-server","key_type":"ec-p256","common_name":"ec.web.example.test","validity":"90d","team":"web"}'
FP_EC=$(jq -r .fingerprint "$T/resp")
# 3. A managed certificate (EC P-256, 90 days): the reconciler renews it.
must 201 POST /api/v1/managed '{"name":"m1","sans":["m1.web.example.test"],"team":"web","validity":"90d"}'
wait_until 60 bash -c "curl -s --cacert '$T/root.pem' -H 'Authorization: Bearer $A' '$BASE/api/v1/managed/m1' | jq -e '.fingerprint != null' >/dev/null" ||
  { echo "the managed certificate was not issued" >&2; exit 1; }
must 200 GET /api/v1/managed/m1
FP_MANAGED=$(jq -r .fingerprint "$T/resp")
# 4. From an outside CA: RSA-2048 with a hostile subject, expiring in 10 days.
# 5. From the same CA: EC P-256 for 120 days, tagged as renewed by outside automation.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ext-ca.key" -subj "/CN=Outside CA" \
  -days 60 -addext basicConstraints=critical,CA:TRUE -out "$T/ext-ca.pem" 2>/dev/null
HOSTILE="<script>alert(1)<\\/script>\"'&"
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/evil.key" -subj "/CN=evil.web.example.test/O=$HOSTILE" \
  -out "$T/evil.csr" 2>/dev/null
openssl x509 -req -in "$T/evil.csr" -CA "$T/ext-ca.pem" -CAkey "$T/ext-ca.key" -CAcreateserial -days 10 \
  -out "$T/evil.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/auto.key" \
  -subj "/CN=auto.web.example.test" -out "$T/auto.csr" 2>/dev/null
openssl x509 -req -in "$T/auto.csr" -CA "$T/ext-ca.pem" -CAkey "$T/ext-ca.key" -CAcreateserial -days 120 \
  -out "$T/auto.pem" 2>/dev/null
fp_of() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
FP_EVIL=$(fp_of "$T/evil.pem")
FP_AUTO=$(fp_of "$T/auto.pem")
must 201 POST /api/v1/certificates/import "$(jq -n --rawfile a "$T/evil.pem" '{pem: $a, team: "web"}')"
must 201 POST /api/v1/certificates/import "$(jq -n --rawfile a "$T/auto.pem" '{pem: $a, team: "web", tags: ["automated"]}')"
# One certificate of another team, which no web report may show.
must 201 POST /api/v1/certificates '{"profile":"tls-server","key_type":"ec-p256","common_name":"www.ops.example.test","team":"ops"}'
FP_OPS=$(jq -r .fingerprint "$T/resp")
# An SSH key an agent found.
ssh-keygen -q -t ed25519 -N '' -f "$T/id_ed25519" >/dev/null
SSH_BLOB=$(cut -d' ' -f2 "$T/id_ed25519.pub")
must 201 POST /api/v1/discovery/agent-reports "$(jq -nc --arg b "$SSH_BLOB" '{host: "host1", roots: ["/srv"], final: true, observations: [{path: "/srv/id_ed25519.pub", ssh_keys: [{blob: $b}]}]}')"
# A rule two web certificates break (after issuance, which it would have refused).
must 201 POST /api/v1/policy/rules '{"id":"rsa-3072","kind":"min_key_size","min_bits":{"rsa":3072},"teams":["web"]}'

web_report() { get "/api/v1/reports/$1?team=web${2:+&$2}" "$A"; }

# Summary.
assert_eq 200 "$(web_report summary)" "summary (json)"
assert_eq application/json "$(header content-type)" "summary content type"
assert_eq 5 "$(jq '.sections.totals[0].certificates' "$T/resp")" "web has five certificates"
assert_eq 2 "$(jq '.sections.counts[] | select(.dimension == "algorithm" and .value == "RSA-2048") | .count' "$T/resp")" "two RSA-2048"
assert_eq 3 "$(jq '.sections.counts[] | select(.dimension == "algorithm" and .value == "ECDSA-P-256") | .count' "$T/resp")" "three ECDSA-P-256"
assert_eq "issued=3 imported=2" "$(jq -r '[.sections.counts[] | select(.dimension == "origin") | "\(.value)=\(.count)"] | join(" ")' "$T/resp")" "by origin"
assert_eq 1 "$(jq '.sections.counts[] | select(.dimension == "owner" and .value == "alice") | .count' "$T/resp")" "by owner"
assert_eq 1 "$(jq '.sections.counts[] | select(.dimension == "status" and .value == "expiring") | .count' "$T/resp")" "by status"
assert_eq 2 "$(jq '.sections.counts[] | select(.dimension == "issuer" and .value == "CN=Outside CA") | .count' "$T/resp")" "by issuer"
assert_eq 200 "$(get /api/v1/reports/summary "$A")" "whole-inventory summary"
all=$(jq '.sections.totals[0].certificates' "$T/resp")
[[ $all -ge 6 ]] && pass || fail "the whole inventory has the ops certificate too: $all"

# Expiring: the 10-day one within 30 days; the 90-day ones join within 100 days.
assert_eq 200 "$(web_report expiring)" "expiring (json)"
assert_eq "$FP_EVIL" "$(jq -r '[.sections.certificates[].fingerprint] | join(" ")' "$T/resp")" "expiring in 30 days"
assert_eq 200 "$(web_report expiring window=100d)" "expiring in 100 days"
assert_eq 3 "$(jq '.sections.certificates | length' "$T/resp")" "three within 100 days"
assert_eq managed "$(jq -r ".sections.certificates[] | select(.fingerprint == \"$FP_MANAGED\") | .renewal" "$T/resp")" "the managed one renews itself"
assert_eq 400 "$(web_report expiring window=0d)" "a zero window"
assert_eq 400 "$(web_report expiring window=soon)" "a window that is no duration"
assert_eq 400 "$(web_report summary window=30d)" "a window on a report without one"

# Violations.
assert_eq 200 "$(web_report violations)" "violations (json)"
assert_eq "$(printf '%s\n' "$FP_RSA" "$FP_EVIL" | sort | tr '\n' ' ')" "$(jq -r '.sections.violations[].subject_id' "$T/resp" | sort | tr '\n' ' ')" "both RSA-2048 break rsa-3072"

# Posture.
assert_eq 200 "$(web_report posture)" "posture (json)"
assert_eq "5 5 2 3 0" "$(jq -r '.sections.totals[0] | "\(.certificates) \(.quantum_vulnerable) \(.renewed_automatically) \(.needs_person) \(.ssh_keys)"' "$T/resp")" "web posture totals"
assert_eq "RSA-2048:2:yes ECDSA-P-256:3:yes" "$(jq -r '[.sections.algorithms[] | "\(.algorithm):\(.certificates):\(.quantum_vulnerable)"] | sort | reverse | join(" ")' "$T/resp")" "by algorithm"
assert_eq 200 "$(get /api/v1/reports/posture "$A")" "whole-inventory posture"
assert_eq 1 "$(jq '.sections.totals[0].ssh_keys' "$T/resp")" "the SSH key counted"
assert_eq "1 1" "$(jq -r '.sections.algorithms[] | select(.algorithm == "Ed25519") | "\(.ssh_keys) \(.needs_person)"' "$T/resp")" "an SSH key needs a person"

# Lifetimes.
assert_eq 200 "$(web_report lifetimes)" "lifetimes (json)"
assert_eq "5 2 3 1 1 2" "$(jq -r '.sections.teams[] | select(.team == "web") | "\(.certificates) \(.automated) \(.manual) \(.breaking_200d) \(.breaking_100d) \(.breaking_47d)"' "$T/resp")" "web under 200/100/47 days"
assert_eq "$(printf '%s\n' "$FP_RSA" "$FP_EC" | sort | tr '\n' ' ')" "$(jq -r '.sections.breaking[].fingerprint' "$T/resp" | sort | tr '\n' ' ')" "the two manual long-lived ones break"
assert_eq "200d, 100d, 47d" "$(jq -r ".sections.breaking[] | select(.fingerprint == \"$FP_RSA\") | .breaks_under" "$T/resp")" "the 365-day one breaks under every rule"
more=$(jq -r '.sections.teams[] | select(.team == "web") | (.renewals_per_month_47d > .renewals_per_month_200d and .renewals_per_month_200d >= .renewals_per_month_today * 0.99)' "$T/resp")
assert_eq true "$more" "shorter lifetimes, more renewals"

# CSV: RFC 4180, formula cells defused, a download.
assert_eq 200 "$(web_report summary format=csv)" "summary (csv)"
assert_eq "text/csv; charset=utf-8; header=present" "$(header content-type)" "CSV content type"
[[ $(header content-disposition) == 'attachment; filename="certward-summary-'*'.csv"' ]] && pass || fail "CSV download name: $(header content-disposition)"
head -1 "$T/resp" | grep -q $'^certificates\r$' && pass || fail "CSV starts with the totals header: $(head -1 "$T/resp" | od -c | head -2)"
python3 - "$T/resp" <<'PY' && pass || fail "CSV parses as RFC 4180 with the counts"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
assert rows[0] == ['certificates'] and rows[1] == ['5'], rows[:2]
counts = {(r[0], r[1]): r[2] for r in rows[3:] if len(r) == 3}
assert counts[('algorithm', 'RSA-2048')] == '2', counts
PY
assert_eq 200 "$(web_report expiring format=csv)" "expiring (csv)"
python3 - "$T/resp" "$FP_EVIL" <<'PY' && pass || fail "CSV quotes the hostile subject: $(cat "$T/resp")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
row = next(r for r in rows if r['fingerprint'] == sys.argv[2])
assert 'script' in row['subject'] and '"' in row['subject'] and "'&" in row['subject'], row
PY
for kind in violations posture lifetimes; do
  assert_eq 200 "$(web_report $kind format=csv)" "$kind (csv)"
  [[ $(head -c 200 "$T/resp") == *,* ]] && pass || fail "$kind CSV has a header"
done
assert_eq 200 "$(web_report lifetimes format=csv)" "lifetimes (csv)"
assert_eq 2 "$(python3 -c 'import csv,sys; t=open(sys.argv[1],newline="").read().split("\r\n\r\n"); print(len(list(csv.reader(t[1].splitlines())))-1)' "$T/resp")" "CSV: the breaking section has two rows"

# HTML: one page, values escaped, nothing loaded.
for kind in expiring violations summary posture lifetimes; do
  assert_eq 200 "$(web_report $kind format=html)" "$kind (html)"
  assert_eq "text/html; charset=utf-8" "$(header content-type)" "$kind HTML content type"
  grep -qi '<script\|<link\|src=\|href=' "$T/resp" && fail "$kind HTML loads or runs something" || pass
done
assert_eq 200 "$(web_report expiring format=html)" "expiring (html)"
cp "$T/resp" "$T/expiring.html"
# The subject as the inventory keeps it (RFC 4514 escapes \< \> \"), then escaped for HTML.
grep -qF 'O=\&lt;script\&gt;alert(1)\&lt;/script\&gt;\&quot;&#39;&amp;' "$T/expiring.html" && pass ||
  fail "the hostile subject is escaped: $(grep -o 'O=[^<]*' "$T/expiring.html" | head -1)"
[[ $(header content-security-policy) == "default-src 'none'; style-src 'unsafe-inline'" ]] && pass || fail "HTML CSP header"

# Table.
assert_eq 200 "$(web_report posture format=table)" "posture (table)"
grep -q '^RSA-2048 ' "$T/resp" && pass || fail "table lists RSA-2048: $(cat "$T/resp")"

# CBOM: CycloneDX 1.6, valid against the official schema.
assert_eq 200 "$(get /api/v1/reports/cbom "$A")" "cbom"
assert_eq "application/vnd.cyclonedx+json; version=1.6" "$(header content-type)" "CBOM content type"
[[ $(header content-disposition) == 'attachment; filename="certward-cbom-'*'.cdx.json"' ]] && pass || fail "CBOM download name"
cp "$T/resp" "$T/cbom.json"
assert_eq "CycloneDX 1.6 1" "$(jq -r '"\(.bomFormat) \(.specVersion) \(.version)"' "$T/cbom.json")" "CBOM header"
jq -e '.serialNumber | test("^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")' "$T/cbom.json" >/dev/null && pass || fail "serial number"
for fp in "$FP_RSA" "$FP_EC" "$FP_MANAGED" "$FP_EVIL" "$FP_AUTO" "$FP_OPS"; do
  jq -e --arg r "crypto/certificate/$fp" '[.components[] | select(."bom-ref" == $r)] | length == 1' "$T/cbom.json" >/dev/null && pass || fail "CBOM lists $fp"
done
assert_eq 1 "$(jq '[.components[] | select(.cryptoProperties.relatedCryptoMaterialProperties.format == "SSH")] | length' "$T/cbom.json")" "CBOM lists the SSH key"
assert_eq 0 "$(jq '[.components[] | select(.cryptoProperties.assetType == "algorithm" and .name == "RSA-2048") | .cryptoProperties.algorithmProperties.nistQuantumSecurityLevel] | first' "$T/cbom.json")" "RSA: no quantum security"
ref=$(jq -r --arg r "crypto/certificate/$FP_RSA" '.components[] | select(."bom-ref" == $r) | .cryptoProperties.certificateProperties.subjectPublicKeyRef' "$T/cbom.json")
assert_eq "crypto/algorithm/RSA-2048" "$(jq -r --arg r "$ref" '.dependencies[] | select(.ref == $r) | .dependsOn[0]' "$T/cbom.json")" "certificate → key → algorithm"
VALIDATOR="$SRC/tests/schemas/validate_cbom.py"
if [[ ! -f $SRC/tests/schemas/node_modules/@cyclonedx/cyclonedx-library/res/schema/bom-1.6.SNAPSHOT.schema.json ]]; then
  fail "the CycloneDX schema is not installed: run scripts/setup.sh (npm ci in tests/schemas)"
else
  /usr/bin/python3 "$VALIDATOR" "$T/cbom.json" && pass || fail "the CBOM is not valid CycloneDX 1.6"
  # The validator refuses what is not: a broken field must fail it.
  jq '.components[0].cryptoProperties.assetType = "certificat"' "$T/cbom.json" >"$T/broken.json"
  /usr/bin/python3 "$VALIDATOR" "$T/broken.json" 2>/dev/null && fail "a broken CBOM passed the schema" || pass
  assert_eq 200 "$(web_report cbom)" "web cbom"
  cp "$T/resp" "$T/cbom-web.json"
  /usr/bin/python3 "$VALIDATOR" "$T/cbom-web.json" >/dev/null && pass || fail "the web CBOM is not valid"
  assert_eq 5 "$(jq '[.components[] | select(.cryptoProperties.assetType == "certificate")] | length' "$T/cbom-web.json")" "web CBOM: five certificates"
fi
assert_eq 400 "$(get '/api/v1/reports/cbom?format=html' "$A")" "a CBOM is not HTML"
assert_eq 400 "$(get '/api/v1/reports/summary?format=cbom' "$A")" "a summary is not a CBOM"
assert_eq 400 "$(get '/api/v1/reports/summary?format=xlsx' "$A")" "an unknown format"
assert_eq 400 "$(get '/api/v1/reports/summary?colour=red' "$A")" "an unknown parameter"
assert_eq 404 "$(get /api/v1/reports/everything "$A")" "an unknown report"

# Team scoping: a requester sees its own team's, whatever it asks.
assert_eq 200 "$(get /api/v1/reports/summary "$W")" "web requester summary"
assert_eq 5 "$(jq '.sections.totals[0].certificates' "$T/resp")" "web requester: five"
assert_eq 200 "$(get /api/v1/reports/cbom "$W")" "web requester cbom"
jq -e --arg r "crypto/certificate/$FP_OPS" '[.components[] | select(."bom-ref" == $r)] | length == 0' "$T/resp" >/dev/null && pass || fail "web's CBOM holds no ops certificate"
assert_eq 403 "$(get '/api/v1/reports/summary?team=ops' "$W")" "web requester asks for ops"
assert_eq 200 "$(get /api/v1/reports/posture "$TOKEN_oscar")" "ops requester posture"
assert_eq 1 "$(jq '.sections.totals[0].certificates' "$T/resp")" "ops sees its one"
assert_eq 401 "$(get /api/v1/reports/summary "")" "no token"

# The CLI, client mode and local mode.
remote "$A" report posture --team web >"$T/cli.txt"
grep -q '^RSA-2048 ' "$T/cli.txt" && pass || fail "CLI (client) table: $(cat "$T/cli.txt")"
remote "$A" report summary --team web --format json --output "$T/cli.json"
assert_eq 5 "$(jq '.sections.totals[0].certificates' "$T/cli.json")" "CLI (client) JSON to a file"
remote "$W" report cbom --output "$T/cli-cbom.json"
assert_eq 5 "$(jq '[.components[] | select(.cryptoProperties.assetType == "certificate")] | length' "$T/cli-cbom.json")" "CLI (client) CBOM as a requester"
cw report lifetimes --team web --format csv --output "$T/local.csv"
grep -q "^web,5,2,3," "$T/local.csv" && pass || fail "CLI (local) lifetimes CSV: $(head -3 "$T/local.csv")"
cw --json report expiring --team web >"$T/local.json"
assert_eq "$FP_EVIL" "$(jq -r '.sections.certificates[0].fingerprint' "$T/local.json")" "CLI (local) --json"
cw report cbom --output "$T/local-cbom.json"
[[ -f $SRC/tests/schemas/node_modules/@cyclonedx/cyclonedx-library/res/schema/bom-1.6.SNAPSHOT.schema.json ]] &&
  { /usr/bin/python3 "$VALIDATOR" "$T/local-cbom.json" >/dev/null && pass || fail "the local CBOM is not valid"; }
cw report posture --format html --output "$T/posture.html"
grep -q '<h1>Crypto posture</h1>' "$T/posture.html" && pass || fail "CLI (local) HTML"
assert_fails 3 invalid_argument "an unknown format" cw report posture --format xlsx
assert_fails 3 invalid_argument "a CBOM as CSV" cw report cbom --format csv
assert_fails 3 malformed "a negative window" cw report expiring --window -5d
assert_exit 2 "an unknown report" cw report everything
assert_exit 2 "an unknown flag" cw report summary --colour red
assert_fails 6 unauthorized "a requester asks for another team (CLI)" remote "$W" report summary --team ops
[[ ! -e $T/none.csv ]] && pass || fail "a failed report leaves no file"

# Headless Chromium renders the HTML report; the screenshot is kept for the test's output.
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $CHROMIUM ]]; then
  echo "SKIP: chromium is not installed (scripts/setup.sh installs Debian's); the HTML report was not rendered"
else
  assert_eq 200 "$(web_report posture format=html)" "posture (html) for the screenshot"
  cp "$T/resp" "$T/posture-web.html"
  SHOTS=${CERTWARD_TEST_ARTIFACTS:-${TMPDIR:-/tmp}/certward-test-artifacts}
  mkdir -p "$SHOTS"
  for page in posture-web expiring; do
    shot="$SHOTS/reports-$page.png"
    rm -f "$shot"
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
      --no-first-run --user-data-dir="$T/chromium" --screenshot="$shot" --window-size=1280,2000 \
      "file://$T/$page.html" >"$T/chromium.out" 2>&1 || true
    size=$(stat -c %s "$shot" 2>/dev/null || echo 0)
    if [[ $size -gt 10000 ]] && [[ $(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; then
      pass
      echo "screenshot of the $page report: $shot ($size bytes)"
    else
      fail "chromium rendered no screenshot of $page ($size bytes): $(tail -5 "$T/chromium.out")"
    fi
  done
fi

stop_server
finish
