#!/usr/bin/env bash
# `certward scan files` over a tree holding every supported format, made by the real tools
# (openssl, Debian's keytool, ssh-keygen): PEM, a bundle, DER, PKCS#7, PKCS#12 with and without
# a key, a PKCS#12 whose password is not in the list, a JKS with a key entry, a JKS truststore,
# a PKCS12-type keystore, a JCEKS, garbage and truncated files, a key others can read,
# authorized_keys with a DSA key and known_hosts.
#
# Every file must appear exactly once in the report with its format and exact findings; the
# certificates' fingerprints must be what openssl prints (the SSH keys' what ssh-keygen
# prints); the inventory must hold each distinct certificate once however many files hold it;
# a second scan adds nothing; a deleted file is reported gone (and its sighting has gone_at);
# --password-file opens the PKCS#12 no default password opens, and when it cannot be opened
# again its sighting is kept, not gone.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null

# --- The tree -------------------------------------------------------------------------------
W=$T/work R=$T/tree
mkdir -p "$W" "$R/sub"
o() { openssl "$@" 2>>"$T/tools.err"; }
ec() { o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ec "$W/ca.key"
# A root whose key usage says so, so that it is not reported as a self-signed end entity.
o req -x509 -new -key "$W/ca.key" -subj /CN=IT-Root -days 365 \
  -addext keyUsage=critical,keyCertSign,cRLSign -out "$W/ca.pem"
ec "$R/server.key"
chmod 600 "$R/server.key"
o req -new -key "$R/server.key" -subj /CN=server.it.test -out "$W/server.csr"
printf 'subjectAltName=DNS:server.it.test\n' >"$W/server.ext"
o x509 -req -in "$W/server.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -set_serial 7 -days 365 \
  -extfile "$W/server.ext" -out "$R/server.crt"
cp "$W/ca.pem" "$R/ca.pem"
cat "$R/server.crt" "$W/ca.pem" >"$R/bundle.pem"
o x509 -in "$R/server.crt" -outform DER -out "$R/server.der"
o crl2pkcs7 -nocrl -certfile "$R/bundle.pem" -outform DER -out "$R/chain.p7b"
o pkcs12 -export -inkey "$R/server.key" -in "$R/server.crt" -certfile "$W/ca.pem" \
  -passout pass:changeit -out "$R/withkey.p12"
o pkcs12 -export -nokeys -in "$R/bundle.pem" -passout pass: -out "$R/certsonly.p12"
o pkcs12 -export -inkey "$R/server.key" -in "$R/server.crt" -passout pass:not-in-the-list \
  -out "$R/locked.p12"
chmod 600 "$R/withkey.p12" "$R/locked.p12"
ec "$R/loose.key"
chmod 644 "$R/loose.key"
kt() { keytool "$@" -storepass changeit -noprompt >>"$T/tools.err" 2>&1; }
kt -genkeypair -alias srv -keyalg EC -groupname secp256r1 -dname CN=jks.it.test -validity 365 \
  -storetype JKS -keypass changeit -keystore "$R/keystore.jks"
kt -importcert -alias ca -file "$W/ca.pem" -storetype JKS -keystore "$R/truststore.jks"
kt -genkeypair -alias srv -keyalg EC -groupname secp256r1 -dname CN=p12.it.test -validity 365 \
  -storetype PKCS12 -keystore "$R/keystore.pfx"
kt -genkeypair -alias srv -keyalg EC -groupname secp256r1 -dname CN=jceks.it.test \
  -validity 365 -storetype JCEKS -keypass changeit -keystore "$R/keystore.jceks"
chmod 600 "$R"/keystore.*
ssh-keygen -q -t ed25519 -N '' -C ed@it -f "$W/ed"
ssh-keygen -q -t dsa -N '' -C dsa@it -f "$W/dsa"
cat "$W/ed.pub" "$W/dsa.pub" >"$R/sub/authorized_keys"
echo "host1.it.test,192.0.2.5 $(cut -d' ' -f1,2 "$W/ed.pub")" >"$R/sub/known_hosts"
printf '\001\002\003garbage\377\376' >"$R/garbage.bin"
head -c 200 "$R/server.crt" >"$R/truncated.pem"
head -c 100 "$R/server.der" >"$R/truncated.der"
head -c 300 "$R/withkey.p12" >"$R/truncated.p12"
for f in keystore.jks truststore.jks keystore.pfx keystore.jceks; do
  [[ -s $R/$f ]] || { echo "keytool did not make $f: $(tail -5 "$T/tools.err")" >&2; exit 1; }
done

# --- What openssl and ssh-keygen say the files hold -----------------------------------------
# SHA-256 fingerprints (lower-case hex, sorted, comma-separated) of every certificate in a PEM
# stream on standard input, each through `openssl x509 -fingerprint -sha256`.
pem_fps() {
  local d
  d=$(mktemp -d "$T/split.XXXXXX")
  awk -v dir="$d" '/-----BEGIN CERTIFICATE-----/ {n++; f=sprintf("%s/%03d.pem", dir, n)} f {print > f} /-----END CERTIFICATE-----/ {close(f); f=""}'
  local c
  for c in "$d"/*.pem; do
    [[ -e $c ]] || continue
    openssl x509 -in "$c" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f
  done | sort | paste -sd, -
}
sorted() { tr ',' '\n' | sed '/^$/d' | sort | paste -sd, -; }
ktlist() { keytool -list -rfc -keystore "$1" -storepass changeit 2>>"$T/tools.err"; }
declare -A want_fps
want_fps[server.crt]=$(pem_fps <"$R/server.crt")
want_fps[ca.pem]=$(pem_fps <"$R/ca.pem")
want_fps[bundle.pem]=$(pem_fps <"$R/bundle.pem")
want_fps[server.der]=$(openssl x509 -inform DER -in "$R/server.der" | pem_fps)
want_fps[chain.p7b]=$(openssl pkcs7 -inform DER -in "$R/chain.p7b" -print_certs | pem_fps)
want_fps[withkey.p12]=$(openssl pkcs12 -in "$R/withkey.p12" -nokeys -passin pass:changeit 2>/dev/null | pem_fps)
want_fps[certsonly.p12]=$(openssl pkcs12 -in "$R/certsonly.p12" -nokeys -passin pass: 2>/dev/null | pem_fps)
for f in keystore.jks truststore.jks keystore.pfx keystore.jceks; do
  want_fps[$f]=$(ktlist "$R/$f" | pem_fps)
done
S=${want_fps[server.crt]} C=${want_fps[ca.pem]}
[[ ${#S} == 64 && ${#C} == 64 ]] || { echo "openssl gave no fingerprints" >&2; exit 1; }
# ssh-keygen -l over a key file: "bits SHA256:... comment (TYPE)", one line per key.
ssh_fps() { ssh-keygen -l -f "$1" | awk '{print $2}' | sort | paste -sd, -; }
want_fps[sub/authorized_keys]=$(ssh_fps "$R/sub/authorized_keys")
want_fps[sub/known_hosts]=$(ssh_fps "$R/sub/known_hosts")

# --- First scan -----------------------------------------------------------------------------
scan() {  # output-file args... ; the scan must succeed silently
  local out=$1 rc=0
  shift
  cw scan files "$R" --json "$@" >"$out" 2>"$T/scan.err" || rc=$?
  assert_eq "0/" "$rc/$(head -c 300 "$T/scan.err")" "scan files $* exits 0 and says nothing on stderr"
}
scan "$T/r1.json"
host=$(jq -r '.report.results[0].host' "$T/r1.json")
assert_eq "$(hostname)" "$host" "files are reported on this host"
assert_eq "files/done" "$(jq -r '.kind + "/" + .status' "$T/r1.json")" "the scan is done"

# Every file in the tree, each exactly once, and nothing else.
files=$(cd "$R" && find . -type f | sed 's|^\./||' | sort)
reported=$(jq -r --arg r "$R/" '.report.results[].path | ltrimstr($r)' "$T/r1.json" | sort)
assert_eq "$files" "$reported" "every file reported exactly once"
assert_eq "$(wc -l <<<"$files")" "$(jq '.report.places' "$T/r1.json")" "places counts the files"
jq -e --arg h "$host" '(.report.results | length) as $n | [.report.results[] | select(.location == ($h + ":" + .path) and .kind == "file")] | length == $n' "$T/r1.json" >/dev/null &&
  pass || fail "every result's location is host:/path"

# name|format|key_present|error_code|finding codes (sorted)
expected='bundle.pem|pem|false||
ca.pem|pem|false||
certsonly.p12|pkcs12|false||
chain.p7b|pkcs7|false||
garbage.bin||-||
keystore.jceks|jceks|true||self_signed
keystore.jks|jks|true||self_signed
keystore.pfx|pkcs12|true||self_signed
locked.p12|pkcs12|-|bad_password|pkcs12_password_unknown
loose.key|private_key|-||key_readable_by_others
server.crt|pem|true||
server.der|der|true||
server.key|private_key|-||
sub/authorized_keys|authorized_keys|-||weak_ssh_key
sub/known_hosts|known_hosts|-||
truncated.der||-|malformed|
truncated.p12||-|malformed|
truncated.pem|pem|-|malformed|
truststore.jks|jks|false||
withkey.p12|pkcs12|true||'
got=$(jq -r --arg r "$R/" '.report.results[] |
  [(.path | ltrimstr($r)), .format, (if has("key_present") then (.key_present | tostring) else "-" end),
   (.error_code // ""), ([.findings[].code] | sort | join(","))] | join("|")' "$T/r1.json" | sort)
assert_eq "$expected" "$got" "format, key presence, error and exact findings of every file"
# The findings' severities, and which key the SSH finding is about.
assert_eq "high" "$(jq -r '.report.results[] | select(.path | endswith("/loose.key")) | .findings[0].severity' "$T/r1.json")" "a key others can read is high"
dsa_fp=$(ssh-keygen -l -f "$W/dsa.pub" | awk '{print $2}')
assert_eq "high $dsa_fp" "$(jq -r '.report.results[] | select(.path | endswith("/authorized_keys")) | .findings[0] | "\(.severity) \(.fingerprint)"' "$T/r1.json")" "the weak SSH key finding names the DSA key"
assert_eq '{"critical":0,"high":2,"info":0,"low":0,"medium":4}' "$(jq -c '.report.findings' "$T/r1.json")" "findings by severity"
assert_eq "4 15 3" "$(jq -r '.report | "\(.errors) \(.certificates) \(.ssh_keys)"' "$T/r1.json")" "errors, certificates and SSH keys counted"

# Fingerprints: what openssl / ssh-keygen print for each file, for every file that holds any.
for name in "${!want_fps[@]}"; do
  got=$(jq -r --arg p "$R/$name" '.report.results[] | select(.path == $p) | .fingerprints | join(",")' "$T/r1.json" | sorted)
  assert_eq "${want_fps[$name]}" "$got" "$name: fingerprints as openssl/ssh-keygen print them"
done
for name in garbage.bin locked.p12 loose.key server.key truncated.der truncated.p12 truncated.pem; do
  assert_eq "" "$(jq -r --arg p "$R/$name" '.report.results[] | select(.path == $p) | .fingerprints | join(",")' "$T/r1.json")" "$name holds no certificate"
done
# Findings about a certificate name it.
jks_fp=${want_fps[keystore.jks]}
assert_eq "medium $jks_fp" "$(jq -r --arg p "$R/keystore.jks" '.report.results[] | select(.path == $p) | .findings[0] | "\(.severity) \(.fingerprint)"' "$T/r1.json")" "self_signed names the keystore's certificate"

# --- The inventory: each distinct certificate once ------------------------------------------
distinct=$(printf '%s\n' "${want_fps[@]}" | tr ',' '\n' | grep -v '^SHA256:' | sed '/^$/d' | sort -u | paste -sd, -)
assert_eq 5 "$(tr ',' '\n' <<<"$distinct" | wc -l)" "five distinct certificates in the tree"
assert_eq "$distinct" "$(jq -r '.report.new_certificates | join(",")' "$T/r1.json" | sorted)" "new certificates: each distinct one once"
inventory() { cw cert list --json | jq -r '[.items[] | select(.origin == "discovered") | .fingerprint] | sort | join(",")'; }
assert_eq "$distinct" "$(inventory)" "the inventory holds each certificate once"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM certificates WHERE fingerprint = '$S'")" "one row for the server certificate"
# The same certificate in several files: one sighting per file.
sightings() {  # fingerprint -> sorted "path gone?" lines
  cw scan sightings "$1" --json | jq -r --arg r "$R/" '.items[] | "\(.location | sub("^[^:]*:"; "") | ltrimstr($r)) \(if .gone_at then "gone" else "active" end)"' | sort | paste -sd, -
}
server_sightings='bundle.pem active,certsonly.p12 active,chain.p7b active,server.crt active,server.der active,withkey.p12 active'
ca_sightings='bundle.pem active,ca.pem active,certsonly.p12 active,chain.p7b active,truststore.jks active,withkey.p12 active'
assert_eq "$server_sightings" "$(sightings "$S")" "server certificate: a sighting per file"
assert_eq "$ca_sightings" "$(sightings "$C")" "root: a sighting per file"
cw scan sightings "$S" --json | jq -e --arg h "$host" '[.items[] | select(.kind == "file" and (.location | startswith($h + ":/")))] | length == 6' >/dev/null &&
  pass || fail "sightings are file sightings at host:/path"
assert_eq "true true" "$(cw scan sightings "$S" --json | jq -r --arg p "$R/withkey.p12" '.items[] | select(.details.path == $p) | "\(.details.key_present) \(.details.format == "pkcs12")"')" "a sighting records the format and the key beside it"

# --- A second scan adds nothing -------------------------------------------------------------
certs_before=$(db_scalar 'SELECT COUNT(*) FROM certificates')
sight_before=$(db_scalar 'SELECT COUNT(*) FROM sightings')
scan "$T/r2.json"
assert_eq "[] [] [] []" "$(jq -c '.report | "\(.new_certificates) \(.new_ssh_keys) \(.changed) \(.gone)"' -r "$T/r2.json")" "second scan: nothing new, changed or gone"
assert_eq "$certs_before $sight_before" "$(db_scalar 'SELECT COUNT(*) FROM certificates') $(db_scalar 'SELECT COUNT(*) FROM sightings')" "second scan adds no certificate or sighting"
assert_eq "$(jq -c '[.report.results[]] | sort_by(.path)' "$T/r1.json")" "$(jq -c '[.report.results[]] | sort_by(.path)' "$T/r2.json")" "second scan reports the same places"

# --- A deleted file is gone -----------------------------------------------------------------
rm "$R/ca.pem"
scan "$T/r3.json"
assert_eq "[{\"fingerprint\":\"$C\",\"location\":\"$host:$R/ca.pem\"}]" "$(jq -c '.report.gone' "$T/r3.json")" "the deleted file is reported gone"
assert_eq "${ca_sightings/ca.pem active/ca.pem gone}" "$(sightings "$C")" "scan sightings shows gone_at on the deleted file only"
assert_eq "$distinct" "$(inventory)" "the inventory keeps the certificate"
jq -e --arg p "$R/ca.pem" '[.report.results[] | select(.path == $p)] | length == 0' "$T/r3.json" >/dev/null && pass || fail "the deleted file is not a place any more"
# Gone once: a further scan does not report it again.
scan "$T/r4.json"
assert_eq "[]" "$(jq -c '.report.gone' "$T/r4.json")" "gone is reported once"

# --- --password-file opens the PKCS#12 whose password was unknown ---------------------------
printf 'not-in-the-list\n' >"$T/p12.pw"
chmod 600 "$T/p12.pw"
scan "$T/r5.json" --password-file "$T/p12.pw"
assert_eq "pkcs12|true||$S|" "$(jq -r --arg p "$R/locked.p12" '.report.results[] | select(.path == $p) | [.format, (.key_present | tostring), (.error_code // ""), (.fingerprints | join(",")), ([.findings[].code] | join(","))] | join("|")' "$T/r5.json")" "--password-file opens locked.p12: its certificate, its key, no finding"
assert_eq "3 7" "$(jq -r '.report.errors' "$T/r5.json") $(cw scan sightings "$S" --json | jq '[.items[] | select(.gone_at == null)] | length')" "one error fewer; locked.p12 is a seventh sighting of the server certificate"
assert_eq 0 "$(jq '.report.new_certificates | length' "$T/r5.json")" "the certificate inside was already known"
grep -q 'not-in-the-list' "$T/r5.json" "$CERTWARD_DATA_DIR/certward.db" && fail "the password was stored or printed" || pass
# Without the password again: the file is there but cannot be read, so what it showed is kept
# (reported as kept), not gone.
scan "$T/r6.json"
assert_eq "[] [\"$host:$R/locked.p12\"]" "$(jq -c '.report | "\(.gone) \(.kept)"' -r "$T/r6.json")" "an unreadable file's sightings are kept, not gone"
assert_eq 7 "$(cw scan sightings "$S" --json | jq '[.items[] | select(.gone_at == null)] | length')" "locked.p12 is still a sighting of the server certificate"

finish
