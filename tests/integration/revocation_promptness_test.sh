#!/usr/bin/env bash
# One server on SQLite: a revocation through the REST API answers at once and is in the served
# CRL and OCSP answer within seconds, well before revocation.refresh_interval (set long here);
# a revocation made by the CLI next to it moves the server's CRL publication to now as well.
# Certificate issuance is not held up by revocations meanwhile.
source "$(dirname "$0")/lib.sh"

printf '[revocation]\nrefresh_interval = "60s"\n' >"$T/certward.toml"
export CERTWARD_CONFIG=$T/certward.toml
cw init >/dev/null
cw ca export issuing >"$T/issuing.pem"
start_server CERTWARD_LOG_LEVEL=warn
A=$ADMIN_TOKEN

issue() {  # cn -> fingerprint; the certificate in $T/<cn>.pem
  local got
  got=$(api POST /api/v1/certificates "$A" "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"$1\"}")
  [[ $got == 201 ]] || { echo "setup failed: issue $1 -> $got: $(cat "$T/resp")" >&2; exit 1; }
  local fp
  fp=$(jq -r .fingerprint "$T/resp")
  cw cert export "$fp" >"$T/$1.pem"
  echo "$fp"
}
serial_of() { openssl x509 -in "$T/$1.pem" -noout -serial | cut -d= -f2; }
ocsp_status() {
  openssl ocsp -issuer "$T/issuing.pem" -cert "$T/$1.pem" -url "$HTTP_BASE/ocsp" \
    -CAfile "$T/root.pem" -no_nonce 2>/dev/null | sed -n "s|^$T/$1.pem: ||p" | head -1
}
crl_lists() {  # serial -> yes/no
  curl -sf -o "$T/crl.der" "$HTTP_BASE/crl/issuing.crl" || { echo no-crl; return; }
  if openssl crl -inform DER -in "$T/crl.der" -noout -text | grep -qi "Serial Number: $1\$"; then
    echo yes
  else
    echo no
  fi
}
# within SECONDS CMD... WANT: polls CMD every 0.2 s until it prints WANT; prints what it got.
within() {
  local limit=$1 want=${!#} got i
  local cmd=("${@:2:$#-2}")
  for ((i = 0; i < limit * 5; i++)); do
    got=$("${cmd[@]}")
    [[ $got == "$want" ]] && break
    sleep 0.2
  done
  echo "$got"
}
now_ms() { date +%s%3N; }

fp=$(issue rest.example.test)
serial=$(serial_of rest.example.test)
assert_eq good "$(ocsp_status rest.example.test)" "OCSP before the revocation"
assert_eq no "$(within 5 crl_lists "$serial" no)" "CRL before the revocation"

# Through the server: the answer is prompt, and so are the CRL and the cached OCSP answer.
t0=$(now_ms)
assert_eq 200 "$(api POST "/api/v1/certificates/$fp/revoke" "$A" '{"reason":"keyCompromise"}')" "revoke over REST"
took=$(($(now_ms) - t0))
[[ $took -lt 3000 ]] && pass || fail "revocation over REST took ${took} ms"
assert_eq revoked "$(within 5 ocsp_status rest.example.test revoked)" "OCSP within seconds"
assert_eq yes "$(within 5 crl_lists "$serial" yes)" "CRL within seconds"

# Issuance is not held up by a revocation in flight.
fp2=$(issue second.example.test)
t0=$(now_ms)
api POST "/api/v1/certificates/$fp2/revoke" "$A" '{}' >/dev/null &
revoking=$!
issue third.example.test >/dev/null
took=$(($(now_ms) - t0))
wait "$revoking"
[[ $took -lt 3000 ]] && pass || fail "issuance during a revocation took ${took} ms"

# By the CLI in its own process: the server publishes the CRL at its next scheduler poll.
fp3=$(issue cli.example.test)
serial3=$(serial_of cli.example.test)
t0=$(now_ms)
cw cert revoke "$fp3" --reason superseded >/dev/null && pass || fail "cert revoke (local)"
took=$(($(now_ms) - t0))
[[ $took -lt 3000 ]] && pass || fail "revocation by the CLI took ${took} ms"
assert_eq yes "$(within 10 crl_lists "$serial3" yes)" "CRL after a CLI revocation"
grep -q crl_publish_not_scheduled "$T/serve.err" && fail "CRL publication not scheduled: $(grep crl_publish_not_scheduled "$T/serve.err" | head -1)" || pass

stop_server
finish
