#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus/<target>/ with openssl: certificates, chains,
# PKCS#7, PKCS#12, CSRs and keys the project itself makes, plus a truncation and a bit flip
# of each, and hand-written seeds for the text parsers. Output is committed and kept small
# (a few KB per target); re-run only when a parser learns a new format. Named targets limit
# the run to their corpora (the keys are random: a full run rewrites every binary seed).
#
#   bash fuzz/make_corpus.sh
#   bash fuzz/make_corpus.sh crl ocsp_request
set -euo pipefail
cd "$(dirname "$0")"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PW=certward-fuzz  # the fixed password pkcs12_fuzz and private_key_fuzz try

only=" $* "
want() { [[ $only == "  " || $only == *" $1 "* ]]; }

for t in cert_der certificates pkcs7 pkcs12 csr est_body scep_message cmp_message names private_key public_key crl ocsp_request config body http_text http_request acme_jws acme_dns ssh_key jks openssh_lines file_contents system_trust; do
  want "$t" || continue
  rm -rf "corpus/$t"
  mkdir -p "corpus/$t"
done

o() { openssl "$@" 2>/dev/null; }

# Keys: EC P-256 (small), Ed25519, RSA 1024 (small seed; the parser does not judge size).
o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/ec.key"
o genpkey -algorithm ED25519 -out "$W/ed.key"
o genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$W/rsa.key"

# A root, an intermediate and a leaf with SANs.
o req -x509 -new -key "$W/ec.key" -subj "/CN=Fuzz Root/O=certward" -days 30 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$W/root.pem"
o req -new -key "$W/ed.key" -subj "/CN=Fuzz Intermediate" -out "$W/int.csr"
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\nnameConstraints=permitted;DNS:example.test\n' >"$W/int.ext"
o x509 -req -in "$W/int.csr" -CA "$W/root.pem" -CAkey "$W/ec.key" -set_serial 0x0102030405060708090a0b0c0d0e0f1011121314 \
  -days 30 -extfile "$W/int.ext" -out "$W/int.pem"
o req -new -key "$W/rsa.key" -subj "/CN=leaf.example.test/O=Ünïcode Ltd" -utf8 \
  -addext "subjectAltName=DNS:leaf.example.test,IP:192.0.2.1,IP:2001:db8::1,email:a@example.test,URI:https://example.test/x" \
  -addext "1.3.6.1.4.1.55555.1=critical,DER:0500" -out "$W/leaf.csr"
printf 'subjectAltName=DNS:leaf.example.test,IP:192.0.2.1,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:u@example.test,RID:1.2.3.4\nextendedKeyUsage=serverAuth,clientAuth\nauthorityInfoAccess=OCSP;URI:http://ocsp.example.test\ncrlDistributionPoints=URI:http://crl.example.test/c.crl\ncertificatePolicies=2.23.140.1.2.1\n' >"$W/leaf.ext"
o x509 -req -in "$W/leaf.csr" -CA "$W/int.pem" -CAkey "$W/ed.key" -set_serial 7 -days 10 -extfile "$W/leaf.ext" -out "$W/leaf.pem"
o x509 -req -in "$W/leaf.csr" -CA "$W/int.pem" -CAkey "$W/ed.key" -set_serial 8 -days 10 -out "$W/v1.pem"
for c in root int leaf v1; do o x509 -in "$W/$c.pem" -outform DER -out "$W/$c.der"; done
cat "$W/leaf.pem" "$W/int.pem" "$W/root.pem" >"$W/chain.pem"
o crl2pkcs7 -nocrl -certfile "$W/chain.pem" -outform DER -out "$W/chain.p7b"
o crl2pkcs7 -nocrl -certfile "$W/int.pem" -out "$W/int.p7b.pem"
# Seeds use one KDF/MAC iteration where openssl allows it, so that each run is cheap.
o pkcs12 -export -noiter -nomaciter -inkey "$W/ec.key" -in "$W/root.pem" -passout "pass:$PW" -out "$W/root.p12"
o pkcs12 -export -noiter -nomaciter -nokeys -in "$W/chain.pem" -passout "pass:$PW" -out "$W/certs.p12"
o pkcs12 -export -inkey "$W/ec.key" -in "$W/root.pem" -passout "pass:" -out "$W/empty-pw.p12"
o pkcs12 -export -legacy -inkey "$W/ec.key" -in "$W/root.pem" -passout "pass:$PW" -out "$W/legacy.p12" || true
o req -in "$W/leaf.csr" -outform DER -out "$W/leaf.csr.der"
o req -new -key "$W/ec.key" -subj "/CN=c" -addext "basicConstraints=CA:TRUE" -addext "keyUsage=digitalSignature" -outform DER -out "$W/ca.csr.der"

