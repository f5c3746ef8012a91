#!/usr/bin/env bash
# Certificates as they are found in the wild, with extensions certward's strict parser refuses,
# generated here with openssl: a duplicated extension (two subjectAltName), an unparseable
# certificatePolicies (DER that is not PolicyInformation), unusual SAN types (otherName,
# registeredID) and an unknown critical extension. Each must be imported by `cert import` and
# found by `scan files`, each with its oddity, and agree with `openssl x509` on fingerprint,
# serial, notBefore and notAfter. Bytes that are not a certificate are refused by import with
# one line on stderr, a non-zero exit, and nothing changed.
source "$(dirname "$0")/lib.sh"

O=$T/odd
mkdir -p "$O/files"
o() { openssl "$@" 2>>"$T/openssl.err" >/dev/null; }
o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$O/k.pem"
o req -x509 -new -key "$O/k.pem" -subj "/CN=Odd Root" -days 365 -out "$O/root.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
o req -new -key "$O/k.pem" -subj "/CN=odd.example.test" -out "$O/leaf.csr"
leaf() {  # name extfile-content
  printf '%s\n' "$2" >"$O/$1.ext"
  o x509 -req -in "$O/leaf.csr" -CA "$O/root.pem" -CAkey "$O/k.pem" -days 365 \
    -extfile "$O/$1.ext" -out "$O/files/$1.pem" || fail "openssl could not make $1"
}
leaf policy 'certificatePolicies=DER:020105'
leaf othername 'subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@odd.example.test'
leaf regid 'subjectAltName=RID:1.2.3.4'
leaf critical '1.3.6.1.4.1.55555.9=critical,DER:0500'
# openssl's configuration keeps one value per extension name, so the duplicate is made by
# renaming issuerAltName (2.5.29.18) to subjectAltName (2.5.29.17) in the to-be-signed bytes
# and signing them again with openssl: two subjectAltName extensions, a valid signature.
leaf twonames $'subjectAltName=DNS:a.odd.example.test\nissuerAltName=DNS:b.odd.example.test'
o x509 -in "$O/files/twonames.pem" -outform DER -out "$O/twonames.der"
python3 - "$O" <<'EOF'
import sys
d = sys.argv[1]
der = open(d + "/twonames.der", "rb").read()
def tlv(b, i):  # -> (start of contents, end)
    n = b[i + 1]
    if n < 0x80:
        return i + 2, i + 2 + n
    k = n & 0x7F
    return i + 2 + k, i + 2 + k + int.from_bytes(b[i + 2:i + 2 + k], "big")
