#!/usr/bin/env bash
# TLS discovery scan throughput on loopback: ENDPOINTS (default 1,000) TLS endpoints, served by
# INSTANCES (default 4) nginx instances of one worker each, each listening on its share of
# consecutive ports 127.0.0.1:BASE.., every port with its own ECDSA P-256 leaf certificate
# (DISTINCT=0: one leaf for all) under one intermediate and root, all P-256. The same endpoints,
# in one run on the same machine, are scanned by:
#   1. certward scan net 127.0.0.1 --ports BASE-LAST --no-legacy: one handshake per endpoint;
#      the whole command, timed from start to exit, which records every certificate and
#      sighting into a fresh inventory (SQLite, as shipped);
#   2. the same with the legacy probe (a second, TLS 1.0/1.1-only handshake per endpoint, which
#      these servers refuse: they offer TLS 1.2 and 1.3 only);
#   3. the same as 1 again over the inventory of run 1 (a rescan: every certificate known);
#   4. sslscan (Debian's 2.0.7), sequential by design, over a --targets file of the same
#      endpoints, in its most certificate-only modes: every check it can skip skipped
#      (--no-ciphersuites --no-fallback --no-renegotiation --no-compression --no-heartbleed
#      --no-groups --show-certificate): 9 connections per endpoint (its protocol checks cannot be
#      turned off); and with --tls13 --no-check-certificate too, which limits those checks to
#      TLS 1.3: 3 connections per endpoint. The faster of the two is the ratio's denominator;
#   5. nmap -Pn -n -sT --script ssl-cert over the same ports, bounded by NMAP_TIMEOUT; if it
#      does not finish, its rate is taken over the share of scripts it reported done;
#   6. the raw handshake ceiling: CEIL_PROCS (default: one per core) `openssl s_time -new`
#      processes in parallel, each against a port of a different instance, for CEIL_TIME
#      seconds; new TLS 1.3 handshakes per second, summed. (wrk cannot force a new handshake
#      per request.)
# Every endpoint must answer: certward's report must count ENDPOINTS reachable and no error,
# sslscan must print ENDPOINTS certificates, nmap ssl-cert subjects are counted. Prints
# endpoints/s side by side with certward/sslscan (DESIGN.md target >= 5x), certward/ceiling
# (target >= 0.6x) and certward against >= 1,000 endpoints/s; with each row, the CPU the client
# and the nginx workers used (they share the same cores).
#
#   bench/discovery/run.sh                   # 2 to 5 minutes once the binary is built
#   RUNS=3 bench/discovery/run.sh            # certward runs per mode (median reported)
#   CONCURRENCY=512 bench/discovery/run.sh   # certward --concurrency (default: its own, 256)
#   ENDPOINTS=2000 INSTANCES=8 bench/discovery/run.sh
#   DISTINCT=0 bench/discovery/run.sh        # one leaf certificate for every port
#   NMAP=0 SSLSCAN=0 bench/discovery/run.sh  # skip the peers
#   NMAP_TIMEOUT=60 bench/discovery/run.sh   # stop nmap after 60 s (default 300)
#   CEIL_TIME=5 CEIL_PROCS=2 bench/discovery/run.sh   # s_time seconds and processes
#   PROFILE=1 bench/discovery/run.sh         # perf record one more certward run (default:
#                                            # only when certward is below target)
#   PERF_FREQ=2999 PROFILE=1 bench/discovery/run.sh   # sample rate of that profile (499)
#   CERTWARD_BIN=/path/to/certward bench/discovery/run.sh   # skip the build, use this binary
#
# Servers listen on 127.0.0.1 only; every process started here is stopped by PID on exit.
# Results: build/release/bench/discovery-summary.txt (the table) and build/release/bench/
# discovery/ (each tool's raw output, certward's JSON reports, the nginx logs, the profile).
set -euo pipefail