# Keys in every accepted shape, with the fixed passphrase where encrypted.
o pkcs8 -topk8 -nocrypt -in "$W/ec.key" -outform DER -out "$W/ec.p8.der"
o pkcs8 -topk8 -in "$W/ec.key" -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 1 -passout "pass:$PW" -out "$W/ec.enc.pem"
o pkcs8 -topk8 -in "$W/ed.key" -v2 aes-128-cbc -iter 1 -passout "pass:$PW" -outform DER -out "$W/ed.enc.der"
o ec -in "$W/ec.key" -out "$W/ec.trad.pem"
o ec -in "$W/ec.key" -outform DER -out "$W/ec.trad.der"
o rsa -in "$W/rsa.key" -traditional -out "$W/rsa.trad.pem"
for k in ec ed rsa; do o pkey -in "$W/$k.key" -pubout -out "$W/$k.pub.pem"; o pkey -in "$W/$k.key" -pubout -outform DER -out "$W/$k.pub.der"; done

# CRLs as `openssl ca` writes them, issued by the root: empty, full (reasons, an invalidity
# date from -crl_compromise, a hold instruction, freshestCRL), a delta (critical
# deltaCRLIndicator) and a shard (critical issuingDistributionPoint).
mkdir -p "$W/ca"
: >"$W/ca/index.txt"
echo 01 >"$W/ca/crlnumber"
cat >"$W/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $W/ca/index.txt
crlnumber = $W/ca/crlnumber
default_md = sha256
default_crl_days = 7
[full]
authorityKeyIdentifier = keyid:always
freshestCRL = URI:http://crl.example.test/delta.crl
[delta]
authorityKeyIdentifier = keyid:always
deltaCRL = critical,DER:02:01:01
[shard]
issuingDistributionPoint = critical,fullname:URI:http://crl.example.test/shard1.crl,onlyuser:TRUE
CNF
ca() { o ca -batch -config "$W/ca.cnf" -keyfile "$W/ec.key" -cert "$W/root.pem" "$@"; }
ca -gencrl -crlexts full -out "$W/empty.crl.pem"
ca -revoke "$W/int.pem" -crl_reason superseded
ca -revoke "$W/leaf.pem" -crl_compromise 20250101000000Z
ca -revoke "$W/v1.pem" -crl_hold holdInstructionReject
for c in full delta shard; do ca -gencrl -crlexts "$c" -out "$W/$c.crl.pem"; done
for c in empty full delta shard; do o crl -in "$W/$c.crl.pem" -outform DER -out "$W/$c.crl"; done

# OCSP requests as `openssl ocsp` sends them: one CertID with a nonce, three without, SHA-256,
# signed, and MD5 (refused as an unsupported hash).
q() { o ocsp -issuer "$W/root.pem" "$@" -cert "$W/int.pem"; }  # a digest goes before -cert
q -reqout "$W/one.req"
q -reqout "$W/three.req" -no_nonce -serial 0x07 -serial 0x0102030405060708090a0b0c0d0e0f10
q -sha256 -reqout "$W/sha256.req"
q -signer "$W/root.pem" -signkey "$W/ec.key" -reqout "$W/signed.req"
q -md5 -reqout "$W/md5.req"

