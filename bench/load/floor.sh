#!/usr/bin/env bash
# The floor under durable REST issuance on this machine: for each part an issuance cannot
# skip, the fastest component available here, measured in one run; their sum is set against
# the budget the issuance target leaves (docs/benchmarks.md, "REST issuance under load").
#
#   1. HTTPS: nginx taking the issuance request (the POST body bench/load/run.sh sends) and
#      answering a static body as long as certward's 201 answer to it, over TLS 1.3 keep-alive
#      (wrk -t2 -c16); and certward's own GET /healthz. Machine CPU per request = busy cores /
#      rate.
#   2. ECDSA P-256, one verification (the CSR's) and one signature (the certificate's):
#      `openssl speed ecdsap256`, one core.
#   3. The durable write: a data directory with certward's schema and real rows (`certward
#      issue --count`), then transactions of BATCH certificates (each a copy of a real row
#      under a fresh fingerprint and serial) with one audit event each, in WAL mode with
#      synchronous=FULL, driven by python3's sqlite3 with prepared statements. The kernel
#      time (WAL writes, syncs, checkpoints) does not depend on the driver's language; the
#      user time includes the interpreter, so only the kernel time counts as floor.
#   4. The target's peer: `cfssl serve` without a database, the body of bench/load/run.sh.
#      Budget = cores / (1.5 x its rate): all the CPU one certificate may take, client included.
#
#   bench/load/floor.sh                     # about a minute and a half
#   DURATION=10 BATCH=16 bench/load/floor.sh
#   CERTWARD_BIN=/path/to/certward bench/load/floor.sh
#
# Traffic goes to 127.0.0.1 only; every process started here is stopped by PID on exit.
# Result: build/release/bench/floor-summary.txt.
set -euo pipefail

cd "$(dirname "$0")/../.."
root_dir=$PWD
out=$root_dir/build/release/bench
DURATION=${DURATION:-8}
BATCH=${BATCH:-16}
ROWS=${ROWS:-8000}

# shellcheck source=bench/lib.sh
source "$root_dir/bench/lib.sh"
bench_init floor

for tool in wrk cfssl nginx openssl python3 jq curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup.sh installs it)"
done
if [[ -z ${CERTWARD_BIN:-} ]]; then
  cmake --preset release >/dev/null || die "cmake --preset release failed"
  cmake --build --preset release --target certward -j2 >/dev/null || die "the release build failed"
  CERTWARD_BIN=$root_dir/build/release/src/certward
fi
[[ -x $CERTWARD_BIN ]] || die "no certward binary at $CERTWARD_BIN"
mkdir -p "$out"
echo "== $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
results=$T/results
: >"$results"

# Runs the command with its output in FILE; prints the busy CPU of the whole machine meanwhile,
# in cores (from /proc/stat).
busy_cores() {
  local file=$1 before after t0 t1
  shift
  before=$(head -1 /proc/stat)
  t0=$(date +%s.%N)
  "$@" >"$file" 2>&1 || return 1
  t1=$(date +%s.%N)
  after=$(head -1 /proc/stat)
  python3 -c '
import sys
a = [int(x) for x in sys.argv[1].split()[1:]]
b = [int(x) for x in sys.argv[2].split()[1:]]
d = [y - x for x, y in zip(a, b)]
busy = sum(d) - d[3] - d[4]  # all but idle and iowait
print(f"{busy / int(sys.argv[5]) / (float(sys.argv[4]) - float(sys.argv[3])):.3f}")
' "$before" "$after" "$t0" "$t1" "$(getconf CLK_TCK)"
}

# wrk -t2 -c16 against URL (more wrk arguments may follow); records "name rate busy_cores".
measure() {
  local name=$1 url=$2
  shift 2
  local raw=$T/$name.wrk cores rate
  cores=$(busy_cores "$raw" wrk -t2 -c16 -d"${DURATION}s" "$@" "$url") ||
    die "wrk failed for $name: $(tail -3 "$raw")"
  if grep -q "Non-2xx" "$raw"; then die "$name answered errors: $(grep Non-2xx "$raw")"; fi
  rate=$(awk '/^Requests\/sec:/ {print $2}' "$raw")
  [[ -n $rate ]] || die "no rate from wrk for $name: $(tail -3 "$raw")"
  echo "$name $rate $cores" >>"$results"
  printf '   %-18s %10.0f requests/s, %.2f cores busy\n' "$name" "$rate" "$cores"
}

# 1a. certward: its /healthz, one real issuance (whose answer sets the length of nginx's), and
# then its data directory gets the real rows step 3 copies.
cat >"$T/certward.toml" <<'TOML'
log_level = "warn"
[server.rate_limit]
requests_per_second = 0
TOML
start_certward "$T/data" "$T/certward.toml"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/leaf-key.pem" \
  -subj "/CN=load.example.com" -addext "subjectAltName=DNS:load.example.com" \
  -out "$T/leaf.csr" 2>/dev/null
