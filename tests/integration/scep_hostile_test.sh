#!/usr/bin/env bash
# A hostile SCEP (RFC 8894) client (scep_hostile.py, on the small client in scep_client.py that
# builds pkiMessages by hand the way certmonger builds them) against a real `certward serve`:
# messages that are not base64, cut short, empty, over 64 KiB or of a type no client sends (a
# CertRep, an unknown number); outer signatures that fail, envelopes to another recipient or in
# single DES, CSRs whose own signature fails; wrong, used, expired, revoked and EST challenges,
# dynamic challenges used for another device or with names beside their own; replayed messages
# and nonces, transactionIDs reused with another CSR or another team's challenge; renewals
# signed by a self-signed, a revoked, an expired, a superseded or a REST-issued certificate,
# renewals that change the subject or add another team's names; GetCert for another device's
# certificate, GetCRL and CertPoll for what is not there; signers with an EC key, which no
# answer can be enveloped to; one challenge and one renewal raced four times.
#
# What must hold: each refusal is a CertRep FAILURE signed by the RA with the right failInfo
# (badAlg, badMessageCheck, badRequest, badCertId), or HTTP 400 for what cannot be read, and
# changes nothing (certificates, credential uses, SCEP transactions), a badAlg for an EC
# signer included: nothing is issued or renewed that the client is told failed. Each success
# (a challenge, a retry of an answered transactionID, a renewal, GetCert, GetCRL, CertPoll) is
# enveloped to the requester and verifies to the root; a retry uses no credential again; a
# renewal supersedes the old certificate, which renews no more.
source "$(dirname "$0")/lib.sh"

start_server
"$CERTWARD_BIN" ca export issuing >"$T/issuing.pem"

# Debian's interpreter, with its python3-cryptography and python3-requests.
rc=0
HTTP_BASE=$HTTP_BASE BASE=$BASE ADMIN_TOKEN=$ADMIN_TOKEN ROOT=$T/root.pem ISSUING=$T/issuing.pem \
  TMPDIR=$T timeout 600 /usr/bin/python3 "$(dirname "$0")/scep_hostile.py" >"$T/hostile.out" 2>&1 ||
  rc=$?
while IFS= read -r line; do
  case $line in
    "ok   "*) pass ;;
    "FAIL "*) fail "${line#FAIL }" ;;
  esac
done <"$T/hostile.out"
tail -1 "$T/hostile.out" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$' ||
  fail "scep_hostile.py did not finish (exit $rc): $(tail -5 "$T/hostile.out")"

# Whatever it was sent, the server still answers SCEP and its audit chain holds.
caps=$(curl -s -m 10 "$HTTP_BASE/scep?operation=GetCACaps")
grep -qx POSTPKIOperation <<<"$caps" && pass || fail "GetCACaps after the attacks: $caps"
cw audit verify >/dev/null 2>&1 && pass || fail "the audit chain verifies"

stop_server
finish
