#!/usr/bin/env bash
# EST enrollment under load, beside REST issuance: COUNT requests per row from N concurrent
# keep-alive clients (wrk), against one `certward serve` (HTTPS, durable in SQLite):
#   est   POST /.well-known/est/simpleenroll, HTTP Basic with one reusable enrollment
#         credential (team "bench", profile "device"), application/pkcs10 body (base64 DER)
#   rest  POST /api/v1/certificates with the admin bearer token, the same CSR as PEM in JSON,
#         the same profile and team
# Both issue ECDSA P-256 certificates for dev.bench.example.test from one fixed CSR. Each
# connection count runs est then rest, so a pair meets the same inventory size. Prints
# requests, seconds, req/s, p50/p99 latency and non-2xx answers per row; fails on any non-2xx
# answer, on any request short of COUNT, and unless the certificates table grew by exactly
# the number of 2xx answers.
#
#   bench/est/run.sh                      # COUNT=10000 per row; builds the release binary
#   COUNT=500 CONNS="16 64" bench/est/run.sh
#   WORKERS=64 bench/est/run.sh           # certward [server] worker_threads
#   CERTWARD_BIN=/path/to/certward bench/est/run.sh   # skip the build, use this binary
#   DEADLINE=900 bench/est/run.sh         # seconds a row may take before it counts as failed
#   OUT=/tmp/somewhere bench/est/run.sh   # results elsewhere than build/release/bench
#
# wrk has no request-count option: bench/est/enroll.lua grants each thread its share of
# COUNT and stops it once that share is answered (see there); elapsed time is the script's
# own, from before the first connection to the last answer. Latency percentiles are wrk's
# (with its coordinated-omission correction, as in bench/load).
#
# Traffic goes to 127.0.0.1 only. Every process started here is stopped by PID on exit.
# Results: build/release/bench/est-summary.txt (the table), est-*.txt (raw wrk output), or
# under $OUT.
set -euo pipefail

cd "$(dirname "$0")/../.."
root_dir=$PWD
out=${OUT:-$root_dir/build/release/bench}
COUNT=${COUNT:-10000}
CONNS=${CONNS:-16 64}
WRK_THREADS=${WRK_THREADS:-2}
WORKERS=${WORKERS:-64}
DEADLINE=${DEADLINE:-900}

# shellcheck source=bench/lib.sh
source "$root_dir/bench/lib.sh"
bench_init est-bench

