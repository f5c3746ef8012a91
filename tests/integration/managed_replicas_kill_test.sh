#!/usr/bin/env bash
# Two `certward serve` replicas on one real PostgreSQL run the reconciler:
#   1. 1,000 managed certificates (no targets) created through the REST API of both replicas,
#      all due at once, are each issued exactly once: one certificate per managed certificate
#      in the inventory, one `issued` timeline entry and one managed.issue audit event each.
#   2. Every one is renewed now (POST .../renew), and while the renewals run replica A is
#      killed with SIGKILL, holding leases. Replica B renews the rest and, once the lease
#      ([lifecycle] lease = "30s") has run out, takes over A's leased jobs: no renewal is lost
#      and none is done twice (two certificates per managed certificate, the first superseded;
#      one `renewed` entry and one managed.renew audit event each).
# About 2 to 4 minutes.
if [[ -z "${CERTWARD_TEST_POSTGRES_URL:-}" ]]; then
  exec "${CERTWARD_SOURCE_DIR:?}/scripts/with-postgres.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL="$CERTWARD_TEST_POSTGRES_URL"
pg() { psql -X -q -t -A "$CERTWARD_TEST_POSTGRES_URL" -c "$1"; }
N=${MANAGED_REPLICAS_N:-1000}
LEASE=30

cat >"$T/certward.toml" <<EOF
[lifecycle]
poll_interval_ms = 200
batch = 8
concurrency = 2
lease = "${LEASE}s"
jitter_percent = 0
retry_base = "2s"
sweep_interval = "10s"

[server.rate_limit]
requests_per_second = 0
EOF
export CERTWARD_CONFIG=$T/certward.toml
cw init >/dev/null

start_server CERTWARD_LOG_LEVEL=warn
A_PID=$SERVER_PID A_BASE=$BASE A=$ADMIN_TOKEN
start_server CERTWARD_LOG_LEVEL=warn
B_PID=$SERVER_PID B_BASE=$BASE
[[ $A_BASE != "$B_BASE" ]] || { echo "both replicas on one port" >&2; exit 1; }
BASE=$B_BASE

