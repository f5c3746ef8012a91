#!/usr/bin/env bash
# REST issuance under load: ECDSA P-256 certificates from one CSR, N concurrent keep-alive
# clients (wrk), against `certward serve` (HTTPS, durable in SQLite, then in PostgreSQL on a
# throwaway local cluster) and, in the same run and on the same machine, CFSSL's `cfssl serve`
# (plain HTTP) without and with its SQLite certificate database. Prints throughput and p50/p99
# latency side by side.
#
#   bench/load/run.sh                     # about 4 minutes once the binary is built
#   STORES=sqlite bench/load/run.sh       # certward on SQLite only ("sqlite postgres" by default)
#   DURATION=10 CONNS="16 64" bench/load/run.sh
#   WORKERS=64 bench/load/run.sh          # certward [server] worker_threads
#   CERTWARD_BIN=/path/to/certward bench/load/run.sh   # skip the build, use this binary
#
# Traffic goes to 127.0.0.1 only. Every process started here is stopped by PID on exit.
# Results: build/release/bench/load-summary.txt (the table), load-*.txt (raw wrk output, per
# thread CPU of certward, a `top -H` sample per certward run).
set -euo pipefail

cd "$(dirname "$0")/../.."
root_dir=$PWD
out=$root_dir/build/release/bench
DURATION=${DURATION:-20}
CONNS=${CONNS:-16 64}
WRK_THREADS=${WRK_THREADS:-2}
WORKERS=${WORKERS:-64}
STORES=${STORES:-sqlite postgres}

pids=()
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-load.XXXXXX")
pg_started=""
cleanup() {
  local p
  if [[ -n $pg_started ]]; then
    "$root_dir/scripts/pg-test-server.sh" stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "load: $*" >&2; exit 1; }