# Each seed, plus a truncation to half its length and a single bit flip in the middle.
seed() {  # target name file
  want "$1" || return 0
  local dir="corpus/$1" n=$2 f=$3
  cp "$f" "$dir/$n"
  local size
  size=$(stat -c %s "$f")
  head -c $((size / 2)) "$f" >"$dir/$n.trunc"
  cp "$f" "$dir/$n.flip"
  local mid=$((size / 2)) byte
  byte=$(od -An -tu1 -j "$mid" -N1 "$f" | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 4)))" | dd of="$dir/$n.flip" bs=1 seek="$mid" conv=notrunc 2>/dev/null
}
for c in root int leaf v1; do seed cert_der "$c.der" "$W/$c.der"; done
for c in root int leaf v1; do seed system_trust "$c.der" "$W/$c.der"; done
seed certificates leaf.der "$W/leaf.der"
seed certificates chain.pem "$W/chain.pem"
seed certificates chain.p7b "$W/chain.p7b"
seed certificates int.p7b.pem "$W/int.p7b.pem"
{ cat "$W/ec.key" "$W/root.pem"; } >"$W/mixed.pem"; seed certificates key-and-cert.pem "$W/mixed.pem"
seed pkcs7 chain.p7b "$W/chain.p7b"
seed pkcs7 int.p7b.pem "$W/int.p7b.pem"
for p in root certs empty-pw legacy; do [[ -s $W/$p.p12 ]] && seed pkcs12 "$p.p12" "$W/$p.p12"; done
# pkcs12_fuzz's second call reads a length byte and a password first.
{ printf '\015'; printf '%s' "$PW"; cat "$W/root.p12"; } >"$W/pw-prefixed.p12"
want pkcs12 && cp "$W/pw-prefixed.p12" corpus/pkcs12/pw-prefixed.p12
seed csr leaf.csr.pem "$W/leaf.csr"
seed csr leaf.csr.der "$W/leaf.csr.der"
seed csr ca.csr.der "$W/ca.csr.der"
# EST bodies: base64 DER with and without line breaks; Basic headers.
base64 "$W/leaf.csr.der" >"$W/leaf.csr.b64"; seed est_body leaf.csr.b64 "$W/leaf.csr.b64"
base64 -w0 "$W/leaf.csr.der" >"$W/flat.csr.b64"; seed est_body flat.csr.b64 "$W/flat.csr.b64"
printf 'Basic %s' "$(printf 'ec-0123456789abcdef:pass:word' | base64 -w0)" >"$W/basic.txt"; seed est_body basic.txt "$W/basic.txt"
# A serverkeygen CSR asking for its key encrypted to a key it names (RFC 7030 4.4.1.2): openssl
# req writes no OCTET STRING attribute, python3-cryptography does.
python3 - "$W/asymm.csr.der" <<'EOF'
import sys
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
b = x509.CertificateSigningRequestBuilder().subject_name(
    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ek.devices.example.test")]))
b = b.add_attribute(x509.ObjectIdentifier("1.2.840.113549.1.9.16.2.54"), bytes(range(20)),
                    _tag=_ASN1Type.OctetString)
csr = b.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
open(sys.argv[1], "wb").write(csr.public_bytes(serialization.Encoding.DER))
EOF
base64 "$W/asymm.csr.der" >"$W/asymm.csr.b64"; seed est_body asymm.csr.b64 "$W/asymm.csr.b64"
# SCEP: requests real clients sent, encrypted to the key scep_message_fuzz opens with, and the
# envelope of one of them.
for f in certmonger-pkcsreq-initial strongswan-pkcsreq-aes128 strongswan-certpoll; do
  seed scep_message "$f.der" "../tests/data/scep/$f.der"
done
o cms -verify -noverify -inform DER -in ../tests/data/scep/certmonger-pkcsreq-initial.der -binary -out "$W/envelope.der"
seed scep_message envelope.der "$W/envelope.der"
# CMP: an ir (PasswordBasedMac, and rewritten under PBMAC1), a p10cr and a genm as openssl cmp
# sends them, and an ip, made with openssl's built-in mock server.
if want cmp_message; then
  o req -x509 -new -key "$W/ec.key" -subj /CN=mock -days 3 -out "$W/mock.pem"
  o req -new -key "$W/ec.key" -subj /CN=p10.example.test -out "$W/p10.csr"
  mock=(-use_mock_srv -srv_ref mock -srv_secret pass:s -srv_cert "$W/mock.pem" -srv_key "$W/ec.key"
        -ref ec-0123456789abcdef -secret pass:s -unprotected_errors)
  o cmp -cmd ir "${mock[@]}" -newkey "$W/ec.key" -subject /CN=d1.example.test -certout "$W/d1.pem" -reqout "$W/ir.der" -rspout "$W/ip.der" || true
  o cmp -cmd p10cr "${mock[@]}" -csr "$W/p10.csr" -certout "$W/p10.pem" -reqout "$W/p10cr.der" || true
  o cmp -cmd genm "${mock[@]}" -infotype caCerts -reqout "$W/genm.der" || true
  # The ir again under PBMAC1 (OpenSSL 3.0's client cannot make it), with few iterations.
  [[ -s $W/ir.der ]] && python3 ../tests/integration/cmp_hostile.py "$W/ir.der" "$W/ir-pbmac1.der" --pbmac1 s 16 sha256
  for f in ir ip p10cr genm ir-pbmac1; do [[ -s $W/$f.der ]] && seed cmp_message "$f.der" "$W/$f.der"; done
fi
for k in ec.key ed.key ec.p8.der ec.enc.pem ed.enc.der ec.trad.pem ec.trad.der rsa.trad.pem; do seed private_key "$k" "$W/$k"; done
for k in ec ed rsa; do seed public_key "$k.pub.pem" "$W/$k.pub.pem"; seed public_key "$k.pub.der" "$W/$k.pub.der"; done
for c in empty full delta shard; do seed crl "$c.crl" "$W/$c.crl"; done
for r in one three sha256 signed md5; do seed ocsp_request "$r.req" "$W/$r.req"; done

# ACME requests (acme_jws): a flattened JWS signed with each algorithm the way a client signs
# (ECDSA as r || s), a kid POST-as-GET, a newAccount carrying an External Account Binding
# (HS256 under the fixed MAC key of acme_jws_fuzz); and, for the target's other readings of
# its input, each protected header and JWK alone and a binding made for its fixed account key.
if want acme_jws; then
  J=$W/jws
  mkdir -p "$J"
  EAB_KEY=certward-fuzz-eab-key-0123456789
  ACCOUNT_JWK='{"crv":"P-256","kty":"EC","x":"TrcXoO5ZQpn_jpDhCMeCCx3sEAzJE-oYLoO6Hf6BTxE","y":"BNY89_fpdM09sTXvGaZOLZB10zJNi2xNQ7pMTWZkwhc"}'
  URL=https://acme.test/acme
  NONCE=bm9uY2UtZnV6eg
  b64u() { basenc --base64url -w0 | tr -d '='; }
  hexb64u() { xxd -r -p | b64u; }
  zeros() { printf '%*s' "$1" '' | tr ' ' 0; }
  o genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$J/rs256.key"
  for c in 256 384 521; do o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-$c -out "$J/ec$c.key"; done
  mv "$J/ec256.key" "$J/es256.key"; mv "$J/ec384.key" "$J/es384.key"; mv "$J/ec521.key" "$J/es512.key"
  o genpkey -algorithm ED25519 -out "$J/eddsa.key"
  # The public JWK of $J/<alg>.key, members in RFC 7638 order; <octets> <crv> for EC keys.
  jwk() {
    case $1 in
      rs256) printf '{"e":"AQAB","kty":"RSA","n":"%s"}' \
               "$(o rsa -in "$J/rs256.key" -noout -modulus | cut -d= -f2 | hexb64u)" ;;
      eddsa) printf '{"crv":"Ed25519","kty":"OKP","x":"%s"}' \
               "$(o pkey -in "$J/eddsa.key" -pubout -outform DER | tail -c 32 | b64u)" ;;
      *) local n=$2 pub
         pub=$(o pkey -in "$J/$1.key" -pubout -outform DER | tail -c $((2 * n)) | xxd -p -c 1000)
         printf '{"crv":"%s","kty":"EC","x":"%s","y":"%s"}' "$3" \
           "$(hexb64u <<<"${pub:0:2*n}")" "$(hexb64u <<<"${pub:2*n}")" ;;
    esac
  }
  # The base64url JWS signature by $J/<alg>.key of the file's bytes.
  sign() {
    case $1 in
      rs256) o dgst -sha256 -sign "$J/rs256.key" "$2" | b64u ;;
      eddsa) o pkeyutl -sign -inkey "$J/eddsa.key" -rawin -in "$2" | b64u ;;
      *) local bits=${1#es} n
         n=$((bits == 512 ? 66 : bits / 8))
         o dgst "-sha$bits" -sign "$J/$1.key" "$2" | o asn1parse -inform DER |
           sed -nE 's/.*INTEGER *:([0-9A-F]+)$/\1/p' |
           while read -r v; do printf '%s%s' "$(zeros $((2 * n - ${#v})))" "$v"; done | hexb64u ;;
    esac
  }
  # jws <alg> <protected header> <payload> <out>
  jws() {
    local p pl
    p=$(printf '%s' "$2" | b64u)
    pl=$(printf '%s' "$3" | b64u)
    printf '%s.%s' "$p" "$pl" >"$J/input"
    printf '{"protected":"%s","payload":"%s","signature":"%s"}' "$p" "$pl" "$(sign "$1" "$J/input")" >"$4"
  }
  # eab <account JWK> <url>: an External Account Binding under $EAB_KEY, kid fuzz-kid.
  eab() {
    local p pl mac
    p=$(printf '{"alg":"HS256","kid":"fuzz-kid","url":"%s"}' "$2" | b64u)
    pl=$(printf '%s' "$1" | b64u)
    mac=$(printf '%s.%s' "$p" "$pl" | o dgst -sha256 -mac HMAC -macopt "key:$EAB_KEY" -binary | b64u)
    printf '{"protected":"%s","payload":"%s","signature":"%s"}' "$p" "$pl" "$mac"
  }
  jwk rs256 >"$J/rs256.jwk"
  jwk es256 32 P-256 >"$J/es256.jwk"
  jwk es384 48 P-384 >"$J/es384.jwk"
  jwk es512 66 P-521 >"$J/es512.jwk"
  jwk eddsa >"$J/eddsa.jwk"
  for a in rs256:RS256 es256:ES256 es384:ES384 es512:ES512 eddsa:EdDSA; do
    k=${a%%:*}
    printf '{"alg":"%s","jwk":%s,"nonce":"%s","url":"%s/new-order"}' "${a#*:}" "$(cat "$J/$k.jwk")" \
      "$NONCE" "$URL" >"$J/$k.header"
    jws "$k" "$(cat "$J/$k.header")" '{"identifiers":[{"type":"dns","value":"www.example.test"}]}' "$J/$k.jws"
    seed acme_jws "$k.jws" "$J/$k.jws"
    seed acme_jws "$k.header" "$J/$k.header"
    seed acme_jws "$k.jwk" "$J/$k.jwk"
  done
  jws es256 "{\"alg\":\"ES256\",\"kid\":\"$URL/acct/1\",\"nonce\":\"$NONCE\",\"url\":\"$URL/order/1\"}" '' "$J/kid.jws"
  seed acme_jws kid-post-as-get.jws "$J/kid.jws"
  jws es256 "{\"alg\":\"ES256\",\"jwk\":$(cat "$J/es256.jwk"),\"nonce\":\"$NONCE\",\"url\":\"$URL/new-account\"}" \
    "{\"contact\":[\"mailto:admin@example.test\"],\"externalAccountBinding\":$(eab "$(cat "$J/es256.jwk")" "$URL/new-account"),\"termsOfServiceAgreed\":true}" \
    "$J/new-account-eab.jws"
  seed acme_jws new-account-eab.jws "$J/new-account-eab.jws"
  eab "$ACCOUNT_JWK" "$URL/new-account" >"$J/eab.json"
  seed acme_jws eab.json "$J/eab.json"
