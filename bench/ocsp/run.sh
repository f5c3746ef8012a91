#!/usr/bin/env bash
# OCSP GET throughput (RFC 5019/6960 GET, one SHA-1 CertID, no nonce, the same request over
# and over) with wrk, in one run on the same machine, against:
#   1. certward serve: its plain-HTTP listener, GET /ocsp/<base64 request>, answered from its
#      cache of pre-signed responses;
#   2. openssl ocsp as a responder (-index -CA -rsigner -rkey) over its own small CA of the same
#      key type, which signs every response as it is asked;
#   3. nginx serving certward's response as a static file (the same bytes, Content-Type
#      application/ocsp-response): the practical HTTP ceiling for a response of that size.
# Every target must first answer 200 with a response that `openssl ocsp -respin` verifies and
# reads as "good"; any non-2xx answer under load fails the run too. Prints requests/s and
# latency side by side, with certward/nginx (target >= 0.80, DESIGN.md) and certward/openssl.
#
#   bench/ocsp/run.sh                       # about a minute once the binary is built
#   DURATION=30 CONNS="32 128" bench/ocsp/run.sh
#   WARMUP=5 bench/ocsp/run.sh              # seconds of unmeasured load before each run
#   OPENSSL_PROCS=1 bench/ocsp/run.sh       # openssl ocsp -multi N (default: one per core)
#   CERTWARD_BIN=/path/to/certward bench/ocsp/run.sh   # skip the build, use this binary
#
# `openssl ocsp -port` listens on every address and cannot be told otherwise, so all three
# servers, curl and wrk run in a private network namespace made here (unshare --net) whose
# only interface is its own loopback: nothing is reachable from outside, and the three are
# measured over the same loopback. This needs root.
# Every process started here is stopped by PID on exit.
# Results: build/release/bench/ocsp/: summary.txt (the table), wrk-*.txt (raw wrk output),
# the requests and the three responses (*.der) with their headers, openssl's reading of each
# response (*-verify.txt), the servers' logs.
set -euo pipefail

cd "$(dirname "$0")/../.."
root_dir=$PWD
out=$root_dir/build/release/bench/ocsp
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-32}
WRK_THREADS=${WRK_THREADS:-2}
OPENSSL_PROCS=${OPENSSL_PROCS:-$(nproc)}

pids=()
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-ocsp.XXXXXX")
# nginx's workers drop to an unprivileged user when started as root: they get a directory of
# their own, holding only public material, instead of read access to the keys in $T.
N=$(mktemp -d "${TMPDIR:-/tmp}/certward-ocsp-nginx.XXXXXX")
chmod 755 "$N"

