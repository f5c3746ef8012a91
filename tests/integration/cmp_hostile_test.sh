#!/usr/bin/env bash
# CMP (/.well-known/cmp) against a hostile client: `openssl cmp` with the options a client may
# abuse, and PKIMessages rewritten by cmp_hostile.py (re-MACed or re-signed where the attacker
# holds the key) posted with curl. Attacked: the protection (a flipped byte, a changed
# transactionID or nonce, no senderKID, a PBM iteration count above 10,000, a wrong secret, a
# credential of another kind, revoked, expired or used), the transaction (a replayed or twice-
# sent request, a certConf for another client's transaction, twice, after implicit
# confirmation; an error message or pollReq from the client), proof of possession (raVerified,
# none, a PKCS#10 whose signature fails), authorisation (rr and kur for another team's
# certificate, ir signed instead of MACed, kur by shared secret, a cr for another subject or
# with more names, CA extensions asked for in the template or the CSR, SANs outside a one-time
# credential's expected subject, a one-time credential raced 4x), and bytes that are no
# PKIMessage. What must hold: each is refused with CMP's own status or error (HTTP 400 for
# what is no PKIMessage), never 500 and never a hang, and nothing changes that should not —
# no certificate, no credential use, no transaction row or state, no revocation, no
# supersession; what is issued carries only the names and extensions the requester may have.
# Afterwards the server still answers and the audit chain verifies.
source "$(dirname "$0")/lib.sh"

