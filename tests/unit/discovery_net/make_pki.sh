#!/usr/bin/env bash
# Makes the certificates the scanner tests serve, with the openssl CLI: a root and an
# intermediate, and one leaf per case the scanner must tell apart.
# Usage: make_pki.sh DIR CRL_URL OCSP_URL
set -euo pipefail
cd "$1"
export CRL_URL=$2 OCSP_URL=${3:-http://127.0.0.1:1/}
cat >ca.cnf <<'CNF'
[ca]
default_ca = intermediate
[intermediate]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
default_days = 365
default_crl_days = 7
policy = any
copy_extensions = copy
unique_subject = no
email_in_dn = no
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
[leaf_crl]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
crlDistributionPoints = URI:$ENV::CRL_URL
[leaf_ocsp]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
authorityInfoAccess = OCSP;URI:$ENV::OCSP_URL
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[req]
distinguished_name = dn
[dn]
CNF
mkdir -p issued
: >index.txt
echo 1000 >serial
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -config ca.cnf -x509 "${ec[@]}" -keyout root.key -out root.crt -subj "/CN=Scan Test Root" \
  -days 3650 -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -config ca.cnf -new "${ec[@]}" -keyout inter.key -out inter.csr -subj "/CN=Scan Test Intermediate" 2>/dev/null
openssl x509 -req -in inter.csr -CA root.crt -CAkey root.key -CAcreateserial -days 3650 \
  -extfile ca.cnf -extensions ca_ext -out inter.crt 2>/dev/null

# leaf NAME SAN-NAME [openssl ca options...]: NAME.key, NAME.crt (and NAME-chain.pem with the
# intermediate).
# SAN-NAME may be a full subjectAltName value ("IP:127.0.0.1").
leaf() {
  local name=$1 san=$2 keyopt
  shift 2
  keyopt=("${ec[@]}")
  [[ $name == rsa1024 ]] && keyopt=(-newkey rsa:1024 -nodes)
  local alt="DNS:$san"
  [[ $san == *:* ]] && alt=$san
  openssl req -config ca.cnf -new "${keyopt[@]}" -keyout "$name.key" -out "$name.csr" \
    -subj "/CN=${san#*:}" -addext "subjectAltName=$alt" 2>/dev/null
  openssl ca -config ca.cnf -batch -notext -cert inter.crt -keyfile inter.key -in "$name.csr" \
    -out "$name.crt" -extensions leaf "$@" 2>/dev/null
  cat "$name.crt" inter.crt >"$name-chain.pem"
}
leaf valid valid.test
# Two names on one port, each signed by the root itself so that neither needs a chain.
for name in a b; do
  openssl req -config ca.cnf -new "${ec[@]}" -keyout "$name.key" -out "$name.csr" \
    -subj "/CN=$name.test" -addext "subjectAltName=DNS:$name.test" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA root.crt -CAkey root.key -CAcreateserial -days 365 \
    -copy_extensions copy -extfile ca.cnf -extensions leaf -out "$name.crt" 2>/dev/null
done
leaf expired expired.test -startdate 20200101000000Z -enddate 20210101000000Z
leaf future future.test -startdate 20400101000000Z -enddate 20410101000000Z
leaf rsa1024 weak.test
leaf sha1 sha1.test -md sha1
leaf revoked revoked.test
leaf crlrevoked crl.test -extensions leaf_crl
leaf ocsprevoked ocsp.test -extensions leaf_ocsp
leaf ip_here IP:127.0.0.1
leaf ip_elsewhere IP:192.0.2.7
openssl ca -config ca.cnf -batch -cert inter.crt -keyfile inter.key -revoke revoked.crt 2>/dev/null
openssl ca -config ca.cnf -batch -cert inter.crt -keyfile inter.key -revoke crlrevoked.crt 2>/dev/null
openssl ca -config ca.cnf -batch -cert inter.crt -keyfile inter.key -revoke ocsprevoked.crt 2>/dev/null
openssl ca -config ca.cnf -batch -cert inter.crt -keyfile inter.key -gencrl -out inter.crl.pem 2>/dev/null
openssl crl -in inter.crl.pem -outform DER -out inter.crl

# OCSP responses, signed by the intermediate: to staple, and the responder's answer for ocsp.test.
for name in valid revoked ocsprevoked; do
  openssl ocsp -issuer inter.crt -cert "$name.crt" -no_nonce -reqout "$name.req" >/dev/null 2>&1
  openssl ocsp -index index.txt -rsigner inter.crt -rkey inter.key -CA inter.crt \
    -reqin "$name.req" -respout "$name.ocsp" -ndays 7 >/dev/null 2>&1
done

# Self-signed as `openssl req -x509` makes them by default.
openssl req -x509 "${ec[@]}" -keyout self.key -out self.crt -subj "/CN=self.test" \
  -addext "subjectAltName=DNS:self.test" -days 365 2>/dev/null
openssl x509 -in root.crt -outform DER -out root.der