cd "$(dirname "$0")/../.."
root_dir=$PWD
outdir=$root_dir/build/release/bench
out=$outdir/discovery
ENDPOINTS=${ENDPOINTS:-1000}
INSTANCES=${INSTANCES:-4}
DISTINCT=${DISTINCT:-1}
RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-}
CEIL_PROCS=${CEIL_PROCS:-$(nproc)}
CEIL_TIME=${CEIL_TIME:-10}
NMAP=${NMAP:-1}
NMAP_TIMEOUT=${NMAP_TIMEOUT:-300}
SSLSCAN=${SSLSCAN:-1}
PROFILE=${PROFILE:-auto}
FIRST_PORT=${FIRST_PORT:-20000}

pids=()
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-disc.XXXXXX")
stop_tree() {  # pid: the process and the children it forked (nginx workers)
  local pid=$1 kids=() _
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  mapfile -t kids < <(pgrep -P "$pid" || true)
  kill -TERM "$pid" 2>/dev/null || true
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
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "discovery: $*" >&2; exit 1; }
((ENDPOINTS > 0 && INSTANCES > 0 && ENDPOINTS % INSTANCES == 0)) ||
  die "ENDPOINTS ($ENDPOINTS) must be a positive multiple of INSTANCES ($INSTANCES)"
per=$((ENDPOINTS / INSTANCES))

