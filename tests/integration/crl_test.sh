#!/usr/bin/env bash
# CRLs on the plain-HTTP listener, read by `openssl verify` and `openssl crl`: a revoked
# certificate is rejected and another accepted; a revoked intermediate is listed in its
# parent's CRL (an ARL) and rejects the leaves under it; an authority with
# crl_on_revoke = "delta" lists a new revocation in its delta CRL only (Delta CRL Indicator
# naming the full CRL's number, which points at it with Freshest CRL); CRL numbers increase;
# the CRLs verify against their issuers; HTTP caching headers and 304; 404 for what is not
# published.
source "$(dirname "$0")/lib.sh"

# Certificates name the plain-HTTP listener in their CRL distribution point, so it listens on
# a port known before they are issued; the CLI is told the same address.
PORT=$(free_port)
export CERTWARD_HTTP_LISTEN=127.0.0.1:$PORT
cw init >/dev/null
cat >"$T/certward.toml" <<'EOF'
[revocation]
refresh_interval = "1s"

[revocation.authorities.root]
delta_crl_interval = "0s"

[revocation.authorities.branch]
crl_on_revoke = "delta"
crl_interval = "6d"
EOF
export CERTWARD_CONFIG=$T/certward.toml
start_server CERTWARD_HTTP_LISTEN="$CERTWARD_HTTP_LISTEN"
A=$ADMIN_TOKEN
CRL=$HTTP_BASE/crl
assert_eq "http://127.0.0.1:$PORT" "$HTTP_BASE" "plain HTTP on the chosen port"
cw ca export issuing >"$T/issuing.pem"

issue() {  # name [authority]: writes $T/<name>.pem and $T/<name>.json
  must 201 POST /api/v1/certificates "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"$1.example.test\",\"authority\":\"${2:-issuing}\"}"
  cp "$T/resp" "$T/$1.json"
  jq -r .certificate_pem "$T/$1.json" >"$T/$1.pem"
}
revoke() {  # name reason: through the REST API
  must 200 POST "/api/v1/certificates/$(jq -r .fingerprint "$T/$1.json")/revoke" "{\"reason\":\"$2\"}"
}
upper_serial() { jq -r .serial "$T/$1.json" | tr a-f A-F; }
# GET one CRL: its DER in $T/<file>, its PEM in $T/<file>.pem, headers in $T/h.txt.
fetch() {  # file -> http status
  local code
  code=$(curl -s -D "$T/h.txt" -o "$T/$1" -w '%{http_code}' "$CRL/$1")
  [[ $code == 200 ]] && openssl crl -inform DER -in "$T/$1" -out "$T/$1.pem"
  echo "$code"
}
published() { [[ $(fetch "$1") == 200 ]]; }
crl_text() { openssl crl -in "$T/$1.pem" -noout -text; }
crl_number() { echo $(($(openssl crl -in "$T/$1.pem" -noout -crlnumber | cut -d= -f2))); }
lists() { crl_text "$1" | grep -q "Serial Number: $2\$"; }  # file serial
fetched_lists() { published "$1" && lists "$1" "$2"; }
header() { tr -d '\r' <"$T/h.txt" | sed -n "s/^$1: //Ip" | head -1; }
epoch() { date -u -d "$1" +%s; }
verify() {  # openssl verify arguments... -> "exit: its output on one line"
  local rc=0 out
  out=$(openssl verify -CAfile "$T/root.pem" "$@" 2>&1) || rc=$?
  echo "$rc: $(paste -sd' ' <<<"$out")"
}
# What openssl says of a revoked certificate at `depth`.
revoked_at_depth() {  # depth verify-output
  [[ $2 == "2: "*"error 23 at $1 depth lookup: certificate revoked"* ]]
}

wait_until 5 published issuing.crl && pass || fail "the issuing CA's CRL is published at start"
wait_until 5 published root.crl && pass || fail "the root's CRL is published at start"

# Each CRL verifies against its issuer.
cat "$T/root.pem" "$T/issuing.pem" >"$T/chain.pem"
assert_eq "verify OK" "$(openssl crl -in "$T/issuing.crl.pem" -CAfile "$T/chain.pem" -noout 2>&1)" "issuing CRL signature"
assert_eq "verify OK" "$(openssl crl -in "$T/root.crl.pem" -CAfile "$T/root.pem" -noout 2>&1)" "root CRL signature"
assert_eq "verify OK" "$(openssl crl -in "$T/root.crl.pem" -CAfile "$T/chain.pem" -noout 2>&1)" "root CRL signature (chain file)"
rc=0
openssl crl -in "$T/issuing.crl.pem" -CAfile "$T/root.pem" -noout >/dev/null 2>&1 || rc=$?
[[ $rc != 0 ]] && pass || fail "the issuing CA's CRL verified against the root's key"

