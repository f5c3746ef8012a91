#!/usr/bin/env bash
# 10,000 issuances give 10,000 distinct serials and 10,000 inventory rows; a SIGKILL in the
# middle of a bulk run loses no certificate that had been handed out, and the audit chain
# still verifies.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
  -subj "/CN=bulk.example.test" -out "$T/bulk.csr" 2>/dev/null

# 1. Ten thousand from one CSR.
cw issue --profile tls-server --csr "$T/bulk.csr" --count 10000 --concurrency 4 >"$T/bulk.txt"
assert_eq 10000 "$(wc -l <"$T/bulk.txt")" "certificates reported"
assert_eq 10000 "$(cut -d' ' -f1 "$T/bulk.txt" | sort -u | wc -l)" "distinct serials reported"
assert_eq 10000 "$(db_scalar "SELECT COUNT(DISTINCT serial) FROM certificates WHERE profile = 'tls-server'")" "distinct serials stored"
assert_eq 10000 "$(db_scalar "SELECT COUNT(*) FROM certificates WHERE profile = 'tls-server'")" "inventory rows"
assert_eq 10000 "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'certificate.issue' AND target_id IN (SELECT fingerprint FROM certificates WHERE profile = 'tls-server')")" "audit events"
# Serials are 16 octets with the top bit clear: 32 hex digits, first digit 0-7.
assert_eq 0 "$(cut -d' ' -f1 "$T/bulk.txt" | grep -cvE '^[0-7][0-9a-f]{31}$' || true)" "serial shape"

# 2. SIGKILL during a bulk run. Lines are printed only after the certificate is durable.
before=$(db_scalar "SELECT COUNT(*) FROM certificates")
"$CERTWARD_BIN" issue --profile tls-server --csr "$T/bulk.csr" --count 1000000 --concurrency 4 >"$T/killed.txt" 2>/dev/null &
pid=$!
CW_BACKGROUND_PIDS=$pid
for _ in $(seq 1 100); do  # wait until it has issued a good number, at most 10 s
  [[ $(wc -l <"$T/killed.txt") -ge 3000 ]] && break
  sleep 0.1
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
CW_BACKGROUND_PIDS=
# Only complete lines count as handed out.
grep -E '^[0-9a-f]+ [0-9a-f]{64}$' "$T/killed.txt" | cut -d' ' -f2 | sort >"$T/returned.txt"
returned=$(wc -l <"$T/returned.txt")
if [[ $returned -ge 100 ]]; then pass; else fail "the bulk run issued only $returned certificates before the kill"; fi
db_scalar "SELECT fingerprint FROM certificates" | sort >"$T/stored.txt"
missing=$(comm -23 "$T/returned.txt" "$T/stored.txt" | wc -l)
assert_eq 0 "$missing" "returned certificates missing after SIGKILL (of $returned)"
after=$(db_scalar "SELECT COUNT(*) FROM certificates")
if [[ $((after - before)) -ge $returned ]]; then pass; else fail "stored $((after - before)) < returned $returned"; fi
if cw audit verify >/dev/null; then pass; else fail "audit chain broken after SIGKILL"; fi
# Every stored certificate has its audit event (same transaction).
assert_eq "$(db_scalar "SELECT COUNT(*) FROM certificates WHERE profile = 'tls-server'")" \
  "$(db_scalar "SELECT COUNT(*) FROM audit_events WHERE action = 'certificate.issue' AND target_id IN (SELECT fingerprint FROM certificates WHERE profile = 'tls-server')")" \
  "certificates and issue events after SIGKILL"
echo "killed after $returned returned certificates; $((after - before)) stored"
finish