[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer: $COUNT"
((COUNT >= WRK_THREADS)) || die "COUNT ($COUNT) must be at least WRK_THREADS ($WRK_THREADS)"
for c in $CONNS; do
  ((c >= WRK_THREADS && c % WRK_THREADS == 0)) ||
    die "each of CONNS must be a multiple of WRK_THREADS ($WRK_THREADS): $c"
done

# 1. Tools.
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v jq >/dev/null || need+=(jq)
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
rm -f "$out"/est-*.txt

log_load() { echo "== $(date +%T) load average: $(cut -d' ' -f1-3 /proc/loadavg) -- $*"; }
echo "== $(nproc) cores; uptime before: $(uptime)"
uptime_before=$(uptime)

# 3. certward serve, rate limits off (the API's per principal, EST's per credential).
cw_data=$T/certward-data
mkdir -p "$cw_data"
cat >"$T/certward.toml" <<EOF
log_level = "warn"

[server]
worker_threads = $WORKERS

[server.rate_limit]
requests_per_second = 0

[est]
requests_per_second = 0
EOF
start_certward "$cw_data" "$T/certward.toml"
token=$cw_token
[[ -n $token ]] || die "no admin token in serve output: $(cat "$T/serve.out")"
"$CERTWARD_BIN" -d "$cw_data" ca export root >"$T/root.pem"
est_url=$cw_base/.well-known/est/simpleenroll
rest_url=$cw_base/api/v1/certificates

# api METHOD PATH JSON -> status; body in $T/resp
api() {
  curl -s -o "$T/resp" -w '%{http_code}' --cacert "$T/root.pem" -X "$1" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary "$3" "$cw_base$2"
}

# 4. The team, one reusable EST credential, one P-256 CSR and the two request bodies.
code=$(api POST /api/v1/teams '{"name":"bench","allowed_profiles":["device"],"allowed_domains":["bench.example.test"]}')
[[ $code == 201 ]] || die "creating the team answered $code: $(head -c 400 "$T/resp")"
code=$(api POST /api/v1/enrollment/credentials '{"kind":"est","team":"bench","profile":"device","max_uses":0,"lifetime":"1d","description":"bench/est/run.sh"}')
[[ $code == 201 ]] || die "creating the EST credential answered $code: $(head -c 400 "$T/resp")"
cred_id=$(jq -r .id "$T/resp")
cred_secret=$(jq -r .secret "$T/resp")
[[ -n $cred_id && $cred_id != null && -n $cred_secret && $cred_secret != null ]] ||
  die "no id or secret in the credential: $(head -c 400 "$T/resp")"
est_auth="Basic $(printf '%s:%s' "$cred_id" "$cred_secret" | base64 -w0)"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/dev-key.pem" \
  -subj "/CN=dev.bench.example.test" -addext "subjectAltName=DNS:dev.bench.example.test" \
  -out "$T/dev.csr" 2>/dev/null
openssl req -in "$T/dev.csr" -outform DER | base64 >"$T/est-body.b64"
jq -n --rawfile csr "$T/dev.csr" '{profile: "device", team: "bench", csr: $csr}' >"$T/rest-body.json"

# 5. One trial of each, verified, before the inventory is counted.
code=$(curl -s -o "$T/trial-est.b64" -w '%{http_code}' --cacert "$T/root.pem" -X POST \
  -H "Authorization: $est_auth" -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/est-body.b64" "$est_url")
[[ $code == 200 ]] || die "trial simpleenroll answered $code: $(head -c 400 "$T/trial-est.b64")"
base64 -d "$T/trial-est.b64" | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
  sed -n '/BEGIN/,/END/p' >"$T/trial-est.pem"
"$CERTWARD_BIN" -d "$cw_data" ca export issuing >"$T/issuing.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/trial-est.pem" >/dev/null ||
  die "the trial EST certificate does not verify"
code=$(curl -s -o "$T/trial-rest.json" -w '%{http_code}' --cacert "$T/root.pem" -X POST \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary @"$T/rest-body.json" "$rest_url")
[[ $code == 201 ]] || die "trial REST issuance answered $code: $(head -c 400 "$T/trial-rest.json")"
cw_db=$cw_data/certward.db
cw_before=$(sqlite3 "$cw_db" "SELECT COUNT(*) FROM certificates")
echo "== certward at $cw_base (pid $cw_pid, worker_threads $WORKERS); trial simpleenroll 200 and REST 201, TLS verified against its root"

# Runs wrk with bench/est/enroll.lua until COUNT requests are answered, then interrupts it;
# appends "name conns" and the parsed result to $T/results.
run_wrk() {  # name conns url body content-type authorization
  local name=$1 conns=$2 url=$3 body=$4 ctype=$5 auth=$6 raw="$out/est-$1-c$2.txt"
  local done_dir
  done_dir=$(mktemp -d "$T/stopped-$name-c$conns.XXXXXX")
  log_load "$name, $conns connections, $COUNT requests"
  BODY_FILE=$body CONTENT_TYPE=$ctype AUTHORIZATION=$auth COUNT=$COUNT THREADS=$WRK_THREADS \
    DONE_DIR=$done_dir wrk -t"$WRK_THREADS" -c"$conns" -d"${DEADLINE}s" --timeout 10s --latency \
    -s "$root_dir/bench/est/enroll.lua" "$url" >"$raw" 2>&1 &
  local wrk_pid=$!
  pids+=("$wrk_pid")
  # Every thread drops a file when its share is answered; wrk's main thread would sleep out
  # the whole -d otherwise, and SIGINT is its way to stop early and print.
  local waited=0
  while (($(find "$done_dir" -mindepth 1 -type f -name 'done-*' | wc -l) < WRK_THREADS)); do
    kill -0 "$wrk_pid" 2>/dev/null || break
    sleep 0.1
    waited=$((waited + 1))
    ((waited < (DEADLINE + 30) * 10)) || break
  done
  kill -INT "$wrk_pid" 2>/dev/null || true
  wait "$wrk_pid" || die "wrk failed for $name c$conns: $(tail -5 "$raw")"
  local line
  line=$(grep '^BENCH_RESULT' "$raw") || die "no result from wrk for $name c$conns: $(tail -5 "$raw")"
  echo "$name $conns ${line#BENCH_RESULT }" >>"$T/results"
  echo "   ${line#BENCH_RESULT }"
}

# 6. The runs.
for c in $CONNS; do
  run_wrk est "$c" "$est_url" "$T/est-body.b64" application/pkcs10 "$est_auth"
  run_wrk rest "$c" "$rest_url" "$T/rest-body.json" application/json "Bearer $token"
done

stop_certward
cw_after=$(sqlite3 "$cw_db" "SELECT COUNT(*) FROM certificates")
uptime_after=$(uptime)
echo "== uptime after: $uptime_after"

# 7. The table and the checks.
python3 - "$T/results" "$out/est-summary.txt" "$COUNT" "$cw_before" "$cw_after" \
  "$uptime_before" "$uptime_after" "$WORKERS" "$WRK_THREADS" <<'PY'
import re, sys
res_path, summary_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
cw_before, cw_after = int(sys.argv[4]), int(sys.argv[5])
up_before, up_after, workers, wrk_threads = sys.argv[6], sys.argv[7], sys.argv[8], sys.argv[9]
rows = []
for line in open(res_path):
    name, conns, rest = line.split(" ", 2)
    kv = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", rest)}
    statuses = re.search(r"statuses=(\S+)", rest).group(1)
    rows.append((name, int(conns), kv, statuses))
labels = {"est": "EST simpleenroll (Basic credential)", "rest": "REST POST /api/v1/certificates"}
lines = []
lines.append(f"EST enrollment beside REST issuance: ECDSA P-256 from one CSR, {count} requests per row, "
             f"wrk -t{wrk_threads}, keep-alive, HTTPS")
lines.append(f"uptime before: {up_before.strip()}")
lines.append(f"uptime after:  {up_after.strip()}")
lines.append(f"certward worker_threads = {workers}; rate limiting off ([server.rate_limit] and [est])")
lines.append("")
lines.append(f"{'mode':36} {'conns':>5} {'requests':>8} {'seconds':>8} {'req/s':>8} {'p50 ms':>8} "
             f"{'p99 ms':>8} {'non-2xx':>7} {'sock err':>8}")
problems = []
rate = {}
for name, conns, kv, statuses in rows:
    secs = kv["elapsed_us"] / 1e6
    per_s = kv["answered"] / secs if secs > 0 else 0.0
    rate[(name, conns)] = kv["ok"] / secs if secs > 0 else 0.0
    sock = int(kv["err_connect"] + kv["err_read"] + kv["err_write"] + kv["err_timeout"])
    lines.append(f"{labels.get(name, name):36} {conns:>5} {int(kv['answered']):>8} {secs:>8.2f} {per_s:>8,.1f} "
                 f"{kv['p50_us'] / 1000:>8.2f} {kv['p99_us'] / 1000:>8.2f} {int(kv['non2xx']):>7} {sock:>8}")
    if kv["non2xx"]:
        by_status = {}
        for pair in statuses.split(","):
            status, n = pair.split(":")
            by_status[status] = by_status.get(status, 0) + int(n)
        shown = ", ".join(f"{n} x {s}" for s, n in sorted(by_status.items()))
        problems.append(f"{name} c{conns}: {int(kv['non2xx'])} non-2xx answers ({shown})")
    if kv["answered"] != count or not kv["all_stopped"]:
        problems.append(f"{name} c{conns}: {int(kv['answered'])} of {count} requests answered before the deadline")
    if sock:
        problems.append(f"{name} c{conns}: {sock} socket errors")
lines.append("")
for name, conns, _, _ in rows:
    if name == "est" and rate.get(("rest", conns)):
        lines.append(f"EST / REST certificates per second at {conns:>3} connections: "
                     f"{rate[('est', conns)]:,.1f} / {rate[('rest', conns)]:,.1f} = {rate[('est', conns)] / rate[('rest', conns)]:5.2f}x")
ok = int(sum(kv["ok"] for _, _, kv, _ in rows))
grew = cw_after - cw_before
lines.append(f"inventory: {ok} answered 2xx, certificates grew by {grew}: " + ("OK" if ok == grew else "MISMATCH"))
if ok != grew:
    problems.append(f"the certificates table grew by {grew}, not by the {ok} 2xx answers")
text = "\n".join(lines) + "\n"
open(summary_path, "w").write(text)
print("\n" + text)
if problems:
    print("FAIL:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
PY
echo "   raw: $out/est-*.txt"