fi
# DNS responses as a resolver sends them, written out octet by octet: an A answer and two
# AAAA answers with compressed owners, a CNAME to a compressed target then its TXT (two
# strings) with an EDNS0 OPT record, NXDOMAIN with an SOA whose names are compressed, a
# truncated (TC) answer, SERVFAIL with an extended rcode; and a query name for the build side.
dns_seed() {  # name hex
  printf "$(sed 's/../\\x&/g' <<<"$2")" >"$W/$1"
  seed acme_dns "$1" "$W/$1"
}
dns_seed a 123481800001000100000000076578616d706c6504746573740000010001c00c000100010000012c0004c0000201
dns_seed aaaa 123481800001000200000000076578616d706c65047465737400001c0001c00c001c00010000012c001020010db8000000000000000000000001c00c001c00010000012c001020010db8000000000000000000000002
dns_seed txt_cname abcd818000010002000000010f5f61636d652d6368616c6c656e6765076578616d706c6504746573740000100001c00c000500010000012c00100461636d650864656c6567617465c024c03a001000010000012c002d154c6e4d3233493636682d39484c66566f7731534371165f4a585863506c36734446786975502d75724379545100002904d0000000000000
dns_seed nxdomain_soa 123481830001000000010000026e78076578616d706c6504746573740000010001c00f000600010000012c0026026e73c00f0a686f73746d6173746572c00f78a3f17500001c2000000e10001275000000012c
dns_seed truncated 1234838000010000000000000f5f61636d652d6368616c6c656e6765076578616d706c6504746573740000100001
dns_seed servfail_opt 123481820001000000000001076578616d706c650474657374000001000100002904d0010000000000
want acme_dns && printf '%s' '_acme-challenge.example.test.' >corpus/acme_dns/name

