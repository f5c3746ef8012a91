#!/usr/bin/env bash
# A team-scoped requester tries to get more than its team's grant, through the REST API (curl)
# and the CLI in client mode: a common name outside its domains in every built-in profile, a
# CA profile, an authority it was not granted (the root included), another team's label, and
# names from a CSR that the name parser refuses. Each is refused by the RA and changes nothing.
source "$(dirname "$0")/lib.sh"

start_server
A=$ADMIN_TOKEN
LEAF_PROFILES=(tls-server tls-client code-signing smime device)
profiles_json=$(printf '%s\n' "${LEAF_PROFILES[@]}" | jq -R . | jq -sc .)

# Grants: a CA profile, a root or an unknown authority cannot be granted (REST and CLI).
for grant in '"allowed_profiles":["intermediate-ca"]' '"allowed_authorities":["root"]' '"allowed_authorities":["nope"]'; do
  assert_eq 400 "$(api POST /api/v1/teams "$A" "{\"name\":\"greedy\",$grant}")" "grant {$grant}"
  assert_eq invalid_argument "$(jq -r .code "$T/resp")" "grant {$grant} code"
done
assert_fails 3 invalid_argument "CLI grant of a CA profile" env CERTWARD_TOKEN="$A" \
  "$CERTWARD_BIN" --server "$BASE" --ca-file "$T/root.pem" team create greedy --profile intermediate-ca
assert_fails 3 invalid_argument "local CLI grant of a root" cw team create greedy --profile tls-server --authority root

must 201 POST /api/v1/authorities '{"name":"team-b-ca","kind":"issuing","parent":"root","subject":"CN=Team B CA"}'
must 201 POST /api/v1/teams "{\"name\":\"payments\",\"allowed_profiles\":$profiles_json,\"allowed_domains\":[\"payments.example.test\"]}"
must 201 POST /api/v1/teams '{"name":"other","allowed_profiles":["tls-server"],"allowed_domains":["other.example.test"]}'
must 201 POST /api/v1/principals '{"name":"alice","role":"requester","team":"payments"}'
must 201 POST /api/v1/tokens '{"principal":"alice","ttl":"1d"}'
R=$(jq -r .token "$T/resp")

csr() {  # name subject [extra openssl req args...]
  local name=$1 subject=$2
  shift 2
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$name.key" \
    -subj "$subject" -out "$T/$name.csr" "$@" 2>/dev/null
}
csr_body() {  # profile csr-name [extra jq object]
  jq -nc --arg p "$1" --rawfile c "$T/$2.csr" --argjson x "${3:-{\}}" '{profile: $p, csr: $c} + $x'
}
# The requester through REST: want status and code; the database must not change.
refused_rest() {  # status code message body
  local s0
  s0=$(state)
  assert_eq "$1" "$(api POST /api/v1/certificates "$R" "$4")" "$3 (REST)"
  assert_eq "$2" "$(jq -r .code "$T/resp")" "$3 (REST code)"
  assert_eq "$s0" "$(state)" "$3 (REST) changed the database"
}
# The same through the CLI in client mode.
refused_cli() {  # exit code message issue-args...
  local want=$1 code=$2 msg=$3 s0
  shift 3
  s0=$(state)
  assert_fails "$want" "$code" "$msg (CLI)" env CERTWARD_TOKEN="$R" CERTWARD_SERVER="$BASE" \
    CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" issue "$@"
  assert_eq "$s0" "$(state)" "$msg (CLI) changed the database"
}

csr bank "/CN=www.bank.com"
csr postgres "/CN=postgres"
csr mine "/CN=device-1.payments.example.test"
for p in "${LEAF_PROFILES[@]}"; do
  refused_rest 403 unauthorized "$p: CSR CN=www.bank.com without SAN" "$(csr_body "$p" bank)"
  refused_rest 403 unauthorized "$p: CSR CN=postgres" "$(csr_body "$p" postgres)"
  refused_rest 403 unauthorized "$p: common_name www.bank.com beside an allowed SAN" \
    "{\"profile\":\"$p\",\"key_type\":\"ec-p256\",\"common_name\":\"www.bank.com\",\"sans\":[\"dns:a.payments.example.test\"]}"
  refused_cli 6 unauthorized "$p: --csr CN=www.bank.com" --profile "$p" --csr "$T/bank.csr"
  refused_cli 6 unauthorized "$p: --cn postgres" --profile "$p" --key-type ec-p256 --cn postgres
  # Within the domains: issued, with the CN among the SANs.
  assert_eq 201 "$(api POST /api/v1/certificates "$R" "$(csr_body "$p" mine)")" "$p: own name (REST)"
  assert_eq '["dns:device-1.payments.example.test"]' "$(jq -c .certificate.sans "$T/resp")" "$p: CN is a SAN"
  fp=$(jq -r .fingerprint "$T/resp")
  api GET "/api/v1/certificates/$fp" "$A" >/dev/null
  assert_eq payments "$(jq -r .team "$T/resp")" "$p: recorded for the team"
done

# CA profiles, authorities and teams.
refused_rest 403 unauthorized "intermediate-ca from the root" \
  '{"profile":"intermediate-ca","key_type":"ec-p256","common_name":"ca.payments.example.test","authority":"root"}'
for authority in root team-b-ca; do
  refused_rest 403 unauthorized "tls-server from $authority" \
    "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"x.payments.example.test\",\"authority\":\"$authority\"}"
  refused_cli 6 unauthorized "--authority $authority" --profile tls-server --key-type ec-p256 \
    --cn x.payments.example.test --authority "$authority"
done
assert_eq 201 "$(api POST /api/v1/certificates "$R" '{"profile":"tls-server","key_type":"ec-p256","common_name":"x.payments.example.test","authority":"issuing"}')" "the default authority by name"
refused_rest 403 unauthorized "another team's label" \
  '{"profile":"tls-server","key_type":"ec-p256","common_name":"y.payments.example.test","team":"other"}'
refused_cli 6 unauthorized "--team other" --profile tls-server --key-type ec-p256 --cn y.payments.example.test --team other

# Names from a CSR go through the one name parser: a wildcard that is not a whole label, and
# DNS names carrying a NUL or a newline (raw SAN extension bytes, as a hostile client sends).
san_der() {  # hex of one dNSName, as a SAN extension value
  local hex len
  hex=$(printf '%b' "$1" | od -An -tx1 -v | tr -d ' \n')
  len=$(printf '%02x' $((${#hex} / 2)))
  printf '30%02x82%s%s' $((${#hex} / 2 + 2)) "$len" "$hex"
}
csr star "/CN=ok.payments.example.test" -addext "subjectAltName=DNS:w*.payments.example.test"
csr nul "/CN=ok.payments.example.test" -addext "subjectAltName=DER:$(san_der 'a\x00b.payments.example.test')"
csr newline "/CN=ok.payments.example.test" -addext "subjectAltName=DER:$(san_der 'a.payments.example.test\nwww.bank.com')"
for name in star nul newline; do
  refused_rest 400 malformed "CSR SAN ($name)" "$(csr_body tls-server "$name")"
  refused_cli 3 malformed "CSR SAN ($name)" --profile tls-server --csr "$T/$name.csr"
done
# ... as an administrator too: the parser is not a scope rule.
assert_eq 400 "$(api POST /api/v1/certificates "$A" "$(csr_body device newline)")" "administrator, CSR SAN with a newline"

stop_server
cw audit verify >/dev/null && pass || fail "audit verify"
finish
