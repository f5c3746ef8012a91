#!/usr/bin/env bash
# Real-world and odd-shaped certificates through `certward cert import`: every certificate in
# Debian's ca-certificates (the /etc/ssl/certs bundle and each file under
# /usr/share/ca-certificates) and a set of unusual shapes generated with openssl (v1, empty
# subject, 20-byte serial, UTF-8 and BMPString names, otherName/registeredID/dirName SANs, a
# critical unknown extension, a far-future notAfter, a chain of 8 CAs, corrupt ones).
#
# For each file: when openssl parses it, certward must import it and report the same SHA-256
# fingerprint, serial and notAfter; when openssl does not, certward must reject it with a
# one-line "certward: ..." error and leave the inventory and the audit log unchanged.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null

parsed=0 rejected=0 agreed=0 disagreed=0 stricter=0

# openssl's view of a certificate file ($1, $2 = PEM|DER): "sha256 serial notAfter" or nothing.
openssl_view() {
  local out
  out=$(openssl x509 -in "$1" -inform "$2" -noout -fingerprint -sha256 -serial -enddate \
        -dateopt iso_8601 2>/dev/null) || return 1
  local fp serial end
  fp=$(sed -n 's/^sha256 Fingerprint=//Ip' <<<"$out" | tr -d ':' | tr 'A-F' 'a-f')
  serial=$(sed -n 's/^serial=//p' <<<"$out" | tr 'A-F' 'a-f')
  end=$(sed -n 's/^notAfter=//p' <<<"$out" | tr ' ' 'T')
  [[ -n $fp ]] || return 1
  echo "$fp $serial $end"
}

# certward's view of an imported certificate: the same three fields from `cert show`.
certward_view() {
  cw --json cert show "$1" 2>/dev/null |
    jq -r '.certificate | "\(.sha256) \(if .serial_negative then "-" else "" end)\(.serial) \(.not_after)"'
}

# One certificate file through both tools. $1 file, $2 PEM|DER, $3 label. Files named
# strict-* are ones openssl's x509 command accepts but certward rejects on purpose (DER with
# trailing bytes: Certificate::from_der documents it); they must be rejected cleanly.
check_one() {
  local f=$1 form=$2 label=$3 want
  if [[ $(basename "$f") == strict-* ]]; then
    stricter=$((stricter + 1))
    local before
    before=$(state)
    assert_exit 3 "$label: certward rejects it by design" cw cert import "$f"
    assert_eq "$before" "$(state)" "$label: a rejected import changed the database"
  elif want=$(openssl_view "$f" "$form"); then
    parsed=$((parsed + 1))
    local rc=0
    cw cert import "$f" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc != 0 ]]; then
      fail "$label: openssl parses it, certward import exited $rc: $(head -c 300 "$T/err")"
      disagreed=$((disagreed + 1))
      return
    fi
    local got
    got=$(certward_view "${want%% *}")
    if [[ "$got" == "$want" ]]; then
      agreed=$((agreed + 1))
      pass
    else
      disagreed=$((disagreed + 1))
      fail "$label: openssl '$want', certward '$got'"
    fi
  else
    rejected=$((rejected + 1))
    local before
    before=$(state)
    assert_exit 3 "$label: openssl rejects it, certward must too" cw cert import "$f"
    assert_eq "$before" "$(state)" "$label: a rejected import changed the database"
  fi
}

# --- Debian's ca-certificates ---------------------------------------------------------------
bundle=/etc/ssl/certs/ca-certificates.crt
if [[ ! -s $bundle ]]; then
  fail "$bundle missing (scripts/setup.sh installs ca-certificates)"
  finish
  exit 1
fi
mkdir -p "$T/bundle"
awk -v dir="$T/bundle" '/-----BEGIN CERTIFICATE-----/ {n++; f=sprintf("%s/%04d.pem", dir, n)} f {print > f} /-----END CERTIFICATE-----/ {close(f); f=""}' "$bundle"
bundle_count=$(ls "$T/bundle" | wc -l)

# The whole bundle in one import: every certificate in it, nothing failed.
c0=$(db_scalar 'SELECT COUNT(*) FROM certificates')
cw cert import "$bundle" >"$T/bundle.out" 2>"$T/bundle.err" || fail "bundle import exited non-zero: $(head -c 300 "$T/bundle.err")"
assert_eq "imported $bundle_count, already present 0, failed 0" "$(cat "$T/bundle.out")" "bundle import report"
assert_eq "$((c0 + bundle_count))" "$(db_scalar 'SELECT COUNT(*) FROM certificates')" "certificates after the bundle import"

