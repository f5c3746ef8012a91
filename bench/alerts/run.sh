#!/usr/bin/env bash
# Alerts over an inventory of COUNT certificates (default 1,000,000):
#   1. in memory: certward_alerts_bench computes the alert set (thresholds scaled by lifetime,
#      silences, escalation) of COUNT records, best of 5 passes;
#   2. in the database: an inventory of COUNT rows (SQLite as shipped; one imported certificate
#      copied COUNT times with spread expiries and lifetimes, which is all the evaluator reads),
#      then `certward alerts evaluate` twice: the first pass raises every due alert (one
#      transaction per page of 1,000, each alert with its delivery jobs), the second finds them
#      all raised and raises nothing, as every later pass of the recurring job does.
#
#   bench/alerts/run.sh                  # 1,000,000
#   COUNT=100000 bench/alerts/run.sh     # quicker
#   CERTWARD_BUILD=build/release bench/alerts/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${CERTWARD_BUILD:-$ROOT/build/release}
COUNT=${COUNT:-1000000}
if [[ ! -x $BUILD/src/certward || ! -x $BUILD/bench/certward_alerts_bench ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target certward certward_alerts_bench
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-alerts-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
export CERTWARD_DATA_DIR=$T/data CERTWARD_LOG_LEVEL=warn
unset CERTWARD_CONFIG CERTWARD_DATABASE_DRIVER CERTWARD_DATABASE_URL || true
CW=$BUILD/src/certward

echo "== in memory"
"$BUILD/bench/certward_alerts_bench" "$COUNT" 5

echo "== in the database (SQLite)"
cat >"$T/certward.toml" <<EOF
[alerts]
channels = ["log"]
[[alerts.channel]]
name = "log"
type = "syslog"
socket = "$T/nowhere.sock"
EOF
export CERTWARD_CONFIG=$T/certward.toml
"$CW" init >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 -subj /CN=bench.example.test \
  -keyout /dev/null -out "$T/one.crt" 2>/dev/null
"$CW" cert import "$T/one.crt" >/dev/null
DB=$CERTWARD_DATA_DIR/certward.db
now=$(date +%s)
# Every column as it is, but the identity, the serial and the validity: expiries spread over
# the next 400 days, lifetimes of 47, 90 and 398 days.
cols=$(sqlite3 "$DB" "SELECT group_concat(name, ',') FROM pragma_table_info('certificates')")
exprs=$(sqlite3 "$DB" "SELECT group_concat(CASE name
  WHEN 'fingerprint' THEN printf('printf(''%%064x'', s.value)')
  WHEN 'serial' THEN 'printf(''%x'', s.value)'
  WHEN 'not_after' THEN '$now + (s.value * 7919) % (400 * 86400)'
  WHEN 'not_before' THEN '$now + (s.value * 7919) % (400 * 86400) - 86400 * (CASE s.value % 3 WHEN 0 THEN 47 WHEN 1 THEN 90 ELSE 398 END)'
  ELSE 'c.' || name END, ',') FROM pragma_table_info('certificates')")
start=$(date +%s.%N)
sqlite3 "$DB" "PRAGMA journal_mode = WAL; INSERT INTO certificates ($cols) SELECT $exprs FROM certificates c, generate_series(1, $COUNT - 1) s WHERE c.common_name = 'bench.example.test';" >/dev/null
echo "inventory: $(sqlite3 "$DB" 'SELECT COUNT(*) FROM certificates') certificates (filled in $(echo "$(date +%s.%N) - $start" | bc) s)"
for pass in first second; do
  /usr/bin/time -f "peak RSS %M KiB" "$CW" alerts evaluate 2>"$T/time" | sed "s/^/$pass pass: /"
  sed "s/^/$pass pass: /" "$T/time"
done
echo "delivery jobs queued: $(sqlite3 "$DB" "SELECT COUNT(*) FROM jobs WHERE kind = 'alerts.deliver'")"
