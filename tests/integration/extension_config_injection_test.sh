#!/usr/bin/env bash
# Name constraints are parsed before they reach OpenSSL's extension configuration string, but
# the CRL and OCSP URLs are not: `[ca] crl_base_url` / `ocsp_url` (and CERTWARD_CRL_BASE_URL /
# CERTWARD_OCSP_URL) are pasted into "URI:<url>" / "OCSP;URI:<url>" and handed to
# X509V3_EXT_conf_nid, so a comma in the value adds further entries of the attacker's choosing
# to every certificate issued: a second CRL distribution point (ldap://evil.test/...) and a
# second OCSP responder. Whoever can set the server's environment or configuration is trusted,
# so this is low severity, but it is the injection the name-constraint parser was built to
# prevent, and such a value is accepted without a word.
# Expected: the URL settings are validated as URIs at load time (a comma or whitespace refused,
# exit 3), or the extensions are built with the typed API; each certificate carries exactly
# one CRL distribution point and one OCSP URL.
source "$(dirname "$0")/lib.sh"
cw init >/dev/null
export CERTWARD_CRL_BASE_URL='http://crl.example.test/c,URI:ldap://evil.test/x'
export CERTWARD_OCSP_URL='http://ocsp.example.test,OCSP;URI:http://evil.test/ocsp'
rc=0
cw issue --profile tls-server --key-type ec-p256 --cn a.example.test --out-cert "$T/c.pem" --out-key "$T/k.pem" \
  2>"$T/err" || rc=$?
if [[ $rc == 3 ]]; then
  pass
else
  assert_eq 0 "$rc" "issue ($(cat "$T/err"))"
  openssl x509 -in "$T/c.pem" -noout -ext crlDistributionPoints,authorityInfoAccess >"$T/ext.txt"
  assert_eq 1 "$(grep -c 'URI:' <(sed -n '/CRL Distribution/,/Authority Information/p' "$T/ext.txt"))" \
    "CRL distribution points in the certificate ($(tr -s ' \n' ' ' <"$T/ext.txt"))"
  assert_eq 1 "$(grep -c 'OCSP - URI:' "$T/ext.txt")" "OCSP URLs in the certificate"
fi
finish