_, end = tlv(der, 0)
body_start, _ = tlv(der, 0)
tbs_start = body_start
_, tbs_end = tlv(der, tbs_start)
_, alg_end = tlv(der, tbs_end)
tbs = der[tbs_start:tbs_end]
assert tbs.count(b"\x06\x03\x55\x1d\x12") == 1
open(d + "/dup.tbs", "wb").write(tbs.replace(b"\x06\x03\x55\x1d\x12", b"\x06\x03\x55\x1d\x11"))
open(d + "/dup.alg", "wb").write(der[tbs_end:alg_end])
EOF
openssl dgst -sha256 -sign "$O/k.pem" -out "$O/dup.sig" "$O/dup.tbs"
python3 - "$O" <<'EOF'
import sys
d = sys.argv[1]
def seq(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body
tbs = open(d + "/dup.tbs", "rb").read()
alg = open(d + "/dup.alg", "rb").read()
sig = open(d + "/dup.sig", "rb").read()
open(d + "/duplicate.der", "wb").write(seq(0x30, tbs + alg + seq(0x03, b"\x00" + sig)))
EOF
rm "$O/files/twonames.pem"
openssl x509 -inform DER -in "$O/duplicate.der" -out "$O/files/duplicate.pem"
assert_eq 2 "$(openssl asn1parse -inform DER -in "$O/duplicate.der" | grep -c 'X509v3 Subject Alternative Name')" "the certificate has two subjectAltName extensions"
openssl x509 -in "$O/root.pem" -noout -pubkey >"$O/root.pub"
openssl dgst -sha256 -verify "$O/root.pub" -signature "$O/dup.sig" "$O/dup.tbs" >/dev/null && pass || fail "its signature is valid"

# name -> the oddity certward must note (code detail).
declare -A oddity=(
  [duplicate]="duplicate_extension 2.5.29.17"
  [policy]="malformed_extension undecodable 2.5.29.32 extension"
  [othername]="unusual_san othername:1.3.6.1.4.1.311.20.2.3:user@odd.example.test"
  [regid]="unusual_san RID:1.2.3.4"
  [critical]="unknown_critical_extension 1.3.6.1.4.1.55555.9"
)
# A certificate's oddity as a finding in a scan report: code and severity.
declare -A severity=([duplicate]=low [policy]=low [othername]=info [regid]=info [critical]=low)

# openssl's view: "sha256 serial notBefore notAfter".
openssl_view() {
  local out
  out=$(openssl x509 -in "$1" -noout -fingerprint -sha256 -serial -startdate -enddate \
    -dateopt iso_8601) || return 1
  echo "$(sed -n 's/^sha256 Fingerprint=//Ip' <<<"$out" | tr -d ':' | tr 'A-F' 'a-f')" \
    "$(sed -n 's/^serial=//p' <<<"$out" | tr 'A-F' 'a-f')" \
    "$(sed -n 's/^notBefore=//p' <<<"$out" | tr ' ' 'T')" \
    "$(sed -n 's/^notAfter=//p' <<<"$out" | tr ' ' 'T')"
}
certward_view() {  # fingerprint -> "sha256 serial notBefore notAfter|code detail;..."
  cw cert show "$1" --json |
    jq -r '"\(.certificate.sha256) \(.certificate.serial) \(.certificate.not_before) \(.certificate.not_after)|" + ([.oddities[] | "\(.code) \(.detail)"] | join(";"))'
}

# --- cert import ----------------------------------------------------------------------------
export CERTWARD_DATA_DIR=$T/import-data
cw init >/dev/null
for name in "${!oddity[@]}"; do
  f=$O/files/$name.pem
  want=$(openssl_view "$f") || { fail "$name: openssl cannot read it"; continue; }
  [[ ${#want} -gt 100 ]] || fail "$name: openssl view '$want'"
  assert_eq "imported 1, already present 0, failed 0" "$(cw cert import "$f" 2>&1)" "$name: cert import"
  assert_eq "$want|${oddity[$name]}" "$(certward_view "${want%% *}")" "$name: imported, agrees with openssl, with its oddity"
  assert_eq "imported 0, already present 1, failed 0" "$(cw cert import "$f" 2>&1)" "$name: imported once"
done
# DER too, the same certificate.
assert_eq "imported 0, already present 1, failed 0" "$(cw cert import "$O/duplicate.der" 2>&1)" "duplicate.der: the same certificate"

# Bytes that are not a certificate: one line, exit 3, nothing changed.
N=$T/not-certs
mkdir -p "$N"
head -c 300 /dev/urandom >"$N/random.bin"
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' >"$N/garbage.pem"
head -c 200 "$O/files/critical.pem" >"$N/truncated.pem"
head -c 150 "$O/duplicate.der" >"$N/truncated.der"
: >"$N/empty.pem"
cp "$O/leaf.csr" "$N/request.csr"
printf 'hello\n' >"$N/text.txt"
before=$(state)
for f in "$N"/*; do
  assert_exit 3 "$(basename "$f"): refused" cw cert import "$f"
  assert_eq "imported 0, already present 0, failed 1" "$(cat "$T/out")" "$(basename "$f"): the import report says so"
done
assert_eq "$before" "$(state)" "refused imports changed nothing"

# --- scan files -----------------------------------------------------------------------------
export CERTWARD_DATA_DIR=$T/scan-data
cw init >/dev/null
rc=0
cw scan files "$O/files" --json >"$T/scan.json" 2>"$T/scan.err" || rc=$?
assert_eq "0/" "$rc/$(head -c 300 "$T/scan.err")" "scan files exits 0 silently"
host=$(hostname)
assert_eq 5 "$(jq '.report.results | length' "$T/scan.json")" "five files, five places"
for name in "${!oddity[@]}"; do
  f=$O/files/$name.pem
  want=$(openssl_view "$f") || continue
  fp=${want%% *}
  code=${oddity[$name]%% *}
  detail=${oddity[$name]#* }
  assert_eq "pem||$fp|$code ${severity[$name]} $fp $detail" \
    "$(jq -r --arg p "$f" '.report.results[] | select(.path == $p) | "\(.format)|\(.error_code // "")|\(.fingerprints | join(","))|" + ([.findings[] | "\(.code) \(.severity) \(.fingerprint) \(.detail)"] | join(";"))' "$T/scan.json")" \
    "$name: found by the scan, the fingerprint openssl prints, its oddity as its only finding"
  assert_eq "$want|${oddity[$name]}" "$(certward_view "$fp")" "$name: recorded by the scan, agrees with openssl, with its oddity"
  assert_eq "file $host:$f" "$(cw scan sightings "$fp" --json | jq -r '.items[] | "\(.kind) \(.location)"')" "$name: sighted where it is"
done
assert_eq 5 "$(jq '.report.new_certificates | length' "$T/scan.json")" "five new certificates"
assert_eq "discovered discovered discovered discovered discovered" \
  "$(cw cert list --json | jq -r '[.items[] | select(.authority == null) | .origin] | join(" ")')" "recorded as discovered"

finish
