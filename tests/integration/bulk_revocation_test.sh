#!/usr/bin/env bash
# Bulk revocation at scale: 10,000 certificates of one tag. The dry run and the revocation
# agree; a revocation killed with SIGKILL half-way leaves nothing half-revoked (one
# transaction); the whole set is revoked in one durable transaction, in seconds.
source "$(dirname "$0")/lib.sh"
N=${BULK_N:-10000}

cw init >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
  -subj "/CN=bulk.example.test" -out "$T/b.csr" 2>/dev/null
cw issue --profile tls-server --csr "$T/b.csr" --count "$N" --concurrency 4 --tag fleet >/dev/null
cw issue --profile tls-server --csr "$T/b.csr" --count 3 --tag other >/dev/null
revoked() { db_scalar "SELECT COUNT(*) FROM certificates WHERE revoked_at IS NOT NULL"; }

dry=$(cw cert revoke --tag fleet --dry-run --json)
assert_eq "$N" "$(jq .matched <<<"$dry")" "dry run count"
assert_eq "$N" "$(jq '.items | length' <<<"$dry")" "dry run lists every one"
assert_eq 0 "$(revoked)" "a dry run revokes nothing"

# SIGKILL while the revocation runs: all or nothing.
"$CERTWARD_BIN" cert revoke --tag fleet --expect "$N" --reason keyCompromise >/dev/null 2>&1 &
pid=$!
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $pid"
sleep "${KILL_AFTER:-0.3}"
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
after_kill=$(revoked)
if [[ $after_kill == 0 || $after_kill == "$N" ]]; then pass; else fail "half-revoked after SIGKILL: $after_kill of $N"; fi
cw audit verify >/dev/null && pass || fail "audit chain after SIGKILL"

if [[ $after_kill == 0 ]]; then
  start=$(date +%s%N)
  cw cert revoke --tag fleet --expect "$N" --reason keyCompromise >/dev/null && pass || fail "bulk revocation"
  ms=$((($(date +%s%N) - start) / 1000000))
  echo "revoked $N certificates in ${ms} ms"
  ((ms < 60000)) && pass || fail "bulk revocation took ${ms} ms"
fi
assert_eq "$N" "$(revoked)" "every certificate of the tag is revoked, no other"
assert_eq "$N" "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'certificate.revoke'")" "one audit event each"
assert_eq 1 "$(cw audit list --action certificate.revoke --limit 1000 --json | jq '[.items[].details.bulk] | unique | length')" "one bulk id"
cw audit verify >/dev/null && pass || fail "audit verify"
finish
