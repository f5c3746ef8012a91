#!/usr/bin/env bash
# `certward ca crl`: an offline authority's CRLs from the CLI. Nothing before a publication;
# --publish makes what is due and writes it (PEM or DER, full or delta); the root's CRL (an
# ARL) lists a revoked intermediate; bad input is one line and an exit code.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
cw ca export root >"$T/root.pem"
assert_exit 4 "no CRL before a publication" cw ca crl root
assert_exit 0 "publish and write" cw ca crl root --publish -o "$T/root.crl.pem"
if openssl crl -in "$T/root.crl.pem" -CAfile "$T/root.pem" -noout 2>&1 | grep -q 'verify OK'; then pass; else fail "the root's CRL does not verify"; fi
assert_eq "crlNumber=0x01" "$(openssl crl -in "$T/root.crl.pem" -noout -crlnumber)" "first full CRL"
assert_eq "crlNumber=0x02" "$(cw ca crl root --delta --der | openssl crl -inform DER -noout -crlnumber)" "its delta CRL"
assert_exit 0 "nothing due: the same CRL" cw ca crl root --publish -o "$T/again.pem"
assert_eq "$(cat "$T/root.crl.pem")" "$(cat "$T/again.pem")" "nothing published when nothing is due"

cw ca create --name team-a --kind issuing --parent root --subject "CN=Team A CA" >/dev/null
serial=$(cw ca export team-a | openssl x509 -noout -serial | cut -d= -f2)
cw ca revoke team-a --reason cACompromise >/dev/null
cw ca crl root --publish >"$T/arl.pem"
openssl crl -in "$T/arl.pem" -noout -text >"$T/arl.txt"
if grep -qi "Serial Number: $serial\$" "$T/arl.txt" && grep -q "CA Compromise" "$T/arl.txt"; then pass; else fail "the ARL does not list the revoked intermediate: $(cat "$T/arl.txt")"; fi

assert_exit 4 "unknown authority" cw ca crl nope --publish
assert_exit 6 "a revoked authority publishes no more" cw ca crl team-a --publish
assert_exit 3 "client mode" cw --server https://127.0.0.1:1 --token x ca crl root
finish