HOSTILE_PY="$(cd "$(dirname "$0")" && pwd)/cmp_hostile.py"
start_server
A=$ADMIN_TOKEN
HOSTPORT=${HTTP_BASE#http://}
must 201 POST /api/v1/teams '{"name":"plant","allowed_profiles":["device"],"allowed_domains":["plant.example.test"]}'
must 201 POST /api/v1/teams '{"name":"other","allowed_profiles":["device"],"allowed_domains":["other.example.test"]}'
credential() {  # body -> sets ID and SECRET
  must 201 POST /api/v1/enrollment/credentials "$1"
  ID=$(jq -r .id "$T/resp")
  SECRET=$(jq -r .secret "$T/resp")
}
"$CERTWARD_BIN" ca export issuing >"$T/issuing.pem"
cd "$T"
for i in $(seq 1 16); do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "k$i.pem" 2>/dev/null; done

# cmp ARGS... -> exit code; output in $T/cmp.out
cmp_() {
  local rc=0
  timeout 60 openssl cmp -server "$HOSTPORT" -path .well-known/cmp -recipient /CN=certward \
    -msg_timeout 20 "$@" >cmp.out 2>&1 || rc=$?
  echo "$rc"
}
# capture FILE ARGS...: the request `openssl cmp` builds, written to FILE and never sent (the
# server named is a closed port).
DEAD=127.0.0.1:$(free_port)
capture() {
  local out=$1
  shift
  timeout 30 openssl cmp -server "$DEAD" -path .well-known/cmp -recipient /CN=certward -msg_timeout 5 \
    -reqout "$out" "$@" >capture.out 2>&1 || true
  [[ -s $out ]] || { echo "setup failed: no request captured: $(tail -3 capture.out)" >&2; exit 1; }
}
hostile() { python3 "$HOSTILE_PY" "$@"; }
# post FILE [PATH] -> HTTP status; the answer in $T/rsp.der
post() {
  curl -s -o rsp.der -w '%{http_code}' --max-time 30 -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$1" "$HTTP_BASE${2:-/.well-known/cmp}"
}
# show FILE FIELD: a field of `cmp_hostile.py show`
show() { hostile show "$1" | sed -n "s/^$2=//p"; }
trusted=(-trusted root.pem -untrusted issuing.pem)
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'; }
cert_hash() { openssl x509 -in "$1" -outform DER | sha256sum | cut -c1-64; }
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
rand_hex() { openssl rand -hex 16; }
count() { db_scalar "SELECT COUNT(*) FROM certificates"; }
uses() { db_scalar "SELECT uses FROM enrollment_credentials WHERE id = '$1'"; }
tx_state() { db_scalar "SELECT state FROM cmp_transactions WHERE transaction_id = '$1'"; }
revoked() { db_scalar "SELECT COALESCE(revoked_at, '') FROM certificates WHERE fingerprint = '$(fp "$1")'"; }
# Everything a refused request must leave as it was: the certificates (rows and their mutable
# columns), the transactions (rows and states), the credentials' uses.
snap() {
  db_scalar "SELECT COUNT(*) FROM certificates; SELECT COUNT(*) FROM cmp_transactions;
    SELECT COALESCE(SUM(uses), 0) FROM enrollment_credentials; SELECT COUNT(*) FROM enrollment_credential_uses;
    SELECT fingerprint, revoked_at, revocation_reason, superseded_by FROM certificates ORDER BY fingerprint;
    SELECT transaction_id, certificate, state, hex(server_nonce) FROM cmp_transactions ORDER BY transaction_id;" |
    sha256sum | cut -c1-16
}

# refused NAME PATTERN ARGS...: `openssl cmp ARGS` fails, its output matches PATTERN (the
# server's status or error as the client prints it), and nothing changed.
refused() {
  local name=$1 pattern=$2 before rc
  shift 2
  before=$(snap)
  rc=$(cmp_ "$@")
  [[ $rc != 0 ]] && pass || fail "$name: the client succeeded"
  grep -qiE "$pattern" cmp.out && pass || fail "$name: want /$pattern/ in: $(grep -iE 'error|status|fail' cmp.out | head -4 | tr '\n' ' ')"
  assert_eq "$before" "$(snap)" "$name: nothing changed"
}
# refused_raw NAME FILE BODY [PATTERN]: FILE posted is answered with HTTP 200 and a PKIMessage
# whose body is BODY (23 error; 1, 3, 8 ip/cp/kup with status rejection(2); 19 pkiConf; ...)
# and whose status text matches PATTERN; nothing changed.
refused_raw() {
  local name=$1 file=$2 want=$3 pattern=${4:-} before code got
  before=$(snap)
  code=$(post "$file")
  assert_eq 200 "$code" "$name: HTTP status ($(head -c 200 rsp.der | tr -cd '[:print:]'))"
  if [[ $code == 200 ]]; then
    got=$(show rsp.der body)
    case $got in 1 | 3 | 8 | 12) got="$got/$(show rsp.der status)" ;; esac
    case $want in 1 | 3 | 8 | 12) want="$want/2" ;; esac
    assert_eq "$want" "$got" "$name: answer body (text: $(show rsp.der text))"
    if [[ -n $pattern ]]; then
      show rsp.der text | grep -qiE "$pattern" && pass || fail "$name: want /$pattern/ in '$(show rsp.der text)'"
    fi
  fi
  assert_eq "$before" "$(snap)" "$name: nothing changed"
}
# bad_http NAME FILE: HTTP 400, nothing changed.
bad_http() {
  local before
  before=$(snap)
  assert_eq 400 "$(post "$2")" "$1: HTTP status"
  assert_eq "$before" "$(snap)" "$1: nothing changed"
}

# --- who is who ------------------------------------------------------------------------------------
credential '{"kind":"cmp","team":"plant","profile":"device","max_uses":0}'
ST_ID=$ID ST=$SECRET
credential '{"kind":"cmp","team":"other","profile":"device","max_uses":0}'
OT_ID=$ID OT=$SECRET
# a1 (plant) and o1 (other), each enrolled with a certConf; a1's messages kept.
assert_eq 0 "$(cmp_ -cmd ir -ref "$ST_ID" -secret "pass:$ST" -newkey k1.pem -subject /CN=a1.plant.example.test \
  -certout a1.pem -reqout ir_a1.der,cc_a1.der -rspout ip_a1.der,conf_a1.der)" "setup: ir a1: $(tail -3 cmp.out)"
assert_eq 0 "$(cmp_ -cmd ir -ref "$OT_ID" -secret "pass:$OT" -newkey k2.pem -subject /CN=o1.other.example.test \
  -certout o1.pem)" "setup: ir o1: $(tail -3 cmp.out)"