# 1. Tools.
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v cfssl >/dev/null || need+=(golang-cfssl)
command -v sqlite3 >/dev/null || need+=(sqlite3)
if ((${#need[@]})); then
  sudo_cmd=()
  [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# 2. The release binary.
if [[ -z ${CERTWARD_BIN:-} ]]; then
  cmake --preset release >/dev/null || die "cmake --preset release failed"
  cmake --build --preset release --target certward -j2 ||
    die "the release build failed; fix it, or point CERTWARD_BIN at a certward binary"
  CERTWARD_BIN=$root_dir/build/release/src/certward
fi
[[ -x $CERTWARD_BIN ]] || die "no certward binary at $CERTWARD_BIN"
mkdir -p "$out"
rm -f "$out"/load-*.txt

log_load() { echo "== $(date +%T) load average: $(cut -d' ' -f1-3 /proc/loadavg) -- $*"; }
echo "== $(nproc) cores; uptime before: $(uptime)"
uptime_before=$(uptime)

# 4. One P-256 CSR and the two request bodies.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/leaf-key.pem" \
  -subj "/CN=load.example.com" -addext "subjectAltName=DNS:load.example.com" \
  -out "$T/leaf.csr" 2>/dev/null
jq -n --rawfile csr "$T/leaf.csr" '{profile: "tls-server", csr: $csr}' >"$T/certward-body.json"
jq -n --rawfile csr "$T/leaf.csr" '{certificate_request: $csr}' >"$T/cfssl-body.json"

# Runs wrk against URL with BODY, expecting STATUS; appends "name conns" and the parsed
# result to $T/results. Extra environment (AUTHORIZATION) is inherited.
run_wrk() {  # name conns url body status
  local name=$1 conns=$2 url=$3 body=$4 status=$5 raw="$out/load-$1-c$2.txt"
  log_load "$name, $conns connections, ${DURATION}s"
  BODY_FILE=$body EXPECT_STATUS=$status \
    wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --timeout 10s --latency \
    -s "$root_dir/bench/load/post.lua" "$url" >"$raw" 2>&1 &
  local wrk_pid=$!
  pids+=("$wrk_pid")
  wait "$wrk_pid" || die "wrk failed for $name c$conns: $(tail -5 "$raw")"
  local line
  line=$(grep '^WRK_RESULT' "$raw") || die "no result from wrk for $name c$conns: $(tail -5 "$raw")"
  echo "$name $conns ${line#WRK_RESULT }" >>"$T/results"
  echo "   ${line#WRK_RESULT }"
}

# Per-thread CPU ticks of a process: "tid utime+stime name" lines. certward names its threads
# (api-worker, api-io, ra-writer, ...), so the roles come from the names.
thread_ticks() {
  local pid=$1 t name
  for t in $(ls /proc/"$pid"/task | sort -n); do
    name=$(tr -c '[:alnum:]-\n' '_' </proc/"$pid"/task/"$t"/comm 2>/dev/null) || continue
    awk -v t="$t" -v n="$name" '{ sub(/^.*\) /, ""); print t, $12 + $13, n }' /proc/"$pid"/task/"$t"/stat 2>/dev/null || true
  done
}

# 3. certward serve, once per store: SQLite in its data directory, then PostgreSQL (a local
# throwaway cluster, scripts/pg-test-server.sh) unless STORES says otherwise.
# run_certward NAME DATABASE_TOML COUNT_COMMAND: COUNT_COMMAND prints the certificates rows.
run_certward() {
  local name=$1 database_toml=$2 count_rows=$3
  local cw_data=$T/$name-data
  mkdir -p "$cw_data"
  cat >"$T/$name.toml" <<EOF
log_level = "warn"
$database_toml

[server]
worker_threads = $WORKERS

[server.rate_limit]
requests_per_second = 0
EOF
  env CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0 CERTWARD_DATA_DIR="$cw_data" \
    CERTWARD_CONFIG="$T/$name.toml" "$CERTWARD_BIN" serve >"$T/$name-serve.out" 2>"$T/$name-serve.err" &
  local cw_pid=$!
  pids+=("$cw_pid")
  for _ in $(seq 1 300); do
    grep -q '^  plain HTTP' "$T/$name-serve.out" 2>/dev/null && break
    kill -0 "$cw_pid" 2>/dev/null || die "certward serve exited early: $(cat "$T/$name-serve.err")"
    sleep 0.05
  done
  local cw_base token code cw_before cw_after
  cw_base=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$T/$name-serve.out")
  token=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$T/$name-serve.out" | head -1 || true)
  [[ -n $cw_base && -n $token ]] || die "no URL or admin token in serve output: $(cat "$T/$name-serve.out")"
  [[ $cw_base == https://127.0.0.1:* ]] || die "certward is not on loopback: $cw_base"
  CERTWARD_CONFIG="$T/$name.toml" "$CERTWARD_BIN" -d "$cw_data" ca export root >"$T/root.pem"
  code=$(curl -s -o "$T/first.json" -w '%{http_code}' --cacert "$T/root.pem" -X POST \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data-binary @"$T/certward-body.json" "$cw_base/api/v1/certificates")
  [[ $code == 201 ]] || die "trial issuance answered $code: $(head -c 400 "$T/first.json")"
  cw_before=$($count_rows "$cw_data")
  echo "== $name at $cw_base (pid $cw_pid, worker_threads $WORKERS); trial issuance 201, TLS verified against its root"

  export AUTHORIZATION="Bearer $token"
  for c in $CONNS; do
    thread_ticks "$cw_pid" >"$T/ticks-before"
    fsync_pid=""
    if command -v perf >/dev/null; then
      perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p "$cw_pid" \
        -o "$out/load-$name-c$c-fsync.txt" -- sleep "$DURATION" >/dev/null 2>&1 &
      fsync_pid=$!
      pids+=("$fsync_pid")
    fi
    (sleep $((DURATION / 2)); top -H -b -n1 -w 200 -p "$cw_pid" >"$out/load-$name-c$c-top.txt" 2>&1) &
    pids+=($!)
    run_wrk "$name" "$c" "$cw_base/api/v1/certificates" "$T/certward-body.json" 201
    thread_ticks "$cw_pid" >"$T/ticks-after"
    [[ -n $fsync_pid ]] && { wait "$fsync_pid" 2>/dev/null || true; }
    python3 - "$T/ticks-before" "$T/ticks-after" "$WORKERS" "$(nproc)" "$DURATION" \
      "$out/load-$name-c$c-fsync.txt" "$(awk -v n="$name" -v c="$c" '$1 == n && $2 == c' "$T/results")" \
      >"$out/load-$name-c$c-threads.txt" <<'PY'
import os, re, sys
before = {l.split()[0]: l.split()[1] for l in open(sys.argv[1])}
after = [l.split() for l in open(sys.argv[2])]
workers, cores, duration = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
hz = os.sysconf("SC_CLK_TCK")
n = len(after)
main_tid = after[0][0] if after else ""
sums = {}
for tid, ticks, name in after:
    role = "main" if tid == main_tid else name
    d = (int(ticks) - int(before.get(tid, 0))) / hz
    sums.setdefault(role, []).append(d)
ok = int(re.search(r"ok=(\d+)", sys.argv[7]).group(1)) if sys.argv[7] else 0
print(f"certward CPU by thread role over the {duration:.0f} s run ({n} threads, {ok} certificates)")
total = 0.0
known = ["api-io", "api-worker", "ra-writer", "public-io", "public-worker", "main"]
for role in known + sorted(r for r in sums if r not in known):
    if role not in sums: continue
    s = sum(sums[role]); total += s
    busiest = max(sums[role])
    print(f"  {role:14} threads {len(sums[role]):3}  CPU {s:7.2f} s  ({s / duration:5.2f} cores)  busiest thread {busiest:6.2f} s"
          + (f"  {s / ok * 1e6:8.0f} us/cert" if ok else ""))
print(f"  {'total':14}              CPU {total:7.2f} s  ({total / duration:5.2f} cores)"
      + (f"                          {total / ok * 1e6:8.0f} us/cert" if ok else ""))
try:
    counts = {}
    for l in open(sys.argv[6]):
        parts = l.strip().split(",")
        if len(parts) > 2 and parts[0].strip().isdigit():
            counts[parts[2]] = int(parts[0])
    syncs = sum(counts.values())
    if syncs and ok:
        print(f"  fsync+fdatasync calls: {syncs}  -> about {ok / syncs:.1f} certificates per sync: a lower bound on the group-commit batch (WAL checkpoints sync too)")
except OSError:
    pass
PY
    cat "$out/load-$name-c$c-threads.txt"
  done
  unset AUTHORIZATION

  kill -TERM "$cw_pid"
  wait "$cw_pid" || die "certward serve exited non-zero on SIGTERM: $(tail -3 "$T/$name-serve.err")"
  cw_after=$($count_rows "$cw_data")
  echo "$name $cw_before $cw_after" >>"$T/rows"
}

sqlite_rows() { sqlite3 "$1/certward.db" "SELECT COUNT(*) FROM certificates"; }
if [[ " $STORES " == *" sqlite "* ]]; then
  run_certward certward "" sqlite_rows
fi

if [[ " $STORES " == *" postgres "* ]]; then
  # Its own directory: the cluster runs as the postgres user, who cannot enter $T.
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/certward-load-pg.XXXXXX")
  pg_url=$("$root_dir/scripts/pg-test-server.sh" start "$pg_dir") || die "PostgreSQL did not start"
  pg_started=1
  pg_rows() { psql -qtAX "$pg_url" -c "SELECT COUNT(*) FROM certificates"; }
  run_certward certward-pg "[database]
driver = \"postgres\"
url = \"$pg_url\"" pg_rows
  "$root_dir/scripts/pg-test-server.sh" stop "$pg_dir" >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
  pg_started=""
fi


# 6. cfssl serve: a P-256 CA made with openssl, a signing profile like tls-server.
cf=$T/cfssl
mkdir -p "$cf"
openssl ecparam -name prime256v1 -genkey -noout -out "$cf/ca-key.pem"
openssl req -new -x509 -key "$cf/ca-key.pem" -subj "/CN=Load Test CFSSL CA" -days 3650 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$cf/ca.pem" 2>/dev/null
cat >"$cf/config.json" <<'EOF'
{"signing": {"default": {"expiry": "2160h", "usages": ["digital signature", "server auth"]}}}
EOF
# cfssl's certdb schema (certdb/sqlite/migrations/001_CreateCertificates.sql upstream; the
# Debian package does not ship the migration files).
sqlite3 "$cf/certs.db" <<'EOF'
CREATE TABLE certificates (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  ca_label                 blob,
  status                   blob NOT NULL,
  reason                   int,
  expiry                   timestamp,
  revoked_at               timestamp,
  pem                      blob NOT NULL,
  PRIMARY KEY(serial_number, authority_key_identifier)
);
CREATE TABLE ocsp_responses (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  body                     blob NOT NULL,
  expiry                   timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier) REFERENCES certificates(serial_number, authority_key_identifier)
);
EOF
printf '{"driver":"sqlite3","data_source":"%s"}\n' "$cf/certs.db" >"$cf/db-config.json"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run_cfssl() {  # name [extra cfssl args]
  local name=$1
  shift
  local port
  port=$(free_port)
  cfssl serve -address 127.0.0.1 -port "$port" -ca "$cf/ca.pem" -ca-key "$cf/ca-key.pem" \
    -config "$cf/config.json" -loglevel 4 "$@" >"$T/$name.out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local url=http://127.0.0.1:$port/api/v1/cfssl/sign code=""
  for _ in $(seq 1 100); do
    code=$(curl -s -o "$T/$name-first.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data-binary @"$T/cfssl-body.json" "$url" || true)
    [[ $code == 200 ]] && break
    kill -0 "$pid" 2>/dev/null || die "cfssl serve ($name) exited: $(tail -5 "$T/$name.out")"
    sleep 0.1
  done
  [[ $code == 200 ]] || die "cfssl ($name) trial sign answered '$code': $(head -c 300 "$T/$name-first.json")"
  echo "== $name at $url (pid $pid), trial sign 200"
  for c in $CONNS; do
    run_wrk "$name" "$c" "$url" "$T/cfssl-body.json" 200
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
run_cfssl cfssl
cf_db_before=$(sqlite3 "$cf/certs.db" "SELECT COUNT(*) FROM certificates")
run_cfssl cfssl-db -db-config "$cf/db-config.json"
cf_db_after=$(sqlite3 "$cf/certs.db" "SELECT COUNT(*) FROM certificates")

uptime_after=$(uptime)
echo "== uptime after: $uptime_after"

# 7, 8. The table and the durability checks.
python3 - "$T/results" "$out/load-summary.txt" "$DURATION" "$T/rows" "0" \
  "$cf_db_before" "$cf_db_after" "$uptime_before" "$uptime_after" "$WORKERS" "$WRK_THREADS" <<'PY'
import re, sys
res_path, summary_path, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows_path = sys.argv[4]
cf_before, cf_after = map(int, sys.argv[6:8])
up_before, up_after, workers, wrk_threads = sys.argv[8], sys.argv[9], sys.argv[10], sys.argv[11]
rows = []
for line in open(res_path):
    name, conns, rest = line.split(" ", 2)
    kv = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", rest)}
    rows.append((name, int(conns), kv))
labels = {"certward": "certward (HTTPS, SQLite, fsync per group commit)",
          "certward-pg": "certward (HTTPS, PostgreSQL, group commit)",
          "cfssl": "cfssl serve (HTTP, no database)",
          "cfssl-db": "cfssl serve (HTTP, SQLite certdb)"}
lines = []
lines.append(f"REST issuance load: ECDSA P-256 from one CSR, wrk -t{wrk_threads}, {duration:.0f} s per row, keep-alive")
lines.append(f"uptime before: {up_before.strip()}")
lines.append(f"uptime after:  {up_after.strip()}")
lines.append(f"certward worker_threads = {workers}; rate limiting off")
lines.append("")
lines.append(f"{'server':52} {'conns':>5} {'certs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
rate = {}
for name, conns, kv in rows:
    ok = kv["ok"]; per_s = ok / (kv["duration_us"] / 1e6)
    errs = int(kv["bad"] + kv["err_connect"] + kv["err_read"] + kv["err_write"] + kv["err_timeout"])
    rate[(name, conns)] = per_s
    lines.append(f"{labels.get(name, name):52} {conns:>5} {per_s:>9,.0f} {kv['p50_us'] / 1000:>8.2f} "
                 f"{kv['p99_us'] / 1000:>8.2f} {errs:>7}")
lines.append("")
stores = [line.split() for line in open(rows_path)]
for store, _, _ in stores:
    for name, conns, _ in rows:
        if name != store: continue
        for peer in ("cfssl", "cfssl-db"):
            if (peer, conns) in rate and rate[(peer, conns)] > 0:
                lines.append(f"{store:11} / {peer:8} at {conns:>3} connections: {rate[(store, conns)] / rate[(peer, conns)]:5.2f}x")
lines.append("")
durable = True
for store, before, after in stores:
    ok = int(sum(kv["ok"] for n, _, kv in rows if n == store))
    conns = sum(c for n, c, _ in rows if n == store)
    new = int(after) - int(before)
    store_durable = ok <= new <= ok + conns
    durable = durable and store_durable
    lines.append(f"durability, {store}: {ok} answered 201, {new} new rows in certificates "
                 f"(may exceed the 201s by at most the {conns} requests in flight when wrk stopped): "
                 + ("OK" if store_durable else "MISMATCH"))
db_ok = int(sum(kv["ok"] for n, _, kv in rows if n == "cfssl-db"))
db_conns = sum(c for n, c, _ in rows if n == "cfssl-db")
cf_new = cf_after - cf_before
lines.append(f"cfssl certdb: {db_ok} answered 200 (plus 1 trial), {cf_new} new rows in certificates")
text = "\n".join(lines) + "\n"
open(summary_path, "w").write(text)
print("\n" + text)
bad = int(sum(kv["bad"] for n, _, kv in rows if n.startswith("certward")))
if bad or not durable:
    print(f"FAIL: certward non-201 answers: {bad}; durability check: {'OK' if durable else 'MISMATCH'}", file=sys.stderr)
    sys.exit(1)
PY
echo "   raw: $out/load-*.txt"
