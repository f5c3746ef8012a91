#!/usr/bin/env bash
# Disabling an authority stops it signing: at once in the process that disables it, and in a
# running server disabled from another process (the CLI on the same database, as another
# replica would) within ca.authority_recheck. Enabling it lets it sign again.
source "$(dirname "$0")/lib.sh"

printf '[ca]\nauthority_recheck = "1s"\n' >"$T/certward.toml"
export CERTWARD_CONFIG=$T/certward.toml
start_server
A=$ADMIN_TOKEN
issue() { api POST /api/v1/certificates "$A" '{"profile":"tls-server","key_type":"ec-p256","common_name":"d.example.test"}'; }
remote() { env CERTWARD_SERVER="$BASE" CERTWARD_TOKEN="$A" CERTWARD_CA_FILE="$T/root.pem" "$CERTWARD_BIN" "$@"; }

assert_eq 201 "$(issue)" "issuing before"

# Through the server itself: refused at once.
assert_eq 200 "$(api POST /api/v1/authorities/issuing/disable "$A")" "disable over REST"
assert_eq disabled "$(jq -r .status "$T/resp")" "status after disable"
assert_eq 422 "$(issue)" "the same server refuses at once"
assert_eq policy_rejected "$(jq -r .code "$T/resp")" "refusal code"
assert_eq 409 "$(api POST /api/v1/authorities/issuing/disable "$A")" "disabling twice"
assert_eq 200 "$(api POST /api/v1/authorities/issuing/enable "$A")" "enable over REST"
assert_eq 201 "$(issue)" "signing again"

# From another process: the local CLI writes the database the server reads.
s0=$(cw audit list --action authority.disable --json | jq '.items | length')
cw ca disable issuing >/dev/null
assert_eq $((s0 + 1)) "$(cw audit list --action authority.disable --json | jq '.items | length')" "disable audited"
refused=""
for _ in $(seq 1 40); do  # at most 4 s; the recheck interval is 1 s
  if [[ $(issue) == 422 ]]; then refused=yes; break; fi
  sleep 0.1
done
assert_eq yes "$refused" "the running server stopped signing within the recheck interval"
assert_fails 6 policy_rejected "the CLI refuses a disabled authority too" \
  cw issue --profile tls-server --key-type ec-p256 --cn e.example.test
remote ca enable issuing >/dev/null && pass || fail "enable through the client"
assert_eq 201 "$(issue)" "signing after enable"
assert_fails 4 not_found "disabling an unknown authority" cw ca disable no-such-ca

stop_server
cw audit verify >/dev/null && pass || fail "audit verify"
finish
