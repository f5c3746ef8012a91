#!/usr/bin/env bash
# Managed-certificate renewal at scale: BENCH_MANAGED (default 100,000) managed certificates with
# files targets (key and full chain into a temporary directory), all due at once, renewed by the
# reconciler of one `certward serve` (release build, SQLite as shipped). Beside it, in the same
# run and against the same server, the RA's own issuance rate: wrk POSTing server-keygen
# issuances (POST /api/v1/certificates with key_type ec-p256, what a renewal asks of the RA) --
# the ceiling the reconciler is compared with.
#
#   bench/lifecycle/run.sh                        # 100,000: about 30-40 minutes on 2 cores
#   BENCH_MANAGED=10000 bench/lifecycle/run.sh    # a quick run, a few minutes
#   CONCURRENCY=4 BATCH=32 bench/lifecycle/run.sh # [lifecycle] concurrency and batch
#   RA_CONNS="2 16" RA_DURATION=20 bench/lifecycle/run.sh   # the ceiling's wrk runs
#   CERTWARD_BIN=/path/to/certward bench/lifecycle/run.sh   # skip the build, use this binary
#
# Phases:
#   1. create: BENCH_MANAGED managed certificates through the REST API (keep-alive curl, 4
#      streams); the reconciler issues and deploys each (the initial issuance, reported too);
#   2. renew: the server is restarted under libfaketime 61 days later (FAKETIME="+61d";
#      monotonic time is not faked): with the default renew_before (a third of the 90-day
#      lifetime) every managed certificate is due at once when its reconcilers start. Reported:
#      renewals/s and the time until none is due (every managed certificate active, renewed,
#      deployed, its renewal not due);
#   3. ceiling: wrk against the same server, RA_DURATION seconds per row.
# Checks: each managed certificate renewed exactly once (one `renewed` timeline entry each, two
# certificates per name in the inventory), a sample of deployed files holding the managed
# certificate with its key.
#
# Traffic goes to 127.0.0.1 only; every process started here is stopped by PID on exit.
# Results: build/release/bench/lifecycle-summary.txt, build/release/bench/lifecycle-*.txt.
set -euo pipefail

cd "$(dirname "$0")/../.."
root_dir=$PWD
out=$root_dir/build/release/bench
N=${BENCH_MANAGED:-100000}
CONCURRENCY=${CONCURRENCY:-2}
BATCH=${BATCH:-16}
RA_CONNS=${RA_CONNS:-2 16}
RA_DURATION=${RA_DURATION:-20}
SHIFT_DAYS=61

pids=()
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-lifecycle.XXXXXX")
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "lifecycle: $*" >&2; exit 1; }
((N > 0)) || die "BENCH_MANAGED must be positive"