for f in "$T"/bundle/*.pem; do
  check_one "$f" PEM "bundle $(basename "$f")"
done
debian_files=0
while IFS= read -r -d '' f; do
  debian_files=$((debian_files + 1))
  check_one "$f" PEM "${f#/usr/share/ca-certificates/}"
done < <(find /usr/share/ca-certificates -type f -name '*.crt' -print0 | sort -z)
realworld_parsed=$parsed realworld_rejected=$rejected realworld_agreed=$agreed

# --- Odd shapes generated with openssl ------------------------------------------------------
O=$T/odd
mkdir -p "$O"
o() { openssl "$@" 2>>"$T/openssl.err"; }
o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$O/k.pem"
o req -x509 -new -key "$O/k.pem" -subj "/CN=Odd Root" -days 30 -out "$O/root.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
o req -new -key "$O/k.pem" -subj "/CN=odd.example.test" -out "$O/plain.csr"
leaf() {  # name extfile-content [extra x509 args...]
  local name=$1 ext=$2
  shift 2
  printf '%s\n' "$ext" >"$O/$name.ext"
  o x509 -req -in "${CSR:-$O/plain.csr}" -CA "$O/root.pem" -CAkey "$O/k.pem" -days 30 \
    -extfile "$O/$name.ext" "$@" -out "$O/$name.pem" || fail "openssl could not make $name"
}
# v1: no extensions at all.
o x509 -req -in "$O/plain.csr" -CA "$O/root.pem" -CAkey "$O/k.pem" -days 30 -out "$O/v1.pem"
# Empty subject, SAN only (critical, as RFC 5280 asks).
o req -new -key "$O/k.pem" -subj "/" -out "$O/empty.csr" 2>/dev/null ||
  o req -new -key "$O/k.pem" -subj "/CN=x" -out "$O/empty.csr"
CSR=$O/empty.csr leaf empty-subject "subjectAltName=critical,DNS:empty.example.test"
# 20-byte serial with the top bit clear, and one with the top bit set (a 21-byte INTEGER).
leaf serial20 "basicConstraints=CA:FALSE" -set_serial 0x7f0102030405060708090a0b0c0d0e0f10111213
leaf serial-highbit "basicConstraints=CA:FALSE" -set_serial 0xff0102030405060708090a0b0c0d0e0f10111213
leaf serial-zero "basicConstraints=CA:FALSE" -set_serial 0
# UTF-8 and BMPString names.
o req -new -key "$O/k.pem" -utf8 -subj "/CN=Zürich Ünïcødé 東京/O=Ŝtrange Ltd" -out "$O/utf8.csr"
CSR=$O/utf8.csr leaf utf8-name "basicConstraints=CA:FALSE"
# string_mask=pkix makes openssl pick BMPString for text that is not PrintableString.
printf '[req]\ndistinguished_name=dn\nstring_mask=pkix\n[dn]\n' >"$O/bmp.cnf"
o req -new -key "$O/k.pem" -utf8 -config "$O/bmp.cnf" -subj "/CN=BMP Δ name/O=Ωmega" -out "$O/bmp.csr" ||
  fail "openssl could not make the BMPString CSR"
CSR=$O/bmp.csr leaf bmp-name "basicConstraints=CA:FALSE"
o req -new -key "$O/k.pem" -subj "/CN=multi+OU=valued/O=rdn" -multivalue-rdn -out "$O/mv.csr"
CSR=$O/mv.csr leaf multivalue-rdn "basicConstraints=CA:FALSE"
# Unusual SAN types.
leaf san-othername "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@example.test,DNS:a.example.test"
leaf san-rid "subjectAltName=RID:1.2.3.4.5,IP:2001:db8::1"
printf 'subjectAltName=dirName:dirsect\n[dirsect]\nCN=Directory Name\nO=Dir Org\n' >"$O/dirname.ext"
o x509 -req -in "$O/plain.csr" -CA "$O/root.pem" -CAkey "$O/k.pem" -days 30 -extfile "$O/dirname.ext" \
  -out "$O/san-dirname.pem" || fail "openssl could not make san-dirname"
leaf san-mixed "subjectAltName=email:a@example.test,URI:https://example.test/a?b,IP:192.0.2.7,DNS:*.example.test"
# A critical extension nobody knows, and a non-critical one.
leaf unknown-critical "1.3.6.1.4.1.55555.99=critical,DER:0403010203"
leaf unknown-noncritical "1.3.6.1.4.1.55555.98=ASN1:UTF8String:hello"
# A notAfter in GeneralizedTime far beyond 2050, and an RSA-PSS key.
leaf far-future "basicConstraints=CA:FALSE" -days 2900000
o genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$O/pss.key"
o req -x509 -new -key "$O/pss.key" -subj "/CN=PSS" -days 30 -out "$O/rsa-pss.pem" || fail "openssl could not make rsa-pss"
o genpkey -algorithm ED448 -out "$O/ed448.key" &&
  o req -x509 -new -key "$O/ed448.key" -subj "/CN=Ed448" -days 30 -out "$O/ed448.pem"
# A chain of 8 CAs, one file (imported as a bundle) and each certificate on its own.
prev_key=$O/k.pem prev_cert=$O/root.pem
: >"$O/chain8.bundle"
for i in 1 2 3 4 5 6 7 8; do
  o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$O/ca$i.key"
  o req -new -key "$O/ca$i.key" -subj "/CN=Odd CA $i" -out "$O/ca$i.csr"
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n' >"$O/ca.ext"
  o x509 -req -in "$O/ca$i.csr" -CA "$prev_cert" -CAkey "$prev_key" -days 30 -extfile "$O/ca.ext" -out "$O/chain-ca$i.pem"
  cat "$O/chain-ca$i.pem" >>"$O/chain8.bundle"
  prev_key=$O/ca$i.key prev_cert=$O/chain-ca$i.pem
done
# DER forms of a few.
for n in v1 serial-highbit bmp-name san-dirname; do
  o x509 -in "$O/$n.pem" -outform DER -out "$O/$n.der"
done
# Corrupt ones that openssl rejects: truncated, a flipped tag, garbage between the armour.
head -c 300 "$O/san-mixed.der" >"$O/truncated.der" 2>/dev/null ||
  { o x509 -in "$O/san-mixed.pem" -outform DER -out "$O/san-mixed.der"; head -c 300 "$O/san-mixed.der" >"$O/truncated.der"; }
{ printf '\x31'; tail -c +2 "$O/v1.der"; } >"$O/badtag.der"
printf -- '-----BEGIN CERTIFICATE-----\nTUlJQmFkYmFkYmFk\n-----END CERTIFICATE-----\n' >"$O/garbage.pem"
{ cat "$O/v1.der"; printf 'x'; } >"$O/strict-trailing.der"

odd_files=0
for f in "$O"/*.pem "$O"/*.der; do
  case $(basename "$f") in k.pem | pss.key | ed448.key) continue ;; esac
  odd_files=$((odd_files + 1))
  form=PEM
  [[ $f == *.der ]] && form=DER
  check_one "$f" "$form" "odd $(basename "$f")"
done
# The chain of 8 as one file: all eight present afterwards (already imported one by one).
cw cert import "$O/chain8.bundle" >"$T/out" 2>"$T/err" || fail "chain of 8: import exited non-zero"
assert_eq "imported 0, already present 8, failed 0" "$(cat "$T/out")" "chain of 8 as one bundle"

echo "real-world: $bundle_count certificates in $bundle, $debian_files files under /usr/share/ca-certificates"
# A repeatable option takes one value each time it is given: the paths after it are paths.
for n in 1 2; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/t$n.key" \
    -subj "/CN=tagged$n.example.test" -days 5 -out "$T/t$n.pem" 2>/dev/null
done
assert_eq "imported 2, already present 0, failed 0" \
  "$(cw cert import --tag tagged "$T/t1.pem" "$T/t2.pem")" "paths after --tag are imported"
assert_eq 2 "$(cw --json cert list --tag tagged | jq '.items | length')" "both carry the tag"

echo "real-world: parsed by openssl $realworld_parsed, rejected $realworld_rejected, certward agreed on $realworld_agreed"
echo "odd shapes: $odd_files files; parsed by openssl $((parsed - realworld_parsed)), rejected $((rejected - realworld_rejected)), certward agreed on $((agreed - realworld_agreed)); $stricter parsed by openssl but rejected by certward by design"
echo "total: parsed $parsed, rejected $rejected, agreed $agreed, disagreed $disagreed"
finish