# Stops one process and the children it forked (openssl ocsp -multi, nginx workers). openssl's
# -multi parent does not act on SIGTERM until a child exits, hence its children get it too.
stop_tree() {
  local pid=$1 kids=() _
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  mapfile -t kids < <(pgrep -P "$pid" || true)
  kill -TERM "$pid" 2>/dev/null || true
  sleep 0.2
  ((${#kids[@]} == 0)) || kill -TERM "${kids[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    mapfile -t kids < <(pgrep -P "$pid" || true)
    kill -KILL "$pid" "${kids[@]}" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_tree "${pids[i]}"; done
  rm -rf "$T" "$N"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "ocsp: $*" >&2; exit 1; }
# (A user namespace would do without root for openssl, but not for nginx, whose workers
# switch to a user that such a namespace does not map.)
[[ $(id -u) == 0 ]] || die "run as root: the servers run in a private network namespace"

# 1. Tools.
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v jq >/dev/null || need+=(jq)
command -v ip >/dev/null || [[ -x /usr/sbin/ip ]] || need+=(iproute2)
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
export PATH=$PATH:/usr/sbin:/sbin

# 2. The release binary.
if [[ -z ${CERTWARD_BIN:-} ]]; then
  cmake --preset release >/dev/null || die "cmake --preset release failed"
  cmake --build --preset release --target certward -j2 ||
    die "the release build failed; fix it, or point CERTWARD_BIN at a certward binary"
  CERTWARD_BIN=$root_dir/build/release/src/certward
fi
[[ -x $CERTWARD_BIN ]] || die "no certward binary at $CERTWARD_BIN"
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.der "$out"/*.log "$out"/*.out

# 3. The private network namespace: a holder process keeps it alive; "${ns[@]}" CMD runs CMD
# in it. nsenter execs CMD, so $! of "${ns[@]}" CMD & is CMD's own PID (a shell function in
# its place would put a subshell between the two).
unshare --net -- sleep 3600 &
ns_pid=$!
pids+=("$ns_pid")
host_net=$(readlink /proc/self/ns/net)
in_own_ns() {
  local net
  net=$(readlink /proc/"$ns_pid"/ns/net 2>/dev/null) && [[ $net != "$host_net" ]]
}
for _ in $(seq 1 100); do
  in_own_ns && break
  kill -0 "$ns_pid" 2>/dev/null || die "cannot make a network namespace (unshare --net)"
  sleep 0.05
done
in_own_ns || die "unshare --net did not make a network namespace"
ns=(nsenter --target "$ns_pid" --net --)
"${ns[@]}" ip link set lo up || die "cannot bring up the namespace's loopback"
free_port() {
  "${ns[@]}" python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Standard base64 of the DER request, every reserved character percent-escaped (RFC 5019 2.1.1).
url_path() { python3 -c 'import base64, sys, urllib.parse
print(urllib.parse.quote(base64.b64encode(open(sys.argv[1], "rb").read()).decode(), safe=""))' "$1"; }

# GETs URL once into FILE.der (headers beside it); the answer must be 200 with the OCSP media type.
fetch_once() {  # name url file
  local got
  got=$("${ns[@]}" curl -s -D "${3%.der}-headers.txt" -o "$3" -w '%{http_code} %{content_type}' "$2") ||
    die "$1: GET failed"
  [[ $got == "200 application/ocsp-response"* ]] ||
    die "$1 answered '$got' to GET $2: $(head -c 300 "$3" | tr -c '[:print:]\n' '.')"
}
# The response must verify (signature and signer, against CAFILE) and say "good" for LEAF.
check_response() {  # name response issuer leaf cafile
  local name=$1 report="$out/$1-verify.txt"
  openssl ocsp -respin "$2" -issuer "$3" -cert "$4" -CAfile "$5" -no_nonce -resp_text \
    >"$report" 2>&1 || die "$name: openssl ocsp -respin rejects the response: $(tail -5 "$report")"
  grep -q '^Response verify OK' "$report" || die "$name: the response does not verify: $(tail -5 "$report")"
  grep -q ': good$' "$report" || die "$name: the certificate's status is not good: $(tail -5 "$report")"
  if grep -q 'Status times invalid' "$report"; then
    die "$name: thisUpdate/nextUpdate invalid: $(tail -5 "$report")"
  fi
  echo "   $name: 200, $(stat -c %s "$2") bytes, verified by openssl ocsp -respin, status good"
}
# Waits until URL answers at all (any status) while PID lives.
wait_listening() {  # name pid url
  for _ in $(seq 1 100); do
    "${ns[@]}" curl -s -o /dev/null "$3" && return 0
    kill -0 "$2" 2>/dev/null || die "$1 exited: $(tail -5 "$T/$1.log" 2>/dev/null)"
    sleep 0.1
  done
  die "$1 does not answer at $3"
}

echo "== $(nproc) cores; $(openssl version); $(nginx -v 2>&1); $(wrk -v 2>&1 | head -1)"
uptime_before=$(uptime)
echo "== uptime before: $uptime_before"

# 4. certward serve, one certificate issued through its REST API, the request for it.
cw_data=$T/certward-data
mkdir -p "$cw_data"
cat >"$T/certward.toml" <<'EOF'
log_level = "warn"

[server.rate_limit]
requests_per_second = 0
EOF
"${ns[@]}" env CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0 CERTWARD_DATA_DIR="$cw_data" \
  CERTWARD_CONFIG="$T/certward.toml" "$CERTWARD_BIN" serve >"$T/serve.out" 2>"$T/certward.log" &
cw_pid=$!
pids+=("$cw_pid")
for _ in $(seq 1 300); do
  grep -q '^  plain HTTP' "$T/serve.out" 2>/dev/null && break
  kill -0 "$cw_pid" 2>/dev/null || die "certward serve exited early: $(cat "$T/certward.log")"
  sleep 0.05
done
cw_base=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$T/serve.out")
cw_http=$(sed -n 's/^  plain HTTP: *\(http:\/\/[^/ ]*\).*/\1/p' "$T/serve.out")
token=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$T/serve.out" | head -1 || true)
[[ -n $cw_base && -n $cw_http && -n $token ]] || die "no URLs or admin token in serve output: $(cat "$T/serve.out")"
[[ $cw_http == http://127.0.0.1:* ]] || die "certward's plain HTTP is not on loopback: $cw_http"
"$CERTWARD_BIN" -d "$cw_data" ca export root >"$T/cw-root.pem"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/cw-leaf-key.pem" \
  -subj "/CN=ocsp.example.com" -addext "subjectAltName=DNS:ocsp.example.com" \
  -out "$T/cw-leaf.csr" 2>/dev/null
jq -n --rawfile csr "$T/cw-leaf.csr" '{profile: "tls-server", csr: $csr}' >"$T/issue.json"
code=$("${ns[@]}" curl -s -o "$T/issued.json" -w '%{http_code}' --cacert "$T/cw-root.pem" -X POST \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary @"$T/issue.json" "$cw_base/api/v1/certificates")
[[ $code == 201 ]] || die "issuance answered $code: $(head -c 400 "$T/issued.json")"
jq -r .certificate_pem "$T/issued.json" >"$T/cw-leaf.pem"
authority=$(jq -r .authority "$T/issued.json")
fetch_ca=$("${ns[@]}" curl -s -o "$T/cw-ca.pem" -w '%{http_code}' "$cw_http/ca/$authority.pem")
[[ $fetch_ca == 200 ]] || die "GET /ca/$authority.pem answered $fetch_ca"
cat "$T/cw-ca.pem" "$T/cw-root.pem" >"$T/cw-trust.pem"
openssl ocsp -issuer "$T/cw-ca.pem" -cert "$T/cw-leaf.pem" -no_nonce -reqout "$out/certward-request.der" \
  >/dev/null
cw_url="$cw_http/ocsp/$(url_path "$out/certward-request.der")"
echo "== certward at $cw_http (pid $cw_pid): leaf $(openssl x509 -in "$T/cw-leaf.pem" -noout -serial) from '$authority'"
fetch_once certward "$cw_url" "$out/certward-response.der"
check_response certward "$out/certward-response.der" "$T/cw-ca.pem" "$T/cw-leaf.pem" "$T/cw-trust.pem"

# 5. openssl ocsp: its own CA with certward's CA key type and response digest, one leaf,
# index.txt listing it as valid.
o=$T/openssl
mkdir -p "$o"
ca_text=$(openssl x509 -in "$T/cw-ca.pem" -noout -text)
curve=$(sed -n 's/^ *ASN1 OID: *//p' <<<"$ca_text" | head -1)
if [[ -n $curve ]]; then
  keyopts=(-algorithm EC -pkeyopt "ec_paramgen_curve:$curve")
  key_label="EC $curve"
else
  bits=$(sed -n 's/^ *Public-Key: (\([0-9]*\) bit)/\1/p' <<<"$ca_text" | head -1)
  keyopts=(-algorithm RSA -pkeyopt "rsa_keygen_bits:${bits:-2048}")
  key_label="RSA ${bits:-2048}"
fi
resp_md=$(sed -n 's/^ *Signature Algorithm: .*-with-\(SHA[0-9]*\).*/\1/ip' \
  <<<"$(openssl ocsp -respin "$out/certward-response.der" -resp_text -noverify 2>/dev/null)" | head -1)
resp_md=$(tr '[:upper:]' '[:lower:]' <<<"${resp_md:-sha256}")
openssl genpkey "${keyopts[@]}" -out "$o/ca-key.pem" 2>/dev/null
openssl req -new -x509 -key "$o/ca-key.pem" -subj "/CN=OCSP Bench openssl CA" -days 30 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$o/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$o/leaf-key.pem" \
  -subj "/CN=ocsp.example.com" -out "$o/leaf.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:ocsp.example.com\n' \
  >"$o/leaf.ext"
# 16 random octets with the top bit clear: a positive serial of the same length as certward's.
serial=$(python3 -c 'import os; b = bytearray(os.urandom(16)); b[0] &= 0x7f; print(b.hex().upper())')
openssl x509 -req -in "$o/leaf.csr" -CA "$o/ca.pem" -CAkey "$o/ca-key.pem" -set_serial "0x$serial" \
  -days 30 -extfile "$o/leaf.ext" -out "$o/leaf.pem" 2>/dev/null
not_after=$(date -u -d "$(openssl x509 -in "$o/leaf.pem" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t%s\tunknown\t/CN=ocsp.example.com\n' "$not_after" "$serial" >"$o/index.txt"
openssl ocsp -issuer "$o/ca.pem" -cert "$o/leaf.pem" -no_nonce -reqout "$out/openssl-request.der" >/dev/null
os_port=$(free_port)
multi=()
((OPENSSL_PROCS > 1)) && multi=(-multi "$OPENSSL_PROCS")
# openssl's responder reads the request from the whole path, so it has no /ocsp/ prefix.
os_url="http://127.0.0.1:$os_port/$(url_path "$out/openssl-request.der")"
# openssl ocsp (3.0) spins at full CPU, answering nothing more, on a connection the client
# closed before sending a request, as wrk leaves its connections when a run ends: the
# responder is started afresh before every wrk run.
start_openssl() {
  [[ -n ${os_pid:-} ]] && stop_tree "$os_pid"
  "${ns[@]}" openssl ocsp -index "$o/index.txt" -port "$os_port" -CA "$o/ca.pem" -rsigner "$o/ca.pem" \
    -rkey "$o/ca-key.pem" -rmd "$resp_md" -ndays 1 "${multi[@]}" >>"$T/openssl.log" 2>&1 &
  os_pid=$!
  pids+=("$os_pid")
  wait_listening openssl "$os_pid" "$os_url"
}
start_openssl
echo "== openssl ocsp at 127.0.0.1:$os_port (pid $os_pid, ${OPENSSL_PROCS} process(es)): $key_label CA, -rmd $resp_md"
fetch_once openssl "$os_url" "$out/openssl-response.der"
check_response openssl "$out/openssl-response.der" "$o/ca.pem" "$o/leaf.pem" "$o/ca.pem"

# 6. nginx: certward's response as a static file, for the same request path.
mkdir -p "$N/www"
cp "$out/certward-response.der" "$N/www/ocsp.der"
chmod 644 "$N/www/ocsp.der"
chmod 755 "$N/www"
ng_port=$(free_port)
cat >"$N/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes auto;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $N/body;
  proxy_temp_path $N/proxy;
  fastcgi_temp_path $N/fastcgi;
  uwsgi_temp_path $N/uwsgi;
  scgi_temp_path $N/scgi;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=16;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$ng_port reuseport;
    location / {
      root $N/www;
      try_files /ocsp.der =404;
      types { }
      default_type application/ocsp-response;
    }
  }
}
EOF
"${ns[@]}" nginx -p "$N" -e "$N/error.log" -c "$N/nginx.conf" >"$T/nginx.log" 2>&1 &
ng_pid=$!
pids+=("$ng_pid")
ng_url="http://127.0.0.1:$ng_port/ocsp/$(url_path "$out/certward-request.der")"
wait_listening nginx "$ng_pid" "$ng_url"
echo "== nginx at 127.0.0.1:$ng_port (pid $ng_pid, worker_processes auto): certward's response as a static file"
fetch_once nginx "$ng_url" "$out/nginx-response.der"
cmp -s "$out/nginx-response.der" "$out/certward-response.der" || die "nginx does not serve certward's bytes"
check_response nginx "$out/nginx-response.der" "$T/cw-ca.pem" "$T/cw-leaf.pem" "$T/cw-trust.pem"

# 7. Load. CPU of a server: utime + stime of each thread of its process and of its children
# (nginx workers, openssl's -multi processes), as "tid ticks" lines.
thread_ticks() {
  local p t
  for p in "$1" $(pgrep -P "$1" || true); do
    for t in /proc/"$p"/task/*; do
      awk -v t="${t##*/}" '{ sub(/^.*\) /, ""); print t, $12 + $13 }' "$t"/stat 2>/dev/null || true
    done
  done
}
# Warm-up, then the measured run, of one server; PREPARE (if any) runs before each wrk, and
# PID_VAR names the variable holding the server's PID after it.
run_wrk() {  # name pid_var conns url [prepare]
  local name=$1 pid_var=$2 conns=$3 url=$4 prepare=${5:-} raw="$out/wrk-$1-c$3.txt" pid ticks line
  echo "== $(date +%T) load average $(cut -d' ' -f1-3 /proc/loadavg): $name, $conns connections, ${WARMUP}s warm-up + ${DURATION}s"
  if ((WARMUP > 0)); then
    [[ -z $prepare ]] || $prepare
    "${ns[@]}" wrk -t"$WRK_THREADS" -c"$conns" -d"${WARMUP}s" --timeout 5s "$url" \
      >"$out/wrk-$name-c$conns-warmup.txt" 2>&1 ||
      die "wrk warm-up failed for $name: $(tail -5 "$out/wrk-$name-c$conns-warmup.txt")"
  fi
  [[ -z $prepare ]] || $prepare
  pid=${!pid_var}
  thread_ticks "$pid" >"$T/ticks-before"
  "${ns[@]}" wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --timeout 5s --latency \
    -s "$root_dir/bench/ocsp/report.lua" "$url" >"$raw" 2>&1 || die "wrk failed for $name: $(tail -5 "$raw")"
  thread_ticks "$pid" >"$T/ticks-after"
  kill -0 "$pid" 2>/dev/null || die "$name died under load"
  line=$(grep '^WRK_RESULT' "$raw") || die "no result from wrk for $name: $(tail -5 "$raw")"
  # Total ticks, and the busiest threads' ticks (largest first) as "top=a,b,c".
  ticks=$(awk 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > 0) print d }' \
    "$T/ticks-before" "$T/ticks-after" | sort -rn | awk '{ s += $1; if (NR <= 4) top = top (NR > 1 ? "," : "") $1 }
      END { printf "cpu_ticks=%d top=%s", s, top == "" ? "0" : top }')
  echo "$name $conns $ticks ${line#WRK_RESULT }" >>"$T/results"
  grep -E '^Requests/sec|^ +Latency +[0-9]|Non-2xx|Socket errors' "$raw" | sed 's/^ */   /'
}
for c in $CONNS; do
  run_wrk certward cw_pid "$c" "$cw_url"
  run_wrk openssl os_pid "$c" "$os_url" start_openssl
  run_wrk nginx ng_pid "$c" "$ng_url"
done
uptime_after=$(uptime)
echo "== uptime after: $uptime_after"

# certward must still answer after the load. ECDSA signatures differ every time, so the same
# bytes as before it mean every answer came from the cache (unless the refresher re-signed).
fetch_once certward "$cw_url" "$T/after.der"
check_response certward-after-load "$T/after.der" "$T/cw-ca.pem" "$T/cw-leaf.pem" "$T/cw-trust.pem" >/dev/null
if cmp -s "$T/after.der" "$out/certward-response.der"; then
  cache_note="certward's answer after the load is byte-identical to the first: served from its cache"
else
  cache_note="certward's answer after the load differs from the first: re-signed in between"
fi
cp "$T/serve.out" "$out/certward-serve.out"
sed -i 's/cwt_[A-Za-z0-9_-]*/cwt_(redacted)/g' "$out/certward-serve.out"
cp "$T/certward.log" "$T/openssl.log" "$out/" 2>/dev/null || true
cp "$N/error.log" "$out/nginx-error.log" 2>/dev/null || true

# 8. The table.
python3 - "$T/results" "$out/summary.txt" "$DURATION" "$WARMUP" "$WRK_THREADS" "$OPENSSL_PROCS" \
  "$uptime_before" "$uptime_after" "$(getconf CLK_TCK)" "$(nproc)" \
  "$(stat -c %s "$out/certward-response.der")" "$(stat -c %s "$out/openssl-response.der")" \
  "$cache_note" <<'PY'
import re, sys
(res_path, summary_path, duration, warmup, wrk_threads, openssl_procs, up_before, up_after,
 hz, cores, cw_size, os_size, cache_note) = sys.argv[1:14]
hz, cw_size, os_size = int(hz), int(cw_size), int(os_size)
rows = []
for line in open(res_path):
    name, conns, rest = line.split(" ", 2)
    kv = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", rest)}
    kv["top"] = [int(t) for t in re.search(r"top=([\d,]+)", rest).group(1).split(",")]
    rows.append((name, int(conns), kv))
labels = {"certward": "certward serve (cached, plain HTTP)",
          "openssl": f"openssl ocsp -multi {openssl_procs} (signs each)",
          "nginx": "nginx, static file (certward's bytes)"}
size = {"certward": cw_size, "openssl": os_size, "nginx": cw_size}
out = [f"OCSP GET throughput: one request (SHA-1 CertID, no nonce) repeated; wrk -t{wrk_threads}, "
       f"{warmup} s warm-up, {duration} s measured per row, keep-alive where the server allows it",
       f"uptime before: {up_before.strip()}", f"uptime after:  {up_after.strip()}", "",
       f"{'server':40} {'conns':>5} {'req/s':>9} {'mean ms':>8} {'p50 ms':>7} {'p99 ms':>7} "
       f"{'bytes':>5} {'CPU cores':>9} {'CPU us/req':>10} {'errors':>6}"]
rate, bad = {}, 0
for name, conns, kv in rows:
    secs = kv["duration_us"] / 1e6
    per_s = kv["requests"] / secs
    cpu = kv["cpu_ticks"] / hz
    errs = int(kv["err_connect"] + kv["err_read"] + kv["err_write"] + kv["err_timeout"] + kv["err_status"])
    bad += int(kv["err_status"])
    rate[(name, conns)] = per_s
    out.append(f"{labels[name]:40} {conns:>5} {per_s:>9,.0f} {kv['mean_us'] / 1000:>8.3f} "
               f"{kv['p50_us'] / 1000:>7.3f} {kv['p99_us'] / 1000:>7.3f} {size[name]:>5} "
               f"{cpu / secs:>9.2f} {cpu / kv['requests'] * 1e6 if kv['requests'] else 0:>10.1f} {errs:>6}")
out.append("")
for (name, conns), r in rate.items():
    if name != "certward": continue
    ng, os_ = rate.get(("nginx", conns)), rate.get(("openssl", conns))
    if ng:
        verdict = "meets" if r / ng >= 0.8 else "below"
        out.append(f"certward / nginx   at {conns:>3} connections: {r / ng:5.2f}x  ({verdict} the 0.80x target)")
    if os_:
        out.append(f"certward / openssl at {conns:>3} connections: {r / os_:5.2f}x")
out.append("")
out.append(f"CPU: user + system time of the server's threads and worker processes over the measured "
           f"run; wrk shares the same {cores} cores. Busiest threads or processes, in cores:")
for name, conns, kv in rows:
    secs = kv["duration_us"] / 1e6
    out.append(f"  {name:9} {conns:>3} connections: " + ", ".join(f"{t / hz / secs:.2f}" for t in kv["top"]))
out.append(cache_note)
text = "\n".join(out) + "\n"
open(summary_path, "w").write(text)
print("\n" + text)
if bad:
    print(f"FAIL: {bad} non-2xx answers under load", file=sys.stderr)
    sys.exit(1)
PY
echo "   raw: $out/"
