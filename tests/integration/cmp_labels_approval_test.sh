#!/usr/bin/env bash
# CMP labels and approvals against a real `certward serve`, driven by `openssl cmp`:
# - a label (/.well-known/cmp/p/<label>) enrolls its own profile: a credential made for it
#   enrolls there and nowhere else, a credential for another profile is refused there, an
#   unknown label is HTTP 404, and a credential cannot be made for a label of another profile;
# - a profile that requires approval holds the request (PKIStatus waiting): the client polls
#   (pollReq/pollRep) until an approver issues the certificate, which it then receives and
#   confirms; a held kur supersedes the old certificate when the new one is delivered; a
#   rejected request ends the client's polling with a rejection and issues nothing;
# - hostile polls: another credential's pollReq for a held transaction, the client's own first
#   pollReq replayed, a poll at another endpoint than the transaction's, and a poll after
#   delivery each get CMP's error and move nothing; the client still completes; three polls
#   racing after approval get the certificate delivered once; a second kur of a certificate
#   while one waits is refused; an rr at a label of another profile revokes nothing.
source "$(dirname "$0")/lib.sh"
HOSTILE="$(cd "$(dirname "$0")" && pwd)/cmp_hostile.py"

cat >"$T/certward.toml" <<EOT
[cmp]
check_after_seconds = 1

[cmp.labels.plain]
profile = "device"

[cmp.labels.gated]
profile = "gated-device"

