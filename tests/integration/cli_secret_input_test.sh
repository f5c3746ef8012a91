#!/usr/bin/env bash
# Secrets read by the CLI (CA keys, their passphrases, key and PKCS#12 passwords) go straight
# into self-cleansing memory: the reader must still take every form a file may have. A key on
# stdin, a key file larger than one read buffer, passphrase files with and without a final
# newline, and passwords from the environment.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
  -subj "/CN=Secret Input CA" -days 365 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign -out "$T/ca.pem" 2>/dev/null
printf 'pass phrase\n' >"$T/pass-nl"
printf 'pass phrase' >"$T/pass"
openssl pkcs8 -topk8 -in "$T/ca.key" -passout file:"$T/pass" -out "$T/ca-enc.key" 2>/dev/null

# Encrypted key on stdin, passphrase file with a trailing newline.
cw ca import --name from-stdin --cert "$T/ca.pem" --key - --key-passphrase-file "$T/pass-nl" <"$T/ca-enc.key" >/dev/null && pass || fail "key on stdin, passphrase file with newline"
# A key file of more than 8 KiB (text before the PEM block is ignored by the key reader).
{ for i in $(seq 1 200); do echo "# comment line $i: padding that the PEM reader skips"; done; cat "$T/ca-enc.key"; } >"$T/big.key"
[[ $(wc -c <"$T/big.key") -gt 8192 ]] && pass || fail "big.key is not big"
cw ca import --name from-big-file --cert "$T/ca.pem" --key "$T/big.key" --key-passphrase-file "$T/pass" >/dev/null && pass || fail "key file larger than a read buffer"
export KEYPW="pass phrase"
cw ca import --name from-env --cert "$T/ca.pem" --key "$T/ca-enc.key" --key-passphrase-env KEYPW >/dev/null && pass || fail "passphrase from the environment"
assert_fails 3 bad_password "a passphrase file with another passphrase" cw ca import --name wrong --cert "$T/ca.pem" --key "$T/ca-enc.key" --key-passphrase-file "$T/ca.pem"
assert_fails 4 not_found "a key file that does not exist" cw ca import --name missing --cert "$T/ca.pem" --key "$T/nope.key"

# Generated keys encrypted with a password from a file; PKCS#12 with one from the environment.
cw issue --profile tls-server --key-type ec-p256 --cn www.example.test --out-cert "$T/c.pem" \
  --out-key "$T/c.key" --key-password-file "$T/pass-nl" 2>/dev/null && pass || fail "issue with --key-password-file"
head -1 "$T/c.key" | grep -q 'BEGIN ENCRYPTED PRIVATE KEY' && pass || fail "the key is encrypted"
openssl pkey -in "$T/c.key" -passin file:"$T/pass" -noout 2>/dev/null && pass || fail "the key opens with the passphrase"
export P12PW="p12 secret"
cw issue --profile tls-client --key-type ec-p256 --cn client-1 --p12 "$T/c.p12" --p12-password-env P12PW >/dev/null 2>&1 && pass || fail "issue --p12"
openssl pkcs12 -in "$T/c.p12" -passin env:P12PW -noout 2>/dev/null && pass || fail "the PKCS#12 opens with its password"
finish