assert_eq 0 "$(cmp_ -cmd cr -cert o1.pem -key k2.pem "${trusted[@]}" -newkey k3.pem -subject /CN=o1.other.example.test \
  -certout o2.pem -reqout cr_o2.der,cc_o2.der)" "setup: cr o2 signed by o1: $(tail -3 cmp.out)"
A1_TID=$(show ir_a1.der tid)
assert_eq confirmed "$(tx_state "$A1_TID")" "setup: a1's transaction is confirmed"

# --- the protection ---------------------------------------------------------------------------------
capture fresh.der -cmd ir -ref "$ST_ID" -secret "pass:$ST" -newkey k4.pem -subject /CN=f1.plant.example.test -certout x.pem
# A byte of the protected part flipped (the subject's name), the MAC left as it was.
hostile fresh.der flip.der --replace "$(printf f1.plant | xxd -p)" "$(printf g1.plant | xxd -p)"
refused_raw "a flipped byte in the body" flip.der 23
hostile fresh.der flip.der --tid "$(rand_hex)"
refused_raw "a changed transactionID, not MACed again" flip.der 23
hostile fresh.der flip.der --sender-nonce "$(rand_hex)"
refused_raw "a changed senderNonce, not MACed again" flip.der 23
hostile fresh.der flip.der --mac-garbage
refused_raw "a MAC of zeros" flip.der 23
hostile fresh.der flip.der --kid - --secret "$ST"
refused_raw "PBM protection without a senderKID" flip.der 23
hostile fresh.der flip.der --kid "$OT_ID" --secret "$ST"
refused_raw "another credential's reference, MACed with mine" flip.der 23
hostile fresh.der flip.der --kid "$OT_ID" --secret "$ST" --tid "$(rand_hex)" --body-type 2
refused_raw "the same as a cr" flip.der 23
# PBM's iteration count: the secret's holder MACs with 10,001 iterations (more work than the
# server allows); huge counts are refused without computing (the MAC is zeros).
hostile fresh.der flip.der --iterations 10001 --secret "$ST"
refused_raw "10,001 PBM iterations" flip.der 23
for n in 100000 2147483647; do
  hostile fresh.der flip.der --iterations "$n" --mac-garbage
  start=$(date +%s%N)
  refused_raw "$n PBM iterations" flip.der 23
  assert_below 2 "$(( ($(date +%s%N) - start) / 1000000 )).0e-3" "$n PBM iterations: answered at once (s)"
done
hostile fresh.der flip.der --iterations 99 --secret "$ST"
refused_raw "99 PBM iterations (below OpenSSL's minimum)" flip.der 23
hostile fresh.der flip.der --iterations 4294967296 --mac-garbage
bad_http "a 5-byte iteration count" flip.der
hostile fresh.der flip.der --iterations 10000 --secret "$ST"
before=$(count)
assert_eq 200 "$(post flip.der)" "10,000 PBM iterations: HTTP status"
assert_eq "1/0" "$(show rsp.der body)/$(show rsp.der status)" "10,000 PBM iterations are accepted (the bound itself): $(show rsp.der text)"
assert_eq $((before + 1)) "$(count)" "10,000 PBM iterations: one certificate"
# Sent again, as it was: its transactionID is in use.
refused_raw "the same request sent twice" flip.der 1 'transactionID in use'

refused "a wrong secret" 'received error:PKIStatus: rejection.*missing secret' "${trusted[@]}" -cmd ir -ref "$ST_ID" -secret pass:wrong -newkey k4.pem -subject /CN=f1.plant.example.test -certout x.pem
refused "an unprotected ir" 'received error:PKIStatus: rejection.*missing protection' "${trusted[@]}" -cmd ir -unprotected_requests -newkey k4.pem -subject /CN=f1.plant.example.test -certout x.pem
refused "an ir signed by a certificate (not a shared secret)" 'rejection; PKIFailureInfo: notAuthorized; StatusString: "initial requests are protected by a shared secret"' \
  -cmd ir -cert a1.pem -key k1.pem "${trusted[@]}" -newkey k4.pem -subject /CN=a1.plant.example.test -certout x.pem