[profiles.gated-device]
description = "Devices an approver lets in"
allowed_domains = ["plant.example.test"]
requires_approval = true
EOT
export CERTWARD_CONFIG="$T/certward.toml"
start_server
A=$ADMIN_TOKEN
HOSTPORT=${HTTP_BASE#http://}
must 201 POST /api/v1/teams '{"name":"plant","allowed_profiles":["device","gated-device"],"allowed_domains":["plant.example.test"]}'
"$CERTWARD_BIN" ca export issuing >"$T/issuing.pem"
cd "$T"
for i in 1 2 3 4 5 6; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "k$i.pem" 2>/dev/null; done

# cmp PATH ARGS... -> exit code; output in $T/cmp.out
cmp_() {
  local path=$1 rc=0
  shift
  timeout 90 openssl cmp -server "$HOSTPORT" -path "$path" -recipient /CN=certward \
    -msg_timeout 20 -total_timeout 80 "$@" >cmp.out 2>&1 || rc=$?
  echo "$rc"
}
trusted=(-trusted root.pem -untrusted issuing.pem)
verify() { openssl verify -CAfile root.pem -untrusted issuing.pem "$1" >/dev/null; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'; }
count() { db_scalar "SELECT COUNT(*) FROM certificates"; }
pending() { db_scalar "SELECT COUNT(*) FROM approval_requests WHERE status = 'pending'"; }
one_pending() { [[ $(pending) == 1 ]]; }

# --- labels ------------------------------------------------------------------------------------
credential '{"kind":"cmp","team":"plant","profile":"device","label":"plain","expected_subject":"l1.plant.example.test"}'
L1_ID=$ID L1=$SECRET
before=$(count)
[[ $(cmp_ .well-known/cmp -cmd ir -ref "$L1_ID" -secret "pass:$L1" -newkey k1.pem -subject /CN=l1.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "a label's credential is refused at the unlabelled endpoint"
grep -qi 'another label' cmp.out && pass || fail "as made for another label: $(tail -3 cmp.out)"
assert_eq "$before" "$(count)" "and nothing was issued"
assert_eq 0 "$(cmp_ .well-known/cmp/p/plain -cmd ir -ref "$L1_ID" -secret "pass:$L1" -newkey k1.pem -subject /CN=l1.plant.example.test \
  -certout l1.pem)" "the label's credential enrolls at its label: $(tail -3 cmp.out)"
verify l1.pem && pass || fail "the label's certificate verifies"
assert_eq 200 "$(api GET "/api/v1/certificates/$(fp l1.pem)" "$A")" "it is in the inventory"
assert_eq device "$(jq -r .profile "$T/resp")" "with the label's profile"

credential '{"kind":"cmp","team":"plant","profile":"device","max_uses":0}'
DEV_ID=$ID DEV=$SECRET
before=$(count)
[[ $(cmp_ .well-known/cmp/p/gated -cmd ir -ref "$DEV_ID" -secret "pass:$DEV" -newkey k2.pem -subject /CN=x.plant.example.test -certout x.pem) != 0 ]] &&
  pass || fail "a credential for another profile is refused at a label"
grep -qi "another profile than this label" cmp.out && pass || fail "as for another profile: $(tail -3 cmp.out)"
[[ $(cmp_ .well-known/cmp/p/gated -cmd cr -cert l1.pem -key k1.pem "${trusted[@]}" -newkey k2.pem -certout x.pem) != 0 ]] &&
  pass || fail "a certificate of another profile cannot sign a cr at a label"
assert_eq "$before" "$(count)" "nothing was issued"
assert_eq 0 "$(db_scalar "SELECT COUNT(*) FROM approval_requests")" "and nothing was held"
[[ $(cmp_ .well-known/cmp/p/gated -cmd rr -oldcert l1.pem -cert l1.pem -key k1.pem "${trusted[@]}") != 0 ]] &&
  pass || fail "an rr at a label of another profile is refused"
assert_eq "" "$(db_scalar "SELECT revoked_at FROM certificates WHERE fingerprint = '$(fp l1.pem)'")" "and revokes nothing"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkixcmp' --data-binary @/dev/null "$HTTP_BASE/.well-known/cmp/p/nosuch")
assert_eq 400 "$code" "an empty body"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out kx.pem 2>/dev/null
cmp_ .well-known/cmp -cmd ir -ref "$DEV_ID" -secret pass:wrong -newkey kx.pem -subject /CN=x.plant.example.test \
  -certout x.pem -reqout probe.der >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkixcmp' --data-binary @probe.der "$HTTP_BASE/.well-known/cmp/p/nosuch")
assert_eq 404 "$code" "an unknown label is not found"
code=$(api POST /api/v1/enrollment/credentials "$A" '{"kind":"cmp","team":"plant","profile":"device","label":"gated"}')
assert_eq 400 "$code" "a credential for a label of another profile cannot be made"
code=$(api POST /api/v1/enrollment/credentials "$A" '{"kind":"cmp","team":"plant","profile":"device","label":"nosuch"}')
assert_eq 400 "$code" "nor one for a label that does not exist"
code=$(api POST /api/v1/enrollment/credentials "$A" '{"kind":"scep","team":"plant","profile":"device","label":"plain"}')
assert_eq 400 "$code" "nor a SCEP credential with a label"

# --- approval: held, polled, approved, delivered and confirmed -----------------------------------
credential '{"kind":"cmp","team":"plant","profile":"gated-device","label":"gated","expected_subject":"g1.plant.example.test"}'
G1_ID=$ID G1=$SECRET
before=$(count)
reqs=g1ir.der$(for i in $(seq 1 60); do printf ',poll%s.der' "$i"; done)
cmp_ .well-known/cmp/p/gated -cmd ir -ref "$G1_ID" -secret "pass:$G1" -newkey k3.pem -subject /CN=g1.plant.example.test \
  -certout g1.pem -cacertsout g1capubs.pem -reqout "$reqs" >g1.rc &
CLIENT=$!
wait_until 20 one_pending && pass || fail "the request is held for approval: $(tail -3 cmp.out)"
assert_eq held "$(db_scalar "SELECT state FROM cmp_transactions WHERE credential = '$G1_ID'")" "its transaction is held"
sleep 2
kill -0 "$CLIENT" 2>/dev/null && pass || fail "the client is still polling: $(tail -3 cmp.out)"
assert_eq "$before" "$(count)" "nothing is issued before an approver acts"
must 200 GET "/api/v1/approvals?status=pending"
AID=$(jq -r '.items[0].id' "$T/resp")
assert_eq cmp "$(jq -r '.items[0].channel' "$T/resp")" "the held request came over CMP"
assert_eq "CN=g1.plant.example.test" "$(jq -r '.items[0].subject' "$T/resp")" "approvers read the subject asked for"
assert_eq "ECDSA P-256" "$(jq -r '.items[0].key' "$T/resp")" "and its key"
must 200 GET "/api/v1/enrollment/credentials/$G1_ID"
assert_eq used "$(jq -r .state "$T/resp")" "the one-time credential was used when the request was held"
# Hostile polls while it is held: each is CMP's error, and the client's own polling goes on.
post() {
  curl -s -o rsp.der -w '%{http_code}' --max-time 30 -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$1" "$HTTP_BASE/.well-known/cmp/p/gated"
}
body_of() { python3 "$HOSTILE" show "$1" | sed -n 's/^body=//p'; }
wait_until 10 test -s poll2.der && pass || fail "the client polls"
python3 "$HOSTILE" poll1.der foreign.der --kid "$DEV_ID" --secret "$DEV"
assert_eq 200 "$(post foreign.der)" "another credential's pollReq gets an answer"
assert_eq 23 "$(body_of rsp.der)" "CMP's error: the transaction is not its requester's"
assert_eq 200 "$(post poll1.der)" "the client's first pollReq, replayed"
assert_eq 23 "$(body_of rsp.der)" "is an error: its nonce answers an earlier message"
# Neither moved the transaction's nonce: the client's own next poll still answers the last
# pollRep, which its success below shows.
assert_eq held "$(db_scalar "SELECT state FROM cmp_transactions WHERE credential = '$G1_ID'")" "it is still held"
sleep 2
kill -0 "$CLIENT" 2>/dev/null && pass || fail "the client still polls: $(tail -3 cmp.out)"
must 200 POST "/api/v1/approvals/$AID/approve"
wait "$CLIENT" || true
assert_eq 0 "$(cat g1.rc)" "the polling client receives the approved certificate: $(tail -3 cmp.out)"
grep -q 'BEGIN CERTIFICATE' g1capubs.pem && pass || fail "the delivered ip carries caPubs, as an ir answered at once does"
verify g1.pem && pass || fail "the approved certificate verifies"
must 200 GET "/api/v1/approvals/$AID"
assert_eq "$(fp g1.pem)" "$(jq -r .certificate "$T/resp")" "it is the certificate the approver issued"
assert_eq confirmed "$(db_scalar "SELECT state FROM cmp_transactions WHERE credential = '$G1_ID'")" \
  "the client confirmed it"
before=$(count)
assert_eq 200 "$(post poll2.der)" "a poll after delivery gets an answer"
assert_eq 23 "$(body_of rsp.der)" "CMP's error: nothing is held any more"
assert_eq "$before" "$(count)" "and nothing more is issued"

# A kur of the approved certificate is held too; the old one is superseded on delivery.
cmp_ .well-known/cmp/p/gated -cmd kur -cert g1.pem -key k3.pem "${trusted[@]}" -newkey k4.pem -certout g1b.pem >kur.rc &
CLIENT=$!
wait_until 20 one_pending && pass || fail "the kur is held for approval: $(tail -3 cmp.out)"
rc=0
timeout 60 openssl cmp -server "$HOSTPORT" -path .well-known/cmp/p/gated -recipient /CN=certward -msg_timeout 20 \
  -cmd kur -cert g1.pem -key k3.pem "${trusted[@]}" -newkey k5.pem -certout x.pem >kur-second.out 2>&1 || rc=$?
[[ $rc != 0 ]] && pass || fail "a second kur of the same certificate, while one waits, is refused"
grep -qi 'already waiting for approval' kur-second.out && pass || fail "as already waiting: $(tail -3 kur-second.out)"
assert_eq 1 "$(pending)" "and nothing more is held"
assert_eq "" "$(db_scalar "SELECT superseded_by FROM certificates WHERE fingerprint = '$(fp g1.pem)'")" \
  "the old certificate stands while the kur waits"
must 200 GET "/api/v1/approvals?status=pending"
must 200 POST "/api/v1/approvals/$(jq -r '.items[0].id' "$T/resp")/approve"
wait "$CLIENT" || true
assert_eq 0 "$(cat kur.rc)" "the held kur delivers the new certificate: $(tail -3 cmp.out)"
assert_eq "$(fp g1b.pem)" "$(db_scalar "SELECT superseded_by FROM certificates WHERE fingerprint = '$(fp g1.pem)'")" \
  "the old certificate is superseded by the new one"

# A held kur whose signer is revoked meanwhile is not approved: the certificate that asked no
# longer stands.
cmp_ .well-known/cmp/p/gated -cmd kur -cert g1b.pem -key k4.pem "${trusted[@]}" -newkey k6.pem -certout g1c.pem >kur2.rc &
CLIENT=$!
wait_until 20 one_pending && pass || fail "the second kur is held: $(tail -3 cmp.out)"
must 200 POST "/api/v1/certificates/$(fp g1b.pem)/revoke" '{"reason":"keyCompromise"}'
must 200 GET "/api/v1/approvals?status=pending"
KID=$(jq -r '.items[0].id' "$T/resp")
assert_eq 422 "$(api POST "/api/v1/approvals/$KID/approve" "$A")" "a request whose signer was revoked is not approved"
grep -q 'has been revoked' "$T/resp" && pass || fail "because the certificate that asked is revoked: $(cat "$T/resp")"
must 200 POST "/api/v1/approvals/$KID/reject" '{"reason":"signer revoked"}'
wait "$CLIENT" || true
[[ $(cat kur2.rc) != 0 && ! -s g1c.pem ]] && pass || fail "its client gets no certificate"

# --- a held transaction driven by hand: only at its own endpoint, delivered once -----------------
credential '{"kind":"cmp","team":"plant","profile":"gated-device","label":"gated","expected_subject":"g3.plant.example.test"}'
G3_ID=$ID G3=$SECRET
timeout 30 openssl cmp -server "127.0.0.1:$(free_port)" -path .well-known/cmp -recipient /CN=certward -msg_timeout 5 -cmd ir -ref "$G3_ID" \
  -secret "pass:$G3" -newkey k6.pem -subject /CN=g3.plant.example.test -certout x.pem -reqout g3ir.der >/dev/null 2>&1 || true
field() { python3 "$HOSTILE" show "$1" | sed -n "s/^$2=//p"; }
post_at() { curl -s -o rsp.der -w '%{http_code}' --max-time 30 -H 'Content-Type: application/pkixcmp' --data-binary @"$2" "$HTTP_BASE$1"; }
rand_hex() { openssl rand -hex 16; }
assert_eq 200 "$(post_at /.well-known/cmp/p/gated g3ir.der)" "the ir by hand"
assert_eq "1/3" "$(field rsp.der body)/$(field rsp.der status)" "is answered waiting"
TID=$(field g3ir.der tid)
SN=$(field rsp.der sender_nonce)
mkpoll() {  # out recip-nonce
  python3 "$HOSTILE" poll1.der "$1" --tid "$TID" --kid "$G3_ID" --sender-nonce "$(rand_hex)" --recip-nonce "$2" --secret "$G3"
}
mkpoll p-a.der "$SN"
for at in /.well-known/cmp /.well-known/cmp/p/plain; do
  assert_eq 200 "$(post_at "$at" p-a.der)" "a poll at $at"
  assert_eq 23 "$(body_of rsp.der)" "is an error: the transaction began at another endpoint"
done
assert_eq 200 "$(post_at /.well-known/cmp/p/gated p-a.der)" "the same poll at the transaction's endpoint"
assert_eq 26 "$(body_of rsp.der)" "is a pollRep"
SN=$(field rsp.der sender_nonce)
must 200 GET "/api/v1/approvals?status=pending"
must 200 POST "/api/v1/approvals/$(jq -r '.items[0].id' "$T/resp")/approve"
before=$(count)
pids=()
for i in 1 2 3; do
  mkpoll "race$i.der" "$SN"
done
for i in 1 2 3; do
  curl -s -o "race$i.rsp" --max-time 30 -H 'Content-Type: application/pkixcmp' --data-binary @"race$i.der" "$HTTP_BASE/.well-known/cmp/p/gated" &
  pids+=($!)
done
wait "${pids[@]}" || true
delivered=0
for i in 1 2 3; do [[ $(body_of "race$i.rsp") == 1 ]] && delivered=$((delivered + 1)); done
assert_eq 1 "$delivered" "three polls racing after approval: the certificate is delivered once"
assert_eq "$before" "$(count)" "and nothing more is issued"
assert_eq waiting "$(db_scalar "SELECT state FROM cmp_transactions WHERE transaction_id = '$TID'")" "the transaction waits for its certConf"

# --- approval rejected: the client is told, nothing is issued ----------------------------------
credential '{"kind":"cmp","team":"plant","profile":"gated-device","label":"gated","expected_subject":"g2.plant.example.test"}'
G2_ID=$ID G2=$SECRET
before=$(count)
cmp_ .well-known/cmp/p/gated -cmd ir -ref "$G2_ID" -secret "pass:$G2" -newkey k5.pem -subject /CN=g2.plant.example.test \
  -certout g2.pem >g2.rc &
CLIENT=$!
wait_until 20 one_pending && pass || fail "the second request is held: $(tail -3 cmp.out)"
must 200 GET "/api/v1/approvals?status=pending"
must 200 POST "/api/v1/approvals/$(jq -r '.items[0].id' "$T/resp")/reject" '{"reason":"not one of ours"}'
wait "$CLIENT" || true
[[ $(cat g2.rc) != 0 ]] && pass || fail "a rejected request fails at the client"
grep -qi 'rejected\|rejection' cmp.out && pass || fail "with a rejection: $(tail -3 cmp.out)"
[[ ! -s g2.pem ]] && pass || fail "and the client has no certificate"
assert_eq "$before" "$(count)" "nothing was issued"
assert_eq refused "$(db_scalar "SELECT state FROM cmp_transactions WHERE credential = '$G2_ID'")" "the transaction is closed"

cd /
stop_server
finish