# Text parsers: hand-written seeds.
n=0
for s in 'CN=example.com,O=Example Corp,C=US' '/CN=a/O=b/OU=c' 'CN=a\,b,O=x\+y' 'CN=Ünïcode,O=テスト' \
         'dns:example.com' 'ip:192.0.2.1' 'ip:2001:db8::1' 'email:a@b.test' 'uri:https://x.test/p?q' \
         '*.example.com' '10.0.0.1' 'CN=' 'C=USA' 'serialNumber=1,emailAddress=a@b'; do
  printf '%s' "$s" >"corpus/names/seed$((n++))"
done
n=0
for s in '/api/v1/certificates?limit=10&cursor=abc&status=valid' '/api/v1/certificates/0a1b%2Fc' \
         '/a/b/../c' '/x?q=a+b%20c&k&=v' '/%00' '/%zz' '*' 'http://h/x' '/api/v1/teams/%C3%A9?x=%' \
         'application/json; charset=utf-8' 'APPLICATION/JSON ' 'text/plain'; do
  printf '%s' "$s" >"corpus/http_text/seed$((n++))"
done
# Whole requests as a socket delivers them; the first byte picks the read size (see the target).
n=0
for s in $'\x07GET /api/v1/certificates?limit=2 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer x\r\n\r\n' \
         $'\x10POST /api/v1/certificates HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"csr":"MII"}' \
         $'\x03POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n' \
         $'\x3fGET /a%2Fb/../c?q=%zz HTTP/1.1\r\nHost: h\r\n\r\n' \
         $'\x01GET / HTTP/1.0\r\n\r\n' \
         $'\x20PUT /x HTTP/1.1\r\nContent-Length: 99999\r\n\r\nabc' \
         $'\x05GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab' \
         $'\x09OPTIONS * HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n'; do
  printf '%s' "$s" >"corpus/http_request/seed$((n++))"