# 1. Tools.
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v faketime >/dev/null || need+=(faketime)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  sudo_cmd=()
  [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
libfaketime=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
[[ -n $libfaketime ]] || die "libfaketime.so.1 not found"

# 2. The release binary.
if [[ -z ${CERTWARD_BIN:-} ]]; then
  cmake --preset release >/dev/null || die "cmake --preset release failed"
  cmake --build --preset release --target certward -j2 ||
    die "the release build failed; fix it, or point CERTWARD_BIN at a certward binary"
  CERTWARD_BIN=$root_dir/build/release/src/certward
fi
[[ -x $CERTWARD_BIN ]] || die "no certward binary at $CERTWARD_BIN"
mkdir -p "$out"
rm -f "$out"/lifecycle-*.txt

data=$T/data
files=$T/deploy
mkdir -p "$data" "$files"
for ((d = 0; d <= (N - 1) / 1000; d++)); do mkdir -p "$files/$d"; done
cat >"$T/certward.toml" <<EOF
log_level = "warn"

[server.rate_limit]
requests_per_second = 0

[lifecycle]
allowed_paths = ["$files"]
concurrency = $CONCURRENCY
batch = $BATCH
poll_interval_ms = 100
sweep_interval = "1h"
EOF
export CERTWARD_DATA_DIR=$data CERTWARD_CONFIG=$T/certward.toml
db() { sqlite3 -cmd ".timeout 30000" "$data/certward.db" "$1"; }

# start_server [env...]: sets cw_pid, cw_base, token.
start_server() {
  : >"$T/serve.out"
  env CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0 "$@" \
    "$CERTWARD_BIN" serve >"$T/serve.out" 2>>"$T/serve.err" &
  cw_pid=$!
  pids+=("$cw_pid")
  for _ in $(seq 1 600); do
    grep -q '^  plain HTTP' "$T/serve.out" 2>/dev/null && break
    kill -0 "$cw_pid" 2>/dev/null || die "certward serve exited early: $(tail -5 "$T/serve.err")"
    sleep 0.05
  done
  cw_base=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$T/serve.out")
  [[ $cw_base == https://127.0.0.1:* ]] || die "certward is not on loopback: '$cw_base'"
}
stop_server() {
  kill -TERM "$cw_pid"
  wait "$cw_pid" || die "certward serve exited non-zero on SIGTERM: $(tail -3 "$T/serve.err")"
}
log() { echo "== $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg) -- $*"; }
now_ms() { date +%s%3N; }
uptime_before=$(uptime)
echo "== $(nproc) cores; uptime before: $uptime_before"

# --- Phase 1: create, and the initial issuance ----------------------------------------------
start_server
token=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$T/serve.out" | head -1 || true)
[[ -n $token ]] || die "no admin token in the serve output"
"$CERTWARD_BIN" ca export root >"$T/root.pem"

# One keep-alive curl per stream, STREAMS streams; request i creates m<i> with a files target.
STREAMS=4
for ((s = 0; s < STREAMS; s++)); do
  awk -v s="$s" -v n="$N" -v k="$STREAMS" -v base="$cw_base" -v tok="$token" -v ca="$T/root.pem" \
    -v dir="$files" 'BEGIN {
    first = 1
    for (i = s; i < n; i += k) {
      if (!first) print "next"
      first = 0
      name = sprintf("m%06d", i); d = dir "/" int(i / 1000)
      print "url = \"" base "/api/v1/managed\""
      print "cacert = \"" ca "\""
      print "header = \"Authorization: Bearer " tok "\""
      print "header = \"Content-Type: application/json\""
      printf "data = \"{\\\"name\\\":\\\"%s\\\",\\\"sans\\\":[\\\"%s.bench.test\\\"],", name, name
      printf "\\\"targets\\\":[{\\\"name\\\":\\\"files\\\",\\\"kind\\\":\\\"files\\\",\\\"files\\\":"
      printf "{\\\"key\\\":\\\"%s/%s.key\\\",\\\"fullchain\\\":\\\"%s/%s.crt\\\"}}]}\"\n", d, name, d, name
      print "output = \"/dev/null\""
      print "write-out = \"%{http_code}\\n\""
      print "silent"
    }
  }' >"$T/create-$s.cfg"
done
log "phase 1: creating $N managed certificates through the REST API ($STREAMS keep-alive streams)"
t_create=$(now_ms)
cpids=()
for ((s = 0; s < STREAMS; s++)); do
  curl -K "$T/create-$s.cfg" >"$T/create-$s.codes" &
  cpids+=($!)
  pids+=($!)
done
for p in "${cpids[@]}"; do wait "$p"; done
t_created=$(now_ms)
created=$(cat "$T"/create-*.codes | grep -c '^201$' || true)
((created == N)) || die "created $created of $N: $(cat "$T"/create-*.codes | sort | uniq -c | tr '\n' ' ')"
log "created $N in $(((t_created - t_create) / 1000)) s; waiting for the initial issuance"
while :; do
  active=$(db "SELECT COUNT(*) FROM managed_certificates WHERE state = 'active' AND deployed_fingerprint = fingerprint")
  ((active >= N)) && break
  kill -0 "$cw_pid" 2>/dev/null || die "certward serve died: $(tail -5 "$T/serve.err")"
  sleep 1
  (($(now_ms) - t_create > 10 * 3600 * 1000)) && die "initial issuance not done after 10 h"
  (((($(now_ms) - t_create) / 1000) % 30 == 0)) && log "  $active of $N issued and deployed"
done
t_issued=$(now_ms)
log "phase 1: $N issued and deployed $(((t_issued - t_create) / 1000)) s after the first creation"
stop_server

# --- Phase 2: all due at once ----------------------------------------------------------------
# The issued certificates' renewal is due 60 days after not_before (a third of 90 days before
# the end); 61 days later every one is due.
shift_s=$((SHIFT_DAYS * 86400))
due_now() {  # due or not yet renewed: what "none is due" waits for
  local fake_now=$(($(date +%s) + shift_s))
  db "SELECT COUNT(*) FROM managed_certificates WHERE state <> 'deleted' AND (state <> 'active'
      OR renew_at <= $fake_now OR deployed_fingerprint IS NOT fingerprint)"
}
renewed_now() { db "SELECT COUNT(*) FROM managed_events WHERE kind = 'renewed'"; }
log "phase 2: restarting under libfaketime, +${SHIFT_DAYS} days"
t_start=$(now_ms)
start_server LD_PRELOAD="$libfaketime" FAKETIME="+${SHIFT_DAYS}d" FAKETIME_DONT_FAKE_MONOTONIC=1 \
  FAKETIME_NO_CACHE=0
t_up=$(now_ms)
due0=$(due_now)
log "server up in $(((t_up - t_start))) ms; $due0 of $N due"
((due0 >= N * 9 / 10)) || die "only $due0 of $N due after the shift: the clock shift did not take"
first_renewal=""
{
  while :; do
    due=$(due_now)
    ren=$(renewed_now)
    [[ -z $first_renewal && $ren -gt 0 ]] && first_renewal=$(now_ms)
    echo "$(($(now_ms) - t_start)) $ren $due"
    ((due == 0)) && break
    kill -0 "$cw_pid" 2>/dev/null || die "certward serve died: $(tail -5 "$T/serve.err")"
    sleep 1
  done
} >"$out/lifecycle-progress.txt"
t_none=$(now_ms)
renewed=$(renewed_now)
log "phase 2: none due $(((t_none - t_start) / 1000)) s after the restart; $renewed renewals"

# Exactly once, and the files are the renewals.
per_managed=$(db "SELECT COUNT(*) FROM (SELECT managed_id FROM managed_events WHERE kind = 'renewed' GROUP BY managed_id HAVING COUNT(*) = 1)")
twice=$(db "SELECT COUNT(*) FROM (SELECT common_name FROM certificates WHERE common_name LIKE 'm%.bench.test' GROUP BY common_name HAVING COUNT(*) <> 2)")
bad_files=0
while read -r name fp; do
  i=$((10#${name#m}))
  f=$files/$((i / 1000))/$name
  got=$(openssl x509 -in "$f.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
  [[ $got == "$fp" && "$(openssl pkey -in "$f.key" -pubout)" == "$(openssl x509 -in "$f.crt" -noout -pubkey)" ]] ||
    bad_files=$((bad_files + 1))
done < <(db "SELECT name, fingerprint FROM managed_certificates ORDER BY random() LIMIT 50" | tr '|' ' ')

# --- Phase 3: the RA's issuance rate, same server ---------------------------------------------
jq -n '{profile: "tls-server", key_type: "ec-p256", common_name: "ra.bench.test"}' >"$T/ra-body.json"
: >"$T/ra-results"
for c in $RA_CONNS; do
  log "phase 3: RA issuance (server keygen), $c connections, ${RA_DURATION}s"
  AUTHORIZATION="Bearer $token" BODY_FILE=$T/ra-body.json EXPECT_STATUS=201 \
    wrk -t2 -c"$c" -d"${RA_DURATION}s" --timeout 10s -s "$root_dir/bench/load/post.lua" \
    "$cw_base/api/v1/certificates" >"$out/lifecycle-ra-c$c.txt" 2>&1 &
  wpid=$!
  pids+=("$wpid")
  wait "$wpid" || die "wrk failed: $(tail -5 "$out/lifecycle-ra-c$c.txt")"
  line=$(grep '^WRK_RESULT' "$out/lifecycle-ra-c$c.txt") || die "no wrk result"
  echo "$c ${line#WRK_RESULT }" >>"$T/ra-results"
done
stop_server
uptime_after=$(uptime)

python3 - "$N" "$t_create" "$t_created" "$t_issued" "$t_start" "$t_up" "${first_renewal:-$t_up}" \
  "$t_none" "$renewed" "$per_managed" "$twice" "$bad_files" "$T/ra-results" "$CONCURRENCY" \
  "$BATCH" "$uptime_before" "$uptime_after" "$out/lifecycle-summary.txt" <<'PY'
import re, sys
(n, t_create, t_created, t_issued, t_start, t_up, t_first, t_none, renewed, per_managed, twice,
 bad_files) = map(int, sys.argv[1:13])
ra_path, conc, batch, up_before, up_after, summary = sys.argv[13:19]
lines = []
lines.append(f"Managed-certificate renewal: {n:,} managed certificates, files targets (key + full chain), "
             f"SQLite, [lifecycle] concurrency {conc}, batch {batch}")
lines.append(f"uptime before: {up_before.strip()}")
lines.append(f"uptime after:  {up_after.strip()}")
lines.append("")
create_s = (t_created - t_create) / 1000
issue_s = (t_issued - t_create) / 1000
lines.append(f"phase 1  create through REST        {create_s:8.1f} s   {n / create_s:8.1f} creates/s")
lines.append(f"         initial issuance + deploy  {issue_s:8.1f} s   {n / issue_s:8.1f} /s (overlapping the creates)")
renew_s = (t_none - t_start) / 1000
work_s = (t_none - t_up) / 1000
rate = renewed / work_s if work_s > 0 else 0
lines.append(f"phase 2  all due at once (+61 days, restart)")
lines.append(f"         server start                {(t_up - t_start) / 1000:8.1f} s")
lines.append(f"         first renewal after start   {(t_first - t_up) / 1000:8.1f} s")
lines.append(f"         time until none is due      {renew_s:8.1f} s   (from the restart)")
lines.append(f"         renewals                    {renewed:8,}     {rate:8.1f} renewals/s (issue + deploy, from server up)")
ra = []
for line in open(ra_path):
    conns, rest = line.split(" ", 1)
    kv = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", rest)}
    per_s = kv["ok"] / (kv["duration_us"] / 1e6)
    ra.append((int(conns), per_s, kv))
lines.append("phase 3  the RA, same server: POST /api/v1/certificates, key_type ec-p256 (wrk)")
for conns, per_s, kv in ra:
    lines.append(f"         {conns:3} connections                {per_s:8.1f} issuances/s   p50 {kv['p50_us'] / 1000:.1f} ms, "
                 f"non-201: {int(kv['bad'])}")
best = max((p for _, p, _ in ra), default=0)
lines.append("")
if best:
    lines.append(f"renewals/s / best RA issuances/s: {rate / best:.2f}")
    for conns, per_s, _ in ra:
        lines.append(f"renewals/s / RA at {conns} connections: {rate / per_s:.2f}")
ok = renewed == n and per_managed == n and twice == 0 and bad_files == 0
lines.append("")
lines.append(f"exactly once: {renewed} renewed entries, {per_managed} managed certificates with exactly one, "
             f"{twice} names without exactly two certificates; sampled files wrong: {bad_files} -> "
             + ("OK" if ok else "MISMATCH"))
text = "\n".join(lines) + "\n"
open(summary, "w").write(text)
print("\n" + text)
sys.exit(0 if ok else 1)
PY