# HTTP: type, validators, caching up to nextUpdate, 304.
fetch issuing.crl >/dev/null
now=$(date +%s)
assert_eq application/pkix-crl "$(header Content-Type)" "content type"
next=$(epoch "$(openssl crl -in "$T/issuing.crl.pem" -noout -nextupdate | cut -d= -f2)")
last=$(epoch "$(openssl crl -in "$T/issuing.crl.pem" -noout -lastupdate | cut -d= -f2)")
max_age=$(header Cache-Control | sed -n 's/.*max-age=\([0-9]*\).*/\1/p')
[[ -n $max_age ]] && ((max_age <= next - now + 2 && max_age >= next - now - 3)) && pass ||
  fail "max-age '$max_age' is not nextUpdate - now ($((next - now)))"
assert_eq "$next" "$(epoch "$(header Expires)")" "Expires is nextUpdate"
assert_eq "$last" "$(epoch "$(header Last-Modified)")" "Last-Modified is thisUpdate"
etag=$(header ETag)
[[ $etag =~ ^\"[0-9a-f]+\"$ ]] && pass || fail "strong ETag ($etag)"
assert_eq "304 0" "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$CRL/issuing.crl")" "If-None-Match"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "00"' "$CRL/issuing.crl")" "another ETag"

# What is not published: 404.
assert_eq 404 "$(fetch nosuch.crl)" "an unknown authority"
assert_eq 404 "$(fetch root-delta.crl)" "the delta of an authority without deltas"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "$CRL/issuing.pem")" "not a CRL file name"
assert_eq 200 "$(fetch issuing-delta.crl)" "the delta of an authority with deltas"
crl_text root.crl | grep -q 'Freshest CRL' && fail "the root publishes no deltas, yet its CRL points at one" || pass

# A certificate revoked through the REST API: the full CRL lists it within seconds, and
# openssl rejects it while it accepts another.
issue good
issue bad
assert_eq "URI:$CRL/issuing.crl" "$(openssl x509 -in "$T/bad.pem" -noout -ext crlDistributionPoints | sed -n 's/^ *URI://p' | sed 's/^/URI:/')" "CDP names the CRL"
n0=$(crl_number issuing.crl)
revoke bad keyCompromise
wait_until 3 fetched_lists issuing.crl "$(upper_serial bad)" && pass || fail "the full CRL lists the revocation within 3 s"
n1=$(crl_number issuing.crl)
((n1 > n0)) && pass || fail "CRL number increases ($n0 -> $n1)"
# The authority's answer in the API says which CRL is current, and that it is not overdue.
must 200 GET /api/v1/authorities/issuing
assert_eq "$n1 false" "$(jq -r '"\(.crl.number) \(.crl.overdue)"' "$T/resp")" "the API gives the current CRL's number"
[[ $(jq -r '.crl.entries' "$T/resp") -ge 1 && $(jq -r '.crl.next_update' "$T/resp") == 20* ]] && pass ||
  fail "the CRL status has its entries and next update: $(jq -c .crl "$T/resp")"
must 200 GET /api/v1/authorities
assert_eq "$n1" "$(jq -r '.items[] | select(.name == "issuing") | .crl.number' "$T/resp")" "and the list too"
crl_text issuing.crl | grep -A4 "Serial Number: $(upper_serial bad)" | grep -q 'Key Compromise' && pass || fail "reason code keyCompromise"
out=$(verify -crl_check -untrusted "$T/issuing.pem" -CRLfile "$T/issuing.crl.pem" "$T/bad.pem")
revoked_at_depth 0 "$out" && pass ||
  fail "openssl verify -crl_check rejects the revoked certificate: $out"
assert_eq "0: $T/good.pem: OK" "$(verify -crl_check -untrusted "$T/issuing.pem" -CRLfile "$T/issuing.crl.pem" "$T/good.pem")" "openssl verify -crl_check accepts another"
assert_eq "verify OK" "$(openssl crl -in "$T/issuing.crl.pem" -CAfile "$T/chain.pem" -noout 2>&1)" "the new CRL's signature"

# A revoked intermediate: its parent's CRL (an ARL) lists it; with -crl_check_all a leaf under
# it is rejected. Made and revoked by the CLI, another process: the server sees it within
# refresh_interval.
cw ca create --name sub --kind issuing --parent root --subject 'CN=Sub CA' >/dev/null
cw ca export sub >"$T/sub.pem"
cw issue --profile tls-server --authority sub --key-type ec-p256 --cn leaf.example.test \
  --out-cert "$T/leaf.pem" >/dev/null 2>&1