refused "a kur protected by a shared secret" 'rejection; PKIFailureInfo: notAuthorized; StatusString: "a kur is signed by the certificate it updates"' \
  -cmd kur -ref "$ST_ID" -secret "pass:$ST" -oldcert a1.pem -newkey k4.pem -certout x.pem
credential '{"kind":"est","team":"plant","profile":"device","max_uses":0}'
refused "an EST credential" 'received error:PKIStatus: rejection.*missing secret' "${trusted[@]}" -cmd ir -ref "$ID" -secret "pass:$SECRET" -newkey k4.pem -subject /CN=f1.plant.example.test -certout x.pem
credential '{"kind":"scep","team":"plant","profile":"device","max_uses":0}'
refused "a SCEP credential" 'received error:PKIStatus: rejection.*missing secret' "${trusted[@]}" -cmd ir -ref "$ID" -secret "pass:$SECRET" -newkey k4.pem -subject /CN=f1.plant.example.test -certout x.pem
credential '{"kind":"cmp","team":"plant","profile":"device","max_uses":0}'
must 200 DELETE "/api/v1/enrollment/credentials/$ID"
refused "a revoked credential" 'notAuthorized; StatusString: "the credential is revoked"' -cmd ir -ref "$ID" -secret "pass:$SECRET" -newkey k4.pem -subject /CN=f1.plant.example.test -certout x.pem
assert_eq 0 "$(uses "$ID")" "the revoked credential was not used"
credential '{"kind":"cmp","team":"plant","profile":"device","max_uses":0}'
db_scalar "UPDATE enrollment_credentials SET expires_at = $(($(date +%s) - 60)) WHERE id = '$ID'"
refused "an expired credential" 'notAuthorized; StatusString: "the credential is expired"' -cmd ir -ref "$ID" -secret "pass:$SECRET" -newkey k4.pem -subject /CN=f1.plant.example.test -certout x.pem
assert_eq 0 "$(uses "$ID")" "the expired credential was not used"

# --- transactions -----------------------------------------------------------------------------------
# Sent as it was, a1's ir: its transactionID is in use.
refused_raw "a1's ir replayed" ir_a1.der 1 'transactionID in use'
# A request never sent, posted 4x at once: one certificate, one transaction.
capture fresh2.der -cmd ir -ref "$ST_ID" -secret "pass:$ST" -newkey k4.pem -subject /CN=f2.plant.example.test -certout x.pem
before=$(count)
pids=()
for i in 1 2 3 4; do
  curl -s -o "par$i.der" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/pkixcmp' \
    --data-binary @fresh2.der "$HTTP_BASE/.well-known/cmp" >"par$i.code" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
assert_eq "200 200 200 200" "$(cat par1.code par2.code par3.code par4.code | tr '\n' ' ' | sed 's/ $//' | sed 's/\([0-9]\)\([0-9]\{3\}\)/\1 \2/g')" "the same request 4x at once: HTTP status"
accepted=0
for i in 1 2 3 4; do [[ $(show "par$i.der" body)/$(show "par$i.der" status) == 1/0 ]] && accepted=$((accepted + 1)); done
assert_eq 1 "$accepted" "the same request 4x at once: accepted once"
assert_eq $((before + 1)) "$(count)" "the same request 4x at once: one certificate"
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM cmp_transactions WHERE transaction_id = '$(show fresh2.der tid)'")" "and one transaction"

# The victim: a one-time credential, its ir not confirmed (the client sends no certConf).
credential '{"kind":"cmp","team":"plant","profile":"device","expected_subject":"v1.plant.example.test"}'
V_ID=$ID V=$SECRET
assert_eq 0 "$(cmp_ -cmd ir -ref "$V_ID" -secret "pass:$V" -newkey k5.pem -subject /CN=v1.plant.example.test \
  -certout v1.pem -disable_confirm -reqout ir_v1.der -rspout ip_v1.der)" "setup: the victim's ir: $(tail -3 cmp.out)"