# bulk BASE FIRST LAST METHOD PATH-TEMPLATE BODY-TEMPLATE: one curl process, keep-alive, one
# request per i in FIRST..LAST with %i in the templates replaced by the zero-padded i; prints
# the status codes, one a line.
bulk() {
  local base=$1 first=$2 last=$3 method=$4 path=$5 body=$6 i n cfg=$T/curl-$2-$4.cfg
  : >"$cfg"
  for ((i = first; i <= last; i++)); do
    printf -v n '%04d' "$i"
    {
      echo "url = \"$base${path//%i/$n}\""
      echo "request = \"$method\""
      echo "cacert = \"$T/root.pem\""
      echo "header = \"Authorization: Bearer $A\""
      if [[ -n $body ]]; then
        echo 'header = "Content-Type: application/json"'
        echo "data = \"$(sed 's/"/\\"/g' <<<"${body//%i/$n}")\""
      fi
      echo 'output = "/dev/null"'
      echo 'write-out = "%{http_code}\n"'
      echo 'silent'
      ((i < last)) && echo next
    } >>"$cfg"
  done
  curl -K "$cfg"
}
count_codes() { sort | uniq -c | awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}'; }
managed_where() { pg "SELECT COUNT(*) FROM managed_certificates WHERE $1"; }
events() { pg "SELECT COUNT(*) FROM managed_events WHERE kind = '$1'"; }

# --- 1. N created, all due, each issued exactly once --------------------------------------------
start=$(date +%s)
half=$((N / 2))
body='{"name":"m%i","sans":["m%i.replicas.test"]}'
# Which replicas lease the work: sampled from the first creation on, while it runs (a finished
# job keeps no owner); the reconcilers may keep up with the creations.
: >"$T/owners"
(
  while :; do
    pg "SELECT DISTINCT split_part(lease_owner, ':', 2) FROM jobs WHERE kind = 'managed.reconcile' AND state = 'running'" >>"$T/owners" || true
    sleep 0.2
  done
) &
sampler=$!
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $sampler"
bulk "$A_BASE" 0 $((half - 1)) POST /api/v1/managed "$body" >"$T/codes-a" &
create_a=$!
bulk "$B_BASE" "$half" $((N - 1)) POST /api/v1/managed "$body" >"$T/codes-b"
wait "$create_a"
assert_eq "201:$N" "$(cat "$T/codes-a" "$T/codes-b" | count_codes)" "created through both replicas"
echo "created $N managed certificates in $(($(date +%s) - start)) s"
deadline=$((SECONDS + 240))
while (($(managed_where "state = 'active'") < N)) && ((SECONDS < deadline)); do
  sleep 0.5
done
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
assert_eq "$N" "$(managed_where "state = 'active'")" "round 1: all active within 240 s"
echo "round 1: $N issued in $(($(date +%s) - start)) s from the first creation"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM certificates WHERE common_name LIKE 'm%.replicas.test'")" \
  "round 1: one certificate per managed certificate in the inventory"
assert_eq 0 "$(pg "SELECT COUNT(*) FROM (SELECT common_name FROM certificates WHERE common_name LIKE 'm%.replicas.test' GROUP BY common_name HAVING COUNT(*) <> 1) d")" \
  "round 1: no managed certificate with another count than one"
assert_eq "$N" "$(events issued)" "round 1: one 'issued' timeline entry each"
assert_eq 0 "$(pg "SELECT COUNT(*) FROM (SELECT managed_id FROM managed_events WHERE kind = 'issued' GROUP BY managed_id HAVING COUNT(*) <> 1) d")" \
  "round 1: exactly one 'issued' entry per managed certificate"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM audit_events WHERE action = 'managed.issue'")" "round 1: managed.issue audit events"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM managed_certificates m JOIN certificates c ON c.fingerprint = m.fingerprint WHERE c.common_name = m.name || '.replicas.test'")" \
  "round 1: each managed certificate points at its own certificate"
assert_eq "$(printf '%s\n' "$A_PID" "$B_PID" | sort | tr '\n' ' ')" "$(grep -v '^$' "$T/owners" | sort -u | tr '\n' ' ')" \
  "round 1: both replicas leased reconciliations"

# --- 2. All renewed now; replica A killed mid-run --------------------------------------------------
start=$(date +%s)
bulk "$B_BASE" 0 $((N - 1)) POST /api/v1/managed/m%i/renew "" >"$T/codes-renew" &
renew_pid=$!
CW_BACKGROUND_PIDS="$CW_BACKGROUND_PIDS $renew_pid"
# Kill A once a fifth of the renewals are done, while it holds leases.
killed=""
deadline=$((SECONDS + 120))
while ((SECONDS < deadline)); do
  done_n=$(events renewed)
  held=$(pg "SELECT COUNT(*) FROM jobs WHERE kind = 'managed.reconcile' AND state = 'running' AND split_part(lease_owner, ':', 2) = '$A_PID'")
  if ((done_n >= N / 5 && held > 0)); then
    kill -KILL "$A_PID"
    killed=$(date +%s)
    pg "SELECT id FROM jobs WHERE kind = 'managed.reconcile' AND state = 'running' AND split_part(lease_owner, ':', 2) = '$A_PID'" >"$T/orphans"
    lease_end=$(pg "SELECT MIN(lease_until) FROM jobs WHERE kind = 'managed.reconcile' AND state = 'running' AND split_part(lease_owner, ':', 2) = '$A_PID'")
    echo "replica A killed with SIGKILL after $done_n renewals, holding $(wc -l <"$T/orphans") leases"
    break
  fi
  sleep 0.2
done
[[ -n $killed ]] && pass || fail "replica A was never seen holding a lease mid-run ($(events renewed) renewed)"
wait "$A_PID" 2>/dev/null || true
CW_BACKGROUND_PIDS=${CW_BACKGROUND_PIDS//$A_PID/}
wait "$renew_pid"
assert_eq "202:$N" "$(count_codes <"$T/codes-renew")" "renew requested for every one (through replica B)"
wait_until 240 bash -c "[[ \$(psql -X -q -t -A '$CERTWARD_TEST_POSTGRES_URL' -c \"SELECT COUNT(*) FROM managed_events WHERE kind = 'renewed'\") == $N && \$(psql -X -q -t -A '$CERTWARD_TEST_POSTGRES_URL' -c \"SELECT COUNT(*) FROM managed_certificates WHERE state = 'active' AND renew_request = ''\") == $N ]]" ||
  fail "round 2: $(events renewed) of $N renewed, $(managed_where "state = 'active'") active after 240 s"
echo "round 2: $N renewed in $(($(date +%s) - start)) s, the last $(($(date +%s) - ${killed:-$start})) s after the kill (lease ${LEASE} s)"
# A job A held may belong to a renewal it had already made durable (its completion was still
# waiting for its commit): every certificate is renewed, and B finishes that job once its lease
# has run out.
wait_until $((LEASE + 60)) bash -c "[[ \$(psql -X -q -t -A '$CERTWARD_TEST_POSTGRES_URL' -c \"SELECT COUNT(*) FROM jobs WHERE kind = 'managed.reconcile' AND state = 'running'\") == 0 ]]" ||
  fail "round 2: jobs still running $((LEASE + 60)) s after every renewal"

assert_eq "$((2 * N))" "$(pg "SELECT COUNT(*) FROM certificates WHERE common_name LIKE 'm%.replicas.test'")" \
  "round 2: two certificates per managed certificate in the inventory"
assert_eq 0 "$(pg "SELECT COUNT(*) FROM (SELECT common_name FROM certificates WHERE common_name LIKE 'm%.replicas.test' GROUP BY common_name HAVING COUNT(*) <> 2) d")" \
  "round 2: no managed certificate renewed twice or not at all"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM certificates WHERE common_name LIKE 'm%.replicas.test' AND superseded_by IS NOT NULL")" \
  "round 2: every first certificate superseded"
assert_eq 0 "$(pg "SELECT COUNT(*) FROM (SELECT managed_id FROM managed_events WHERE kind = 'renewed' GROUP BY managed_id HAVING COUNT(*) <> 1) d")" \
  "round 2: exactly one 'renewed' entry per managed certificate"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM audit_events WHERE action = 'managed.renew' AND actor LIKE 'managed:%'")" \
  "round 2: managed.renew audit events by the reconciler"
assert_eq "$((2 * N))" "$(pg "SELECT COUNT(*) FROM audit_events WHERE action = 'certificate.issue' AND details LIKE '%replicas.test%'")" \
  "the RA's certificate.issue audit events"
assert_eq "$N" "$(pg "SELECT COUNT(*) FROM managed_certificates m JOIN certificates c ON c.fingerprint = m.fingerprint WHERE c.superseded_by IS NULL AND c.common_name = m.name || '.replicas.test'")" \
  "round 2: each managed certificate points at its current certificate"
assert_eq 0 "$(managed_where "state <> 'active' OR last_error <> ''")" "round 2: none failed"
# A's leases were taken over by B once they expired, and are done.
if [[ -s $T/orphans ]]; then
  ids=$(sed "s/.*/'&'/" "$T/orphans" | paste -sd,)
  # Leased twice: by A, then, after the lease ran out, by B (the only one left).
  assert_eq "$(wc -l <"$T/orphans")" "$(pg "SELECT COUNT(*) FROM jobs WHERE id IN ($ids) AND state = 'done' AND attempts >= 2")" \
    "the jobs A held were leased again and finished"
  after=$(pg "SELECT MIN(updated_at) FROM jobs WHERE id IN ($ids)")
  ((after >= lease_end)) && pass || fail "A's jobs were taken before their lease ran out ($after < $lease_end)"
fi
assert_eq 0 "$(pg "SELECT COUNT(*) FROM jobs WHERE kind = 'managed.reconcile' AND state = 'running'")" "no job left running"

stop_server || fail "replica B did not stop cleanly"
finish