done
n=0
for s in '{"pem":"-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n","owner":"alice","tags":["a","b"]}' \
         '{"ttl":3600,"no_expiry":false,"sans":["dns:a.test","ip:192.0.2.1"],"validity":"90d"}' \
         '{"owner":null,"team":"t","ttl":1e400}' '{"tags":[1,2]}' '{"x":1}' '[1,2,3]' '"str"' \
         '{"pem":"\ud800"}' '{"ttl":-9223372036854775809}' '{"a":{"b":{"c":[[[[[]]]]]}}}' \
         '{"owner":"alice","team":null,"tags":["Prod","pci:scope"],"add_tags":["x"],"remove_tags":[]}' \
         '{"tags":null,"add_tags":["two words"]}' '{"owner":"line\nbreak","tags":["a","A","a"]}'; do
  printf '%s' "$s" >"corpus/body/seed$((n++))"
done
# SSH keys as their wire blobs: a key of each kind and a host certificate.
if want ssh_key; then
  for t in ed25519 ecdsa rsa; do
    ssh-keygen -q -t "$t" -N '' -f "$W/ssh_$t" $([[ $t == rsa ]] && echo -b 1024) </dev/null
    awk '{print $2}' "$W/ssh_$t.pub" | base64 -d >"$W/ssh_$t.blob"
    seed ssh_key "$t" "$W/ssh_$t.blob"
  done
  ssh-keygen -q -s "$W/ssh_rsa" -h -I host -n h.example -V -1d:+1d "$W/ssh_ed25519.pub"
  awk '{print $2}' "$W/ssh_ed25519-cert.pub" | base64 -d >"$W/ssh_cert.blob"
  seed ssh_key cert "$W/ssh_cert.blob"
