#!/usr/bin/env bash
# certward as an ACME client of a hostile CA (acme_upstream_hostile.py) on 127.0.0.1: every
# misbehaviour is refused with a clear error, quickly, with nothing recorded and the server
# up: URLs off the directory's origin (signed requests aimed elsewhere: a canary listener must
# see none), invalid UTF-8 in headers and URLs, endless polling, more authorizations than
# names, an authorization for a name the order does not hold (a dns-01 hook must never be
# asked to publish it), certificates for other names, another key, a CA or code-signing
# certificate, broken chains. A failover profile moves on past a failing CA. Revocation: an
# empty 200 and an alreadyRevoked answer both mean revoked; a refusal marks nothing.
source "$(dirname "$0")/lib.sh"

W=$T/evil
mkdir -p "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/tls-key.pem" \
  -subj "/CN=hostile CA TLS" -days 2 -addext "subjectAltName=IP:127.0.0.1" -out "$W/tls-cert.pem" 2>/dev/null
read -r EVIL CANARY HTTP_PORT <<<"$(free_ports 3)"
/usr/bin/python3 "$(dirname "$0")/acme_upstream_hostile.py" "$EVIL" "$CANARY" "$HTTP_PORT" "$W" >"$W/out" 2>&1 &
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $!"
wait_until 20 bash -c "[[ -s $W/evil-root.pem ]] && curl -sf --cacert $W/tls-cert.pem https://127.0.0.1:$EVIL/normal/dir >/dev/null" ||
  { echo "the hostile CA did not start: $(cat "$W/out")" >&2; exit 1; }

# A dns-01 hook that only records what it was asked.
cat >"$T/hook.sh" <<'HOOK'
#!/bin/sh
printf '%s|%s|%s\n' "$1" "$2" "$3" >>"$(dirname "$0")/hook.log"
HOOK
chmod 755 "$T/hook.sh"

REFUSED="offnonce offorder offorderloc offauthz offfinalize offcert offchall weirdport fakehttp
  localhostauthz backslash badutf8 acctutf8 nononce nonceless acctinvalid badnonce
  processing slowauthz manyauthz authzothername authzweirdname othernames extraname otherkey
  expired future toolong cacert ekucode outoforder unsigned leafonly selfsigned garbage empty"
{
  for m in normal $REFUSED nonceutf8 altoff revokejson alreadyrevoked revokerefuse ratelimit; do
    printf '[issuers.%s]\ntype = "acme"\ndirectory = "https://127.0.0.1:%s/%s/dir"\n' "$m" "$EVIL" "$m"
    printf 'ca_file = "%s"\ntimeout = "3s"\norder_timeout = "5s"\n' "$W/tls-cert.pem"
    # The top of a chain is only known good when it verifies to an anchor.
    [[ $m == unsigned ]] && printf 'trust_anchors = "%s"\n' "$W/evil-root.pem"
    [[ $m == altoff ]] && printf 'preferred_chain = "Evil Alt Root"\n'
    echo
  done
  for m in authzothername authzweirdname; do
    printf '[issuers.hook-%s]\ntype = "acme"\ndirectory = "https://127.0.0.1:%s/%s/dir"\n' "$m" "$EVIL" "$m"
    printf 'ca_file = "%s"\ntimeout = "3s"\norder_timeout = "5s"\nchallenge = "dns-01"\ndns_hook = "%s"\n\n' \
      "$W/tls-cert.pem" "$T/hook.sh"
  done
  cat <<CONF
[profiles.public-tls]
max_validity = "365d"
default_validity = "90d"
allowed_domains = ["acme.test"]
extended_key_usage = ["serverAuth"]

[profiles.fo-ratelimit]
max_validity = "365d"
default_validity = "90d"
allowed_domains = ["acme.test"]
issuers = ["ratelimit", "badutf8", "normal"]
CONF
} >"$T/certward.toml"
export CERTWARD_CONFIG=$T/certward.toml
start_server CERTWARD_HTTP_LISTEN=127.0.0.1:$HTTP_PORT
A=$ADMIN_TOKEN
issue() {  # issuer [profile]
  local body
  if [[ -n ${2:-} ]]; then
    body="{\"profile\":\"$2\",\"key_type\":\"ec-p256\",\"sans\":[\"$1.acme.test\"]}"
  else
    body="{\"profile\":\"public-tls\",\"authority\":\"$1\",\"key_type\":\"ec-p256\",\"sans\":[\"$1.acme.test\"]}"
  fi
  api POST /api/v1/certificates "$A" "$body"
}

assert_eq 201 "$(issue normal)" "the well-behaved mode issues: $(head -c 300 "$T/resp")"
s0=$(state)
for m in $REFUSED hook-authzothername hook-authzweirdname; do
  start=$(date +%s)
  code=$(issue "$m")
  took=$(($(date +%s) - start))
  [[ $code == 4* || $code == 5* ]] && [[ $code != 500 ]] && pass ||
    fail "$m: refused with a clear error, got $code: $(head -c 300 "$T/resp")"
  jq -e '.detail | length > 0' "$T/resp" >/dev/null 2>&1 && pass || fail "$m: a problem document"
  assert_below 12 "$took" "$m: refused within the order's bound"
done
assert_eq "$s0" "$(state)" "nothing recorded by any refused order"
# Issued all the same, never following the CA off its origin: a nonce that is not base64url is
# not sent back (a fresh one is fetched), an alternate chain elsewhere is not fetched.
for m in nonceutf8 altoff; do
  assert_eq 201 "$(issue "$m")" "$m: issued, ignoring what is off the protocol: $(head -c 200 "$T/resp")"
done
kill -0 "$SERVER_PID" && pass || fail "the server is up"
assert_eq 0 "$(wc -l <"$W/canary.log" 2>/dev/null || echo 0)" "no request went off the directory's origin"
if [[ -s $T/hook.log ]] && grep -v '\.acme\.test|' "$T/hook.log" | grep -q .; then
  fail "the dns-01 hook was asked about a name the order does not hold: $(cat "$T/hook.log")"
else
  pass
fi
api GET /api/v1/issuers/badutf8 "$A" >/dev/null
assert_eq failing "$(jq -r .health.state "$T/resp")" "invalid UTF-8 counts against the issuer's health"

# A failover list moves on past a rate-limited CA and one that sends invalid UTF-8.
assert_eq 201 "$(issue fo fo-ratelimit)" "failover past hostile CAs: $(head -c 300 "$T/resp")"
assert_eq "upstream|normal" "$(db_scalar "SELECT origin || '|' || authority FROM certificates WHERE fingerprint = '$(jq -r .fingerprint "$T/resp")'")" \
  "recorded under the issuer that issued"

# Revocation at the CA.
for m in revokejson alreadyrevoked revokerefuse; do
  assert_eq 201 "$(issue "$m")" "issue through $m"
  FP=$(jq -r .fingerprint "$T/resp")
  code=$(api POST "/api/v1/certificates/$FP/revoke" "$A" '{"reason":"superseded"}')
  revoked=$(db_scalar "SELECT revoked_at IS NOT NULL FROM certificates WHERE fingerprint = '$FP'")
  if [[ $m == revokerefuse ]]; then
    assert_eq "422|0" "$code|$revoked" "$m: the CA refuses, nothing is marked"
  else
    assert_eq "200|1" "$code|$revoked" "$m: revoked at the CA, marked here: $(head -c 200 "$T/resp")"
  fi
done

cw audit verify >/dev/null && pass || fail "the audit chain verifies"
finish