jq -n --rawfile csr "$T/leaf.csr" '{profile: "tls-server", csr: $csr}' >"$T/certward-body.json"
[[ -n $cw_token ]] || die "no admin token in serve output"
code=$(curl -sk -o "$T/issued.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $cw_token" \
  -H 'Content-Type: application/json' --data-binary @"$T/certward-body.json" \
  "$cw_base/api/v1/certificates")
[[ $code == 201 ]] || die "certward's trial issuance answered $code"
answer_bytes=$(stat -c %s "$T/issued.json")
echo "== HTTPS"
measure certward-healthz "$cw_base/healthz"
stop_certward

CERTWARD_CONFIG="$T/certward.toml" "$CERTWARD_BIN" -d "$T/data" issue -p tls-server \
  --csr "$T/leaf.csr" --count 200 --concurrency 2 >/dev/null 2>"$T/issue.err" ||
  die "certward issue --count failed: $(tail -3 "$T/issue.err")"

# 1b. nginx: the same request, a static answer of the same length, over TLS 1.3.
answer=$(head -c "$answer_bytes" /dev/zero | tr '\0' 'x')
mkdir -p "$T/nginx"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/nginx/key.pem" \
  -out "$T/nginx/cert.pem" -subj /CN=127.0.0.1 -days 2 2>/dev/null
ng_port=$(free_port)
cat >"$T/nginx/nginx.conf" <<NGINX
worker_processes $(nproc);
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  server {
    listen 127.0.0.1:$ng_port ssl;
    ssl_certificate $T/nginx/cert.pem;
    ssl_certificate_key $T/nginx/key.pem;
    ssl_protocols TLSv1.3;
    keepalive_requests 100000000;
    location / { default_type application/json; return 200 '$answer'; }
  }
}
NGINX
nginx -c "$T/nginx/nginx.conf" 2>"$T/nginx/start.err" &
ng_pid=$!
pids+=("$ng_pid")
for _ in $(seq 1 50); do
  curl -sk "https://127.0.0.1:$ng_port/" 2>/dev/null | grep -q xxx && break
  kill -0 "$ng_pid" 2>/dev/null || die "nginx exited: $(cat "$T/nginx/start.err")"
  sleep 0.1
done
BODY_FILE=$T/certward-body.json EXPECT_STATUS=200 \
  measure nginx-https "https://127.0.0.1:$ng_port/api/v1/certificates" -s "$root_dir/bench/load/post.lua"
kill "$ng_pid"
wait "$ng_pid" 2>/dev/null || true

# 2. ECDSA P-256.
echo "== ECDSA P-256 (openssl speed, one core)"
openssl speed -seconds 3 ecdsap256 >"$T/speed.txt" 2>/dev/null
read -r sign_s verify_s < <(awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1), $NF}' "$T/speed.txt")
[[ -n ${sign_s:-} && -n ${verify_s:-} ]] || die "no ecdsap256 line from openssl speed"
echo "   signatures/s $sign_s, verifications/s $verify_s"

# 3. The durable write, on a copy of that database.
echo "== durable write: $ROWS certificates in transactions of $BATCH"
python3 - "$T/data/certward.db" "$T/floor.db" "$BATCH" "$ROWS" >"$T/sql.txt" <<'PY'
import resource, secrets, shutil, sqlite3, sys
src, db, batch, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
shutil.copy(src, db)
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA synchronous=FULL")
c.execute("PRAGMA cache_size=-262144")  # the writer cache of certward serve
cols = [r[1] for r in c.execute("PRAGMA table_info(certificates)")]
acols = [r[1] for r in c.execute("PRAGMA table_info(audit_events)")]
proto = c.execute("SELECT * FROM certificates WHERE origin = 'issued' ORDER BY rowid DESC LIMIT 1").fetchone()
event = c.execute("SELECT * FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
if proto is None or event is None:
    sys.exit("no issued certificate or audit event to copy")
seq = event[acols.index("seq")]
ins = f"INSERT INTO certificates ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
ains = f"INSERT INTO audit_events ({','.join(acols)}) VALUES ({','.join('?' * len(acols))})"
fi, si = cols.index("fingerprint"), cols.index("serial")
qi, ti, pi, hi = (acols.index(k) for k in ("seq", "target_id", "prev_hash", "hash"))
rows = []
for _ in range(n):
    r = list(proto)
    r[fi], r[si] = secrets.token_hex(32), secrets.token_hex(16)
    rows.append(r)
before = resource.getrusage(resource.RUSAGE_SELF)
for b in range(0, n, batch):
    c.execute("BEGIN IMMEDIATE")
    for r in rows[b:b + batch]:
        seq += 1
        e = list(event)
        e[qi], e[ti], e[pi], e[hi] = seq, r[fi], event[hi], secrets.token_hex(32)
        c.execute(ins, r)
        c.execute(ains, e)
        event = e
    c.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq, event[hi]))
    c.execute("COMMIT")