V_TID=$(show ir_v1.der tid)
V_NONCE=$(show ip_v1.der sender_nonce)
assert_eq waiting "$(tx_state "$V_TID")" "setup: the victim's transaction waits for its certConf"
# Another client (a static credential of the same team) sends a certConf for it: its own
# certConf rewritten to the victim's transactionID, the server's nonce (seen on the wire), the
# victim's certHash and a rejection, MACed with its own secret.
hostile cc_a1.der cc.der --tid "$V_TID" --recip-nonce "$V_NONCE" --cert-hash "$(cert_hash v1.pem)" --reject --secret "$ST"
refused_raw "a certConf for another client's transaction (MACed by another credential)" cc.der 23
hostile cc_a1.der cc.der --tid "$V_TID" --recip-nonce "$V_NONCE" --cert-hash "$(cert_hash v1.pem)" --reject --kid - --no-extra-certs --sign k1.pem
refused_raw "the same, signed by another client's certificate" cc.der 23
assert_eq waiting "$(tx_state "$V_TID")" "the victim's transaction still waits"
assert_eq "" "$(revoked v1.pem)" "the victim's certificate is not revoked"
# An error message and a pollReq from another client for the victim's transaction.
hostile cc_a1.der err.der --body-type 23 --body 3005300302010'2' --tid "$V_TID" --recip-nonce "$V_NONCE" --secret "$ST"
refused_raw "an error message from another client for the victim's transaction" err.der 19
hostile cc_a1.der poll.der --body-type 25 --body 30053003020100 --tid "$V_TID" --recip-nonce "$V_NONCE" --secret "$ST"
refused_raw "a pollReq" poll.der 23
hostile cc_a1.der poll.der --body-type 25 --body 30053003020100 --tid "$V_TID" --recip-nonce "$V_NONCE" --kid "$V_ID" --secret "$V"
refused_raw "a pollReq from the victim itself" poll.der 23
hostile ip_a1.der ip.der --tid "$(rand_hex)" --kid "$ST_ID" --secret "$ST"
refused_raw "an ip sent to the server" ip.der 23
# The victim's own certConf (the same rewriting, with its secret and acceptance) is taken:
# what was refused above was refused for who sent it.
hostile cc_a1.der cc.der --tid "$V_TID" --recip-nonce "$V_NONCE" --cert-hash "$(cert_hash v1.pem)" --kid "$V_ID" --secret "$V"
assert_eq 200 "$(post cc.der)" "the victim's own certConf: HTTP status"
assert_eq 19 "$(show rsp.der body)" "the victim's own certConf is answered with pkiConf ($(show rsp.der text))"
assert_eq confirmed "$(tx_state "$V_TID")" "and confirms its transaction"
# A certConf twice: a1's, as it was; then a1's rejecting a1 after the confirmation.
refused_raw "a1's certConf sent again" cc_a1.der 23
hostile cc_a1.der cc.der --reject --secret "$ST"
refused_raw "a1's certConf rejecting a1 after confirmation" cc.der 23
assert_eq "" "$(revoked a1.pem)" "a1 is not revoked"
# A certConf after implicit confirmation.
assert_eq 0 "$(cmp_ -cmd ir -ref "$ST_ID" -secret "pass:$ST" -newkey k6.pem -subject /CN=i1.plant.example.test \
  -certout i1.pem -implicit_confirm -reqout ir_i1.der -rspout ip_i1.der)" "setup: ir with implicit confirmation: $(tail -3 cmp.out)"
I_TID=$(show ir_i1.der tid)
assert_eq confirmed "$(tx_state "$I_TID")" "setup: implicitly confirmed"
hostile cc_a1.der cc.der --tid "$I_TID" --recip-nonce "$(show ip_i1.der sender_nonce)" --cert-hash "$(cert_hash i1.pem)" --reject --secret "$ST"
refused_raw "a certConf rejecting an implicitly confirmed certificate" cc.der 23
assert_eq "" "$(revoked i1.pem)" "i1 is not revoked"