assert_eq "URI:$CRL/sub.crl" "$(openssl x509 -in "$T/leaf.pem" -noout -ext crlDistributionPoints | sed -n 's/^ *URI:/URI:/p')" "a CLI-issued certificate's CDP"
wait_until 5 published sub.crl && pass || fail "a new authority's CRL is published within seconds"
fetch root.crl >/dev/null
all=(-crl_check_all -untrusted "$T/sub.pem" -CRLfile "$T/root.crl.pem" -CRLfile "$T/sub.crl.pem" "$T/leaf.pem")
assert_eq "0: $T/leaf.pem: OK" "$(verify "${all[@]}")" "-crl_check_all before the intermediate is revoked"
r0=$(crl_number root.crl)
sub_serial=$(openssl x509 -in "$T/sub.pem" -noout -serial | cut -d= -f2)
cw ca revoke sub --reason cACompromise >/dev/null
wait_until 5 fetched_lists root.crl "$sub_serial" && pass || fail "the root's CRL lists the revoked intermediate within 5 s"
(($(crl_number root.crl) > r0)) && pass || fail "root CRL number increases"
crl_text root.crl | grep -A4 "Serial Number: $sub_serial" | grep -q 'CA Compromise' && pass || fail "ARL reason code cACompromise"
out=$(verify "${all[@]}")
revoked_at_depth 1 "$out" && pass || fail "-crl_check_all rejects a leaf under a revoked intermediate (depth 1): $out"
assert_eq "0: $T/good.pem: OK" "$(verify -crl_check_all -untrusted "$T/issuing.pem" -CRLfile "$T/root.crl.pem" -CRLfile "$T/issuing.crl.pem" "$T/good.pem")" "-crl_check_all accepts a leaf under a sibling"

# crl_on_revoke = "delta": a revocation regenerates the delta CRL only.
cw ca create --name branch --kind issuing --parent root --subject 'CN=Branch CA' >/dev/null
cw ca export branch >"$T/branch.pem"
issue kept branch
issue lost branch
wait_until 5 published branch.crl && pass || fail "branch CRL published"
wait_until 5 published branch-delta.crl && pass || fail "branch delta CRL published"
full=$(crl_number branch.crl)
d0=$(crl_number branch-delta.crl)
((d0 > full)) && pass || fail "the delta is numbered after its base ($full, $d0)"
crl_text branch.crl | grep -A2 'X509v3 Freshest CRL' | grep -q "URI:$CRL/branch-delta.crl\$" && pass ||
  fail "the full CRL's Freshest CRL points at the delta: $(crl_text branch.crl | grep -A2 Freshest)"
revoke lost keyCompromise
lost=$(upper_serial lost)
wait_until 3 fetched_lists branch-delta.crl "$lost" && pass || fail "the delta CRL lists the revocation within 3 s"
delta_text=$(crl_text branch-delta.crl)
assert_eq "$full" "$(grep -A1 'X509v3 Delta CRL Indicator: critical' <<<"$delta_text" | tail -1 | tr -d ' ')" "Delta CRL Indicator: critical, base = the full CRL's number"
grep -A4 "Serial Number: $lost" <<<"$delta_text" | grep -q 'Key Compromise' && pass || fail "delta: reason code"
d1=$(crl_number branch-delta.crl)
((d1 > d0)) && pass || fail "delta CRL number increases ($d0 -> $d1)"
assert_eq "200 $full" "$(fetch branch.crl) $(crl_number branch.crl)" "the full CRL is not generated again"
lists branch.crl "$lost" && fail "the full CRL lists the new revocation" || pass
cat "$T/root.pem" "$T/branch.pem" >"$T/branch-chain.pem"
assert_eq "verify OK" "$(openssl crl -in "$T/branch-delta.crl.pem" -CAfile "$T/branch-chain.pem" -noout 2>&1)" "delta CRL signature"
# openssl verify, given both, rejects it; given the full one alone, it cannot know.
deltas=(-crl_check -use_deltas -untrusted "$T/branch.pem" -CRLfile "$T/branch.crl.pem" -CRLfile "$T/branch-delta.crl.pem")
out=$(verify "${deltas[@]}" "$T/lost.pem")
revoked_at_depth 0 "$out" && pass || fail "full + delta reject the revoked certificate: $out"
assert_eq "0: $T/lost.pem: OK" "$(verify -crl_check -untrusted "$T/branch.pem" -CRLfile "$T/branch.crl.pem" "$T/lost.pem")" "the full CRL alone does not list it"
assert_eq "0: $T/kept.pem: OK" "$(verify "${deltas[@]}" "$T/kept.pem")" "full + delta accept another"

stop_server && pass || fail "server stops cleanly"
finish