after = resource.getrusage(resource.RUSAGE_SELF)
print(f"{(after.ru_utime - before.ru_utime) / n * 1e6:.1f} {(after.ru_stime - before.ru_stime) / n * 1e6:.1f}")
PY
read -r sql_user sql_sys <"$T/sql.txt"
echo "   per certificate: kernel $sql_sys us, user $sql_user us (the user time includes the interpreter)"

# 4. cfssl serve without a database: the rate the target multiplies.
mkdir -p "$T/cfssl"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/cfssl/ca-key.pem"
openssl req -new -x509 -key "$T/cfssl/ca-key.pem" -subj "/CN=Floor CFSSL CA" -days 3650 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$T/cfssl/ca.pem" 2>/dev/null
echo '{"signing": {"default": {"expiry": "2160h", "usages": ["digital signature", "server auth"]}}}' \
  >"$T/cfssl/config.json"
jq -n --rawfile csr "$T/leaf.csr" '{certificate_request: $csr}' >"$T/cfssl-body.json"
cf_port=$(free_port)
cfssl serve -address 127.0.0.1 -port "$cf_port" -ca "$T/cfssl/ca.pem" -ca-key "$T/cfssl/ca-key.pem" \
  -config "$T/cfssl/config.json" -loglevel 4 >"$T/cfssl.out" 2>&1 &
cf_pid=$!
pids+=("$cf_pid")
cf_url=http://127.0.0.1:$cf_port/api/v1/cfssl/sign
code=""
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$T/cfssl-body.json" "$cf_url" || true)
  [[ $code == 200 ]] && break
  kill -0 "$cf_pid" 2>/dev/null || die "cfssl serve exited: $(tail -3 "$T/cfssl.out")"
  sleep 0.1
done
[[ $code == 200 ]] || die "cfssl did not answer 200 (got '$code')"
echo "== the target's peer"
BODY_FILE=$T/cfssl-body.json EXPECT_STATUS=200 \
  measure cfssl-sign "$cf_url" -s "$root_dir/bench/load/post.lua"
kill "$cf_pid"
wait "$cf_pid" 2>/dev/null || true

python3 - "$results" "$sign_s" "$verify_s" "$sql_user" "$sql_sys" "$BATCH" "$(nproc)" \
  "$out/floor-summary.txt" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
res = {}
for line in open(sys.argv[1]):
    name, rate, cores = line.split()
    res[name] = (float(rate), float(cores))
sign_s, verify_s, sql_user, sql_sys = map(float, sys.argv[2:6])
batch, cores, path, load = sys.argv[6], int(sys.argv[7]), sys.argv[8], sys.argv[9]
def per(name):  # microseconds of machine CPU per request: busy cores / rate
    rate, busy = res[name]
    return busy / rate * 1e6
target = 1.5 * res["cfssl-sign"][0]
budget = cores / target * 1e6
https, ecdsa, sql = per("nginx-https"), 1e6 / sign_s + 1e6 / verify_s, sql_sys
floor = https + ecdsa + sql
lines = [
    f"Floor under durable REST issuance, {cores} cores, load average at the end {load}",
    f"target: 1.5 x cfssl serve without a database = 1.5 x {res['cfssl-sign'][0]:,.0f} = {target:,.0f} certificates/s",
    f"budget: {cores} cores / {target:,.0f} per second = {budget:.0f} us of CPU per certificate, client included",
    "",
    f"{'part (the fastest component here)':58} {'us per certificate':>18}",
    f"{'HTTPS exchange: nginx, the same request and answer sizes':58} {https:18.0f}",
    f"{'ECDSA P-256 verification + signature (openssl speed)':58} {ecdsa:18.0f}",
    f"{'durable write, kernel time only (batches of ' + batch + ')':58} {sql:18.0f}",
    f"{'sum':58} {floor:18.0f}",
    "",
    f"floor / budget: {floor / budget:.2f}"
    + ("  (over 1: not reachable on this machine with the guarantees kept)" if floor > budget else ""),
    "",
    "for reference, same run:",
    f"  certward /healthz over HTTPS: {res['certward-healthz'][0]:,.0f} requests/s, {per('certward-healthz'):.0f} us per request",
    f"  durable write, user time (with the interpreter): {sql_user:.0f} us per certificate",
    f"  cfssl serve without a database: {per('cfssl-sign'):.0f} us of CPU per certificate, wrk included",
]
text = "\n".join(lines) + "\n"
open(path, "w").write(text)
print("\n" + text, end="")
PY