fi
# Java keystores as keytool writes them (jks_fuzz tries "changeit"): a key entry, a trust store
# and a JCEKS.
if want jks || want file_contents; then
  kt() { keytool -noprompt -storepass changeit "$@" >/dev/null 2>&1; }
  kt -genkeypair -alias k -keyalg EC -groupname secp256r1 -dname CN=k -storetype JKS \
    -keypass changeit -keystore "$W/key.jks"
  kt -importcert -alias ca -file "$W/root.pem" -storetype JKS -keystore "$W/trust.jks"
  kt -genkeypair -alias k -keyalg EC -groupname secp256r1 -dname CN=k -storetype JCEKS \
    -keypass changeit -keystore "$W/key.jceks"
  for s in key.jks trust.jks key.jceks; do seed jks "$s" "$W/$s"; done
fi
# authorized_keys and known_hosts: quoted options, a hashed host, markers, a bad line.
if want openssh_lines; then
  ssh-keygen -q -t ed25519 -N '' -C c -f "$W/lines_ed" </dev/null
  k=$(cut -d' ' -f1,2 "$W/lines_ed.pub")
  printf '# c\nrestrict,command="a \\"b, c\\"",from="10.0.0.0/8" %s alice\n%s\nbad line\n' \
    "$k" "$k" >corpus/openssh_lines/authorized_keys
  printf 'a.test,[b.test]:22 %s\n' "$k" >"$W/kh"
  ssh-keygen -q -H -f "$W/kh"
  { cat "$W/kh"; printf '@cert-authority *.test %s ca\n@revoked * %s\n' "$k" "$k"; } \
    >corpus/openssh_lines/known_hosts
fi
# Whole files as the file scanner reads them: PEM with a key, DER, PKCS#7, PKCS#12, a JKS and an
# OpenSSH private key (file_contents_fuzz tries "changeit").
if want file_contents; then
  for f in mixed.pem root.der chain.p7b int.p7b.pem root.p12 certs.p12; do
    seed file_contents "$f" "$W/$f"
  done
  seed file_contents key.jks "$W/key.jks"
  ssh-keygen -q -t ed25519 -N '' -C c -f "$W/contents_ed" </dev/null
  seed file_contents id_ed25519 "$W/contents_ed"
fi
cat >corpus/config/full.toml <<'TOML'
data_dir = "/var/lib/certward"
log_level = "info"

[database]
driver = "sqlite"

[ca]
default_validity = "90d"

[server]
listen = "127.0.0.1:8443"

[profiles.web]
subject_template = "CN={cn},O=Example"
requires_approval = false
policy_oids = ["2.23.140.1.2.1"]
TOML
printf 'log_level = "debug"\n' >corpus/config/min.toml
printf '[profiles.x]\nca = true\npath_length = 0\n' >corpus/config/profile.toml
printf 'data_dir = \n' >corpus/config/bad.toml
printf '90d' >corpus/config/duration
printf '1y' >corpus/config/duration2
printf '[database]\nunknown_key = 1\n' >corpus/config/unknown.toml
chmod -R u=rwX,go=rX corpus
du -sb corpus/* | sort -n | tail -3