# 1. Tools.
need=()
command -v sslscan >/dev/null || need+=(sslscan)
command -v nmap >/dev/null || need+=(nmap)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v jq >/dev/null || need+=(jq)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)
if ((${#need[@]})); then
  sudo_cmd=()
  [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
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
rm -f "$out"/*.txt "$out"/*.json "$out"/*.log "$out"/perf.data*

# 3. ENDPOINTS consecutive free ports on 127.0.0.1, below the ephemeral range.
base=$(python3 - "$FIRST_PORT" "$ENDPOINTS" <<'PY'
import socket, sys
first, n = int(sys.argv[1]), int(sys.argv[2])
def free(p):
    s = socket.socket()
    # As nginx binds: a port whose old connections linger in TIME_WAIT is free to it.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
p = first
while p + n <= 32768:
    bad = next((q for q in range(p, p + n) if not free(q)), None)
    if bad is None:
        print(p); sys.exit(0)
    p = bad + 1
sys.exit(1)
PY
) || die "no $ENDPOINTS consecutive free ports from $FIRST_PORT up to 32767"
last=$((base + ENDPOINTS - 1))
ulimit -n 65536 2>/dev/null || true
(($(ulimit -n) >= per + 1024)) || die "ulimit -n $(ulimit -n) is too low for $per listeners per nginx"

# 4. The PKI: root -> intermediate -> one leaf per port (or one for all), all ECDSA P-256. nginx
# loads keys as root before its workers drop privileges, so they stay private to $T.
python3 - "$T" "$base" "$ENDPOINTS" "$DISTINCT" <<'PY'
import datetime, ipaddress, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
d, base, n, distinct = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
def name(cn): return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Discovery Bench"),
                               x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def pem(c): return c.public_bytes(serialization.Encoding.PEM)
def keypem(k): return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
def ca(cn, key, issuer, issuer_key, days):
    b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return b.sign(issuer_key, hashes.SHA256())
root_key = ec.generate_private_key(ec.SECP256R1())
root = ca("Discovery Bench Root", root_key, name("Discovery Bench Root"), root_key, 3650)
int_key = ec.generate_private_key(ec.SECP256R1())
inter = ca("Discovery Bench CA", int_key, root.subject, root_key, 1825)
open(f"{d}/root.pem", "wb").write(pem(root))
aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(int_key.public_key())
leaf_key = None
for i in range(n if distinct else 1):
    port = base + i
    host = f"ep{port}.disc.test" if distinct else "ep.disc.test"
    if leaf_key is None or distinct:
        leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(inter.subject).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(aki, critical=False)
            .sign(int_key, hashes.SHA256()))
    tag = str(port) if distinct else "all"
    open(f"{d}/chain-{tag}.pem", "wb").write(pem(leaf) + pem(inter))
    fd = os.open(f"{d}/key-{tag}.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, keypem(leaf_key)); os.close(fd)
PY
echo "== $(nproc) cores; $(openssl version); $(nginx -v 2>&1); sslscan $(sslscan --version 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | awk 'NF { print $1; exit }'); $(nmap --version | head -1)"
echo "== $ENDPOINTS endpoints 127.0.0.1:$base-$last, $INSTANCES nginx instances x $per ports," \
  "$([[ $DISTINCT == 1 ]] && echo "a distinct leaf per port" || echo "one leaf for every port") (ECDSA P-256, chain leaf + intermediate)"

# 5. nginx: one worker per instance; full handshakes only (no session cache or tickets); TLS
# 1.2 and 1.3, as a current server would.
for ((i = 0; i < INSTANCES; i++)); do
  N=$T/nginx$i
  mkdir -p "$N"
  {
    cat <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $((per + 8192));
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $N/body;
  proxy_temp_path $N/proxy;
  fastcgi_temp_path $N/fastcgi;
  uwsgi_temp_path $N/uwsgi;
  scgi_temp_path $N/scgi;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache off;
  ssl_session_tickets off;
EOF
    for ((p = base + i * per; p < base + (i + 1) * per; p++)); do
      if [[ $DISTINCT == 1 ]]; then
        printf '  server { listen 127.0.0.1:%d ssl; ssl_certificate %s; ssl_certificate_key %s; return 204; }\n' \
          "$p" "$T/chain-$p.pem" "$T/key-$p.pem"
      elif ((p == base + i * per)); then
        printf '  server {\n    ssl_certificate %s;\n    ssl_certificate_key %s;\n    return 204;\n' \
          "$T/chain-all.pem" "$T/key-all.pem"
      fi
      [[ $DISTINCT == 1 ]] || printf '    listen 127.0.0.1:%d ssl;\n' "$p"
    done
    [[ $DISTINCT == 1 ]] || echo "  }"
    echo "}"
  } >"$N/nginx.conf"
  nginx -p "$N" -e "$N/error.log" -c "$N/nginx.conf" >"$N/out.log" 2>&1 &
  pids+=($!)
  ng_pids[i]=$!
done
listening() {
  python3 - "$base" "$ENDPOINTS" <<'PY'
import sys
base, n = int(sys.argv[1]), int(sys.argv[2])
seen = set()
for f in ("/proc/net/tcp",):
    for line in open(f).readlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, port = local.split(":")
        if state == "0A" and addr == "0100007F" and base <= int(port, 16) < base + n:
            seen.add(int(port, 16))
print(len(seen))
PY
}
for _ in $(seq 1 300); do
  (($(listening) == ENDPOINTS)) && break
  for ((i = 0; i < INSTANCES; i++)); do
    kill -0 "${ng_pids[i]}" 2>/dev/null || die "nginx $i exited: $(tail -5 "$T/nginx$i/error.log" "$T/nginx$i/out.log")"
  done
  sleep 0.1
done
(($(listening) == ENDPOINTS)) || die "only $(listening) of $ENDPOINTS ports listening"
# One endpoint of each instance must serve a chain that verifies to the root.
for ((i = 0; i < INSTANCES; i++)); do
  p=$((base + i * per + per / 2))
  v=$(openssl s_client -connect "127.0.0.1:$p" -CAfile "$T/root.pem" -verify_return_error </dev/null 2>&1) ||
    die "127.0.0.1:$p: $(tail -3 <<<"$v")"
  grep -q 'Verify return code: 0 (ok)' <<<"$v" || die "127.0.0.1:$p does not verify: $(grep 'Verify return' <<<"$v")"
done
echo "== nginx up (pids ${ng_pids[*]}), every chain checked against the root at one port of each"

uptime_before=$(uptime)
echo "== uptime before: $uptime_before"

# CPU ticks (utime + stime) of every nginx process.
nginx_ticks() {
  local p total=0 t
  for p in "${ng_pids[@]}" $(for q in "${ng_pids[@]}"; do pgrep -P "$q"; done); do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$p"/stat 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
# Runs CMD... with stdout to FILE, appending "name wall user sys nginx_ticks rc" to results.
# Wall time is from fork to exit; user/sys are the command's and its children's.
timed() {  # name file timeout cmd...
  local name=$1 file=$2 limit=$3 before after
  shift 3
  echo "== $(date +%T) load average $(cut -d' ' -f1-3 /proc/loadavg): $name"
  before=$(nginx_ticks)
  python3 - "$file" "$limit" "$@" >"$T/timed" <<'PY'
import os, resource, signal, subprocess, sys, time
out, limit, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
with open(out, "wb") as f:
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    try:
        rc = p.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill(); p.wait()
        rc = "timeout"
    wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.3f} {ru.ru_utime:.3f} {ru.ru_stime:.3f} {rc}")
PY
  after=$(nginx_ticks)
  read -r wall user sys rc <"$T/timed"
  echo "$name $wall $user $sys $((after - before)) $rc" >>"$T/results"
  echo "   ${wall}s wall, ${user}s user, ${sys}s sys, nginx $((after - before)) ticks, exit $rc"
}

# 6. The handshake ceiling.
ceil_ports=()
for ((i = 0; i < CEIL_PROCS; i++)); do ceil_ports+=($((base + (i % INSTANCES) * per + i / INSTANCES))); done
echo "== $(date +%T) load average $(cut -d' ' -f1-3 /proc/loadavg): handshake ceiling, $CEIL_PROCS x openssl s_time -new -time $CEIL_TIME"
before=$(nginx_ticks)
t0=$(date +%s.%N)
st_pids=()
for ((i = 0; i < CEIL_PROCS; i++)); do
  openssl s_time -connect "127.0.0.1:${ceil_ports[i]}" -new -time "$CEIL_TIME" \
    >"$out/s_time-$i.txt" 2>&1 &
  st_pids+=($!)
  pids+=($!)
done
for p in "${st_pids[@]}"; do wait "$p" || die "openssl s_time failed: $(cat "$out"/s_time-*.txt | tail -5)"; done
t1=$(date +%s.%N)
after=$(nginx_ticks)
handshakes=0
user=0
for ((i = 0; i < CEIL_PROCS; i++)); do
  # "N connections in U s; ..." gives the user CPU time of that process.
  u=$(sed -n 's/^[0-9]* connections in \([0-9.]*\)s;.*/\1/p' "$out/s_time-$i.txt" | awk 'NR == 1')
  user=$(python3 -c "print(f'{$user + ${u:-0}:.3f}')")
  n=$(sed -n 's/^\([0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$out/s_time-$i.txt" | awk 'NR == 1')
  [[ -n $n ]] || die "no count in s_time output: $(cat "$out/s_time-$i.txt")"
  handshakes=$((handshakes + n))
done
wall=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
echo "ceiling $wall $user 0 $((after - before)) 0 $handshakes" >>"$T/results"
echo "   $handshakes handshakes in ${wall}s against ports ${ceil_ports[*]}, nginx $((after - before)) ticks"

# 7. certward. A data directory made once (its CA and database), copied fresh for each run, so
# that every run but the rescan records into an inventory that has none of these certificates.
tmpl=$T/certward-template
"$CERTWARD_BIN" -d "$tmpl" init >"$T/init.out" 2>&1 || die "certward init: $(tail -5 "$T/init.out")"
cw_args=(scan net 127.0.0.1 --ports "$base-$last")
[[ -z $CONCURRENCY ]] || cw_args+=(--concurrency "$CONCURRENCY")
check_report() {  # file
  jq -e --argjson n "$ENDPOINTS" '.report.reachable == $n and (.report.errors // 0) == 0' "$1" >/dev/null ||
    die "certward's report is not $ENDPOINTS reachable, 0 errors: $(jq -c '.report | del(.results, .new_certificates, .changed, .gone)' "$1" 2>/dev/null || tail -5 "$1")"
}
for ((r = 1; r <= RUNS; r++)); do
  for mode in no-legacy legacy; do
    d=$T/cw-$mode-$r
    rm -rf "$d"
    cp -a "$tmpl" "$d"
    extra=()
    [[ $mode == no-legacy ]] && extra=(--no-legacy)
    timed "certward-$mode" "$out/certward-$mode-$r.json" 600 \
      "$CERTWARD_BIN" -d "$d" --json "${cw_args[@]}" "${extra[@]}"
    check_report "$out/certward-$mode-$r.json"
  done
  timed certward-rescan "$out/certward-rescan-$r.json" 600 \
    "$CERTWARD_BIN" -d "$T/cw-no-legacy-$r" --json "${cw_args[@]}" --no-legacy
  check_report "$out/certward-rescan-$r.json"
done
jq -c '.report | del(.results, .new_certificates, .changed, .gone)' "$out/certward-no-legacy-1.json" |
  sed 's/^/   first report: /'

# 8. sslscan, sequential, over a targets file.
if [[ $SSLSCAN == 1 ]]; then
  seq "$base" "$last" | sed 's/^/127.0.0.1:/' >"$T/targets.txt"
  common=(--no-colour --no-ciphersuites --no-fallback --no-renegotiation --no-compression
    --no-heartbleed --no-groups --show-certificate)
  timed sslscan "$out/sslscan.txt" 1800 sslscan "${common[@]}" --targets="$T/targets.txt"
  timed sslscan-tls13 "$out/sslscan-tls13.txt" 1800 sslscan "${common[@]}" --tls13 \
    --no-check-certificate --targets="$T/targets.txt"
  for f in sslscan sslscan-tls13; do
    got=$(grep -c '^ *Subject: *.*CN *= *ep' "$out/$f.txt" || true)
    ((got == ENDPOINTS)) || die "$f printed $got certificates, not $ENDPOINTS"
    sed -i "/^$f /s/\$/ $got/" "$T/results"
  done
fi

# 9. nmap ssl-cert, with progress every few seconds in case it must be stopped.
if [[ $NMAP == 1 ]]; then
  timed nmap "$out/nmap.txt" "$NMAP_TIMEOUT" nmap -Pn -n -sT -p "$base-$last" --script ssl-cert \
    --stats-every 1s 127.0.0.1
  got=$(grep -c '^| ssl-cert: Subject:.*ep' "$out/nmap.txt" || true)
  if grep -q '^nmap .* timeout' "$T/results"; then
    pct=$(sed -n 's/^NSE Timing: About \([0-9.]*\)% done.*/\1/p' "$out/nmap.txt" | tail -1)
    got=$(python3 -c "print(round(${pct:-0} * $ENDPOINTS / 100))")
    echo "   nmap stopped after ${NMAP_TIMEOUT}s, its scripts ${pct:-0}% done: about $got endpoints"
  elif ((got != ENDPOINTS)); then
    die "nmap ssl-cert reported $got certificates, not $ENDPOINTS"
  fi
  sed -i "/^nmap /s/\$/ $got/" "$T/results"
fi
uptime_after=$(uptime)
echo "== uptime after: $uptime_after"

# 10. The table.
python3 - "$T/results" "$outdir/discovery-summary.txt" "$ENDPOINTS" "$INSTANCES" "$DISTINCT" \
  "$base" "$last" "$uptime_before" "$uptime_after" "$(getconf CLK_TCK)" "$(nproc)" "$CEIL_PROCS" \
  "$CEIL_TIME" "${CONCURRENCY:-default (256)}" "$RUNS" "$NMAP_TIMEOUT" >"$T/verdict" <<'PY'
import statistics, sys
(res, summary, n, instances, distinct, base, last, up_before, up_after, hz, cores, ceil_procs,
 ceil_time, conc, runs, nmap_limit) = sys.argv[1:17]
n, hz = int(n), int(hz)
rows = {}
for line in open(res):
    f = line.split()
    rows.setdefault(f[0], []).append(f[1:])
def cpu(r): return float(r[1]) + float(r[2])
out = [f"TLS discovery scan: {n} endpoints 127.0.0.1:{base}-{last} on loopback, {instances} nginx "
       f"instances of 1 worker, {'a distinct' if distinct == '1' else 'one'} ECDSA P-256 leaf "
       f"{'per port' if distinct == '1' else 'for all ports'} (+ intermediate), TLS 1.2/1.3, "
       f"no session resumption; {cores} cores shared by client and servers",
       f"uptime before: {up_before.strip()}", f"uptime after:  {up_after.strip()}", "",
       f"{'scanner':58} {'wall s':>8} {'endpoints/s':>11} {'client CPU s':>12} {'nginx CPU s':>11} "
       f"{'per CPU-s':>9}"]
rate = {}
def row(label, key, r, eps, note=""):
    wall = float(r[0])
    rate[key] = eps / wall
    both = cpu(r) + int(r[3]) / hz
    out.append(f"{label:58} {wall:>8.2f} {eps / wall:>11,.0f} {cpu(r):>12.2f} "
               f"{int(r[3]) / hz:>11.2f} {eps / both if both else 0:>9,.0f}{note}")
labels = {"certward-no-legacy": "certward scan net --no-legacy (1 handshake, recorded)",
          "certward-legacy": "certward scan net (+ legacy probe, recorded)",
          "certward-rescan": "certward scan net --no-legacy, rescan (all known)"}
for key, label in labels.items():
    rs = rows.get(key, [])
    if not rs: continue
    walls = sorted(float(r[0]) for r in rs)
    med = sorted(rs, key=lambda r: float(r[0]))[len(rs) // 2]
    row(label, key, med, n, f"   median of {len(rs)}: " + ", ".join(f"{w:.2f}" for w in walls) + " s")
if "sslscan" in rows:
    row("sslscan 2.0.7, cert only (9 connections/endpoint)", "sslscan", rows["sslscan"][0],
        int(rows["sslscan"][0][5]))
if "sslscan-tls13" in rows:
    row("sslscan 2.0.7, cert only + --tls13 (3 conn/endpoint)", "sslscan-tls13",
        rows["sslscan-tls13"][0], int(rows["sslscan-tls13"][0][5]))
if "nmap" in rows:
    r = rows["nmap"][0]
    done = int(r[5])
    row("nmap -sT --script ssl-cert", "nmap", r, done,
        f"   stopped at {nmap_limit} s, ~{done} done" if r[4] == "timeout" else "")
c = rows["ceiling"][0]
rate["ceiling"] = int(c[5]) / float(c[0])
out.append(f"{'handshake ceiling: ' + ceil_procs + ' x openssl s_time -new, ' + ceil_time + ' s':58} "
           f"{float(c[0]):>8.2f} {rate['ceiling']:>11,.0f} {float(c[1]):>12.2f} {int(c[3]) / hz:>11.2f} "
           f"{int(c[5]) / (float(c[1]) + int(c[3]) / hz):>9,.0f}   {c[5]} handshakes; its client CPU: user time only")
out.append("per CPU-s: endpoints per second of CPU used by the client and the nginx workers together "
           "(less sensitive to other load on the machine than wall time)")
out.append("")
out.append(f"certward --concurrency: {conc}; {runs} run(s) per certward mode, each into a fresh "
           f"copy of one initialised data directory (the rescan: into the first mode's)")
below = False
for key in ("certward-no-legacy", "certward-legacy"):
    if key not in rate: continue
    cw = rate[key]
    out.append("")
    out.append(f"{key}: {cw:,.0f} endpoints/s "
               f"({'meets' if cw >= 1000 else 'below'} the >= 1,000 endpoints/s target)")
    below |= cw < 1000
    ss = [rate[k] for k in ("sslscan", "sslscan-tls13") if k in rate]
    if ss:
        best = max(ss)
        out.append(f"  / sslscan (its faster mode, {best:,.0f}/s): {cw / best:6.2f}x "
                   f"({'meets' if cw / best >= 5 else 'below'} the >= 5x target)")
        below |= cw / best < 5
    if rate.get("nmap"):
        out.append(f"  / nmap ssl-cert: {cw / rate['nmap']:6.2f}x")
    out.append(f"  / handshake ceiling: {cw / rate['ceiling']:6.2f}x "
               f"({'meets' if cw / rate['ceiling'] >= 0.6 else 'below'} the >= 0.6x target)")
    if key == "certward-no-legacy": below |= cw / rate["ceiling"] < 0.6
text = "\n".join(out) + "\n"
open(summary, "w").write(text)
sys.stderr.write("\n" + text)
print("below" if below else "meets")
PY
cp "$T/results" "$out/results.txt"
for ((i = 0; i < INSTANCES; i++)); do cp "$T/nginx$i/error.log" "$out/nginx$i-error.log" 2>/dev/null || true; done
verdict=$(cat "$T/verdict")

# 11. Where certward's time goes: one more no-legacy run under perf, when below target.
if [[ $PROFILE == 1 || ($PROFILE == auto && $verdict == below) ]] && command -v perf >/dev/null; then
  d=$T/cw-profile
  cp -a "$tmpl" "$d"
  echo "== $(date +%T) perf record --call-graph dwarf: certward scan net --no-legacy"
  perf record -F "${PERF_FREQ:-499}" --call-graph dwarf,16384 -o "$out/perf.data" -- "$CERTWARD_BIN" -d "$d" --json "${cw_args[@]}" \
    --no-legacy >"$out/certward-profile.json" 2>"$out/perf-record.log" || die "perf record failed: $(tail -3 "$out/perf-record.log")"
  # Self time by DSO, and every sample's call chain sorted into the stages of a scan (the first
  # stage on its stack that matches, in this order), with the share of each spent in OpenSSL
  # 3's public-key decoder (OSSL_DECODER_*: every certificate parse decodes its key).
  trim() { grep -v '^#' | grep -v '^$' | sed 's/[ -]*$//' | cut -c1-160 | awk "NR <= $1"; }
  perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | trim 12 \
    >"$out/perf-dso.txt"
  perf report -i "$out/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
    trim 40 >"$out/perf-symbols.txt"
  perf report -i "$out/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
    trim 80 >"$out/perf-children.txt"
  perf script -i "$out/perf.data" -F ip,sym 2>/dev/null | python3 -c '
import collections, re, sys
samples, cur = [], []
for line in sys.stdin:
    m = re.match(r"\s+[0-9a-f]+ (.*)$", line)
    if m:
        cur.append(m.group(1))
    elif cur:
        samples.append(cur)
        cur = []
if cur:
    samples.append(cur)
everything = samples
def has(s, *pats): return any(p in f for f in s for p in pats)
stages = [
    ("TLS handshake (libssl, its own certificate parsing included)", ("engine::perform", "SSL_do_handshake")),
    ("chain verification (X509_verify_cert)", ("X509_verify_cert",)),
    ("  of which issuer look-ups (X509_STORE_CTX_get_by_subject)", ("X509_STORE_CTX_get_by_subject",)),
    ("parse + findings per certificate (CertificateCache::certificate)", ("CertificateCache::certificate",)),
    ("recording: certificates parsed again (Certificate::from_der_lenient)", ("from_der_lenient",)),
    ("recording: SQLite", ("sqlite3",)),
    ("recording: the rest (Recorder::)", ("Recorder::",)),
    ("other chain checks (chain_findings)", ("chain_findings",)),
    ("main thread: start, CLI, report, exit", ("_dl_", "run_either", "exit")),
]
n = len(samples) or 1
print(f"{len(samples)} samples; share of all, then the part of it in OSSL_DECODER_* (public-key decoding)")
for name, pats in stages:
    if name.startswith("  "):
        parent = [s for s in everything if has(s, "X509_verify_cert")]
        got = [s for s in parent if has(s, *pats)]
    else:
        got = [s for s in samples if has(s, *pats)]
        samples = [s for s in samples if not has(s, *pats)]
    dec = sum(1 for s in got if has(s, "OSSL_DECODER"))
    print(f"  {100 * len(got) / n:5.1f}%  {name}" + (f"   (decoder {100 * dec / n:.1f}%)" if dec else ""))
print(f"  {100 * len(samples) / n:5.1f}%  everything else (I/O threads, kernel, allocator)")
dec = sum(1 for s in everything if has(s, "OSSL_DECODER"))
print(f"  in all: {100 * dec / n:.1f}% in OSSL_DECODER_* (public-key decoding)")
' >"$out/perf-stages.txt" || true
  {
    echo ""
    echo "Profile of one more certward --no-legacy run (perf record --call-graph dwarf, $out/perf.data):"
    echo "by stage:"; sed 's/^/  /' "$out/perf-stages.txt"
    echo "by DSO (self):"; sed 's/^/  /' "$out/perf-dso.txt"
    echo "hottest symbols (self):"; awk 'NR <= 15' "$out/perf-symbols.txt" | sed 's/^/  /'
  } | tee -a "$outdir/discovery-summary.txt"
fi
echo "   raw: $out/"
