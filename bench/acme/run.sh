#!/usr/bin/env bash
# Complete ACME orders (RFC 8555, http-01) under load, against `certward serve` and, in the same
# run, on the same machine and under the same client load, Pebble (Debian's package, the ACME
# test server of Let's Encrypt): certward_acme_load (bench/acme/acme_load.cc) runs N clients,
# each with its own account and keep-alive HTTPS connection, looping newOrder -> authz ->
# http-01 challenge (answered by the load generator's own http-01 server) -> poll -> finalize
# -> poll -> certificate download for DURATION seconds. Both servers resolve the order's names
# through the same Knot DNS server on loopback (zone acme.test, every name 127.0.0.1) and dial
# the same http-01 port. Prints orders/s, p50/p99 order latency, errors and CPU side by side,
# and certward/pebble (DESIGN.md target: >= 10x, and >= 1,500 orders/s).
#
#   bench/acme/run.sh                        # 3 to 6 minutes once the binaries are built
#   DURATION=10 CONNS="16" bench/acme/run.sh
#   MAX_NAMES=1 bench/acme/run.sh            # names per order: 1, 2, 1, 2, ... (default 2)
#   WORKERS=64 VALIDATION_THREADS=1 bench/acme/run.sh   # certward [server] / [acme] threads
#   PEBBLE_TRIES=1 bench/acme/run.sh         # attempts at a Pebble row that stalls (default 3)
#   PROFILE=0 bench/acme/run.sh              # no profile run of certward
#   CERTWARD_BIN=/path/to/certward bench/acme/run.sh    # use this binary, build only the load
#
# Pebble runs with its artificial validation sleeps off (PEBBLE_VA_NOSLEEP=1), no nonce
# rejected on purpose (PEBBLE_WFE_NONCEREJECT=0) and valid authorizations always reused
# (PEBBLE_AUTHZREUSE=100, as certward does; every order here names fresh random names, so
# neither server reuses one), behind a TLS certificate made here (Debian ships none), and a
# fresh instance for each row. Pebble 2.4.0 deadlocks under concurrent orders (a lock-order
# inversion between its store and an authorization; docs/benchmarks.md): every client then
# times out (10 s) and no order completes. Such a row is retried with a fresh Pebble, up to
# PEBBLE_TRIES times, keeping the attempt with the most orders, and its rate for the ratio is
# taken over the time before it stalled.
# certward runs with its defaults (SQLite in WAL mode, every commit fsync'd) and every rate
# limit off. With PROFILE=1 (the default) one more certward run at the largest client count
# goes under perf (CPU by symbol and inclusive, with DWARF call graphs; fdatasync time by
# thread; fsync and futex counts); it is not in the table.
#
# Traffic goes to 127.0.0.1 only. Every process started here is stopped by PID on exit.
# Results: build/release/bench/acme-summary.txt (the tables), acme-*.txt (each load run's raw
# output and its result line, certward's profile, the sample chains and their check).
set -euo pipefail

cd "$(dirname "$0")/../.."
root_dir=$PWD
out=$root_dir/build/release/bench
DURATION=${DURATION:-20}
CONNS=${CONNS:-16 64}
MAX_NAMES=${MAX_NAMES:-2}
WORKERS=${WORKERS:-64}
VALIDATION_THREADS=${VALIDATION_THREADS:-1}
PROFILE=${PROFILE:-1}
PEBBLE_TRIES=${PEBBLE_TRIES:-3}
POLL_CAP_MS=${POLL_CAP_MS:-50}

pids=()
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-acme.XXXXXX")
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do wait "${pids[i]}" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "acme: $*" >&2; exit 1; }

# 1. Tools.
need=()
command -v pebble >/dev/null || need+=(pebble)
command -v knotd >/dev/null || [[ -x /usr/sbin/knotd ]] || need+=(knot)
command -v kdig >/dev/null || need+=(knot-dnsutils)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
  sudo_cmd=()
  [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
export PATH=$PATH:/usr/sbin:/sbin
if [[ $PROFILE == 1 ]] && ! perf stat -e task-clock -- true >/dev/null 2>&1; then
  echo "== perf is not usable here: no profile of certward"
  PROFILE=0
fi

# 2. The release binaries.
targets=(certward_acme_load)
[[ -n ${CERTWARD_BIN:-} ]] || targets+=(certward)
cmake --preset release >/dev/null || die "cmake --preset release failed"
cmake --build --preset release --target "${targets[@]}" -j2 ||
  die "the release build failed; fix it, or point CERTWARD_BIN at a certward binary"
CERTWARD_BIN=${CERTWARD_BIN:-$root_dir/build/release/src/certward}
LOAD_BIN=$root_dir/build/release/bench/certward_acme_load
[[ -x $CERTWARD_BIN ]] || die "no certward binary at $CERTWARD_BIN"
[[ -x $LOAD_BIN ]] || die "no load generator at $LOAD_BIN"
mkdir -p "$out"
rm -f "$out"/acme-*

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Per-thread CPU ticks of a process: "tid utime+stime" lines.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    awk -v t="${t##*/}" '{ sub(/^.*\) /, ""); print t, $12 + $13 }' "$t"/stat 2>/dev/null || true
  done
}
echo "== $(nproc) cores; $(openssl version); pebble $(dpkg-query -W -f '${Version}' pebble 2>/dev/null || echo '?')"
uptime_before=$(uptime)
echo "== uptime before: $uptime_before"

# 3. DNS: Knot on loopback, zone acme.test where every name is 127.0.0.1.
ZONE=acme.test
DNS_PORT=$(free_port)
mkdir -p "$T/knot"
cat >"$T/knot/$ZONE.zone" <<EOF
\$ORIGIN $ZONE.
\$TTL 60
@ SOA ns.$ZONE. admin.$ZONE. 1 3600 600 86400 60
@ NS ns.$ZONE.
ns A 127.0.0.1
@ A 127.0.0.1
* A 127.0.0.1
EOF
cat >"$T/knot/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$DNS_PORT
    rundir: "$T/knot"
    user: $(id -un):$(id -gn)
database:
    storage: "$T/knot"
log:
  - target: stderr
    any: warning
zone:
  - domain: $ZONE
    file: "$T/knot/$ZONE.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
EOF
knotd -c "$T/knot/knot.conf" >"$T/knotd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  kdig +short +timeout=1 +retry=0 -p "$DNS_PORT" @127.0.0.1 "x.$ZONE" A 2>/dev/null | grep -q 127.0.0.1 && break
  sleep 0.1
done
kdig +short +timeout=1 +retry=0 -p "$DNS_PORT" @127.0.0.1 "x.$ZONE" A 2>/dev/null | grep -q 127.0.0.1 ||
  die "knotd does not answer: $(cat "$T/knotd.log")"
HTTP01_PORT=$(free_port)
echo "== DNS: knotd at 127.0.0.1:$DNS_PORT (*.$ZONE -> 127.0.0.1); http-01 answered on 127.0.0.1:$HTTP01_PORT"

# 4. certward serve.
cw_data=$T/certward-data
mkdir -p "$cw_data"
cat >"$T/certward.toml" <<EOF
log_level = "warn"

[server]
worker_threads = $WORKERS

[server.rate_limit]
requests_per_second = 0

[acme]
http01_port = $HTTP01_PORT
tls_alpn01_port = $(free_port)
resolver = "127.0.0.1:$DNS_PORT"
validation_threads = $VALIDATION_THREADS
orders_per_account_per_hour = 0
pending_orders_per_account = 0
certificates_per_domain_per_week = 0
new_accounts_per_address_per_hour = 0
EOF
env CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0 CERTWARD_DATA_DIR="$cw_data" \
  CERTWARD_CONFIG="$T/certward.toml" "$CERTWARD_BIN" serve >"$T/serve.out" 2>"$T/serve.err" &
cw_pid=$!
pids+=("$cw_pid")
for _ in $(seq 1 300); do
  grep -q '^  plain HTTP' "$T/serve.out" 2>/dev/null && break
  kill -0 "$cw_pid" 2>/dev/null || die "certward serve exited early: $(cat "$T/serve.err")"
  sleep 0.05
done
cw_base=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$T/serve.out")
[[ $cw_base == https://127.0.0.1:* ]] || die "certward is not on loopback: '$cw_base' $(cat "$T/serve.out")"
"$CERTWARD_BIN" -d "$cw_data" ca export root >"$T/cw-root.pem"
cw_dir=$cw_base/acme/directory
curl -sf --cacert "$T/cw-root.pem" "$cw_dir" | grep -q newOrder ||
  die "no ACME directory at $cw_dir: $(tail -5 "$T/serve.err")"
echo "== certward at $cw_dir (pid $cw_pid, worker_threads $WORKERS, validation_threads $VALIDATION_THREADS)"

# 5. Pebble, with a serving certificate for 127.0.0.1 under a CA made here.
pb=$T/pebble
mkdir -p "$pb"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pb/ca-key.pem" \
  -subj "/CN=ACME bench Pebble TLS CA" -days 2 -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign" -out "$pb/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pb/key.pem" \
  -subj "/CN=127.0.0.1" -out "$pb/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$pb/tls.ext"
openssl x509 -req -in "$pb/tls.csr" -CA "$pb/ca.pem" -CAkey "$pb/ca-key.pem" -CAcreateserial \
  -days 2 -extfile "$pb/tls.ext" -out "$pb/cert.pem" 2>/dev/null
pb_port=$(free_port)
pb_mgmt=$(free_port)
cat >"$pb/config.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$pb_port",
    "managementListenAddress": "127.0.0.1:$pb_mgmt",
    "certificate": "$pb/cert.pem",
    "privateKey": "$pb/key.pem",
    "httpPort": $HTTP01_PORT,
    "tlsPort": $(free_port),
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
pb_dir=https://127.0.0.1:$pb_port/dir
pb_pid=""
# (Re)starts Pebble with an empty store. Pebble 2.4.0 deadlocks under concurrent orders (see
# docs/benchmarks.md) and scans every authorization it holds on each newOrder: each of its runs
# gets a fresh instance, which can only help it.
start_pebble() {
  if [[ -n $pb_pid ]]; then
    kill "$pb_pid" 2>/dev/null || true
    wait "$pb_pid" 2>/dev/null || true
  fi
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=100 \
    pebble -config "$pb/config.json" -dnsserver "127.0.0.1:$DNS_PORT" >>"$T/pebble.log" 2>&1 &
  pb_pid=$!
  pids+=("$pb_pid")
  for _ in $(seq 1 100); do
    curl -sf --cacert "$pb/ca.pem" "$pb_dir" 2>/dev/null | grep -q newOrder && return 0
    kill -0 "$pb_pid" 2>/dev/null || die "pebble exited: $(tail -5 "$T/pebble.log")"
    sleep 0.1
  done
  die "no Pebble directory at $pb_dir"
}
start_pebble
echo "== pebble at $pb_dir (pid $pb_pid; PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=100)"

cw_certs_before=$(sqlite3 "file:$cw_data/certward.db?mode=ro" "SELECT COUNT(*) FROM certificates")

# 6. The load, certward then Pebble at each client count. Each run's CPU: the server's threads
# (utime + stime from /proc) and the load generator's own (it reports it). A run's raw output
# is RAW, its result line (with the server's CPU) RAW.result.
run_load() {  # name pid directory cafile clients raw
  local name=$1 pid=$2 dir=$3 ca=$4 c=$5 raw=$6
  echo "== $(date +%T) load average $(cut -d' ' -f1-3 /proc/loadavg): $name, $c clients, ${DURATION}s"
  thread_ticks "$pid" >"$T/ticks-before"
  rm -f "$out/acme-$name-chain.pem"
  "$LOAD_BIN" --directory "$dir" --ca-file "$ca" --http01-port "$HTTP01_PORT" --clients "$c" \
    --duration "$DURATION" --domain "$ZONE" --max-names "$MAX_NAMES" --poll-cap-ms "$POLL_CAP_MS" \
    --label "$name" --save-chain "$out/acme-$name-chain.pem" >"$raw" 2>&1 &
  local load_pid=$!
  pids+=("$load_pid")
  wait "$load_pid" || die "the load generator failed against $name: $(tail -5 "$raw")"
  thread_ticks "$pid" >"$T/ticks-after"
  kill -0 "$pid" 2>/dev/null || die "$name died under load"
  local line ticks
  line=$(grep '^ACME_RESULT' "$raw") || die "no result from the load generator for $name: $(tail -5 "$raw")"
  # Server CPU: total ticks, threads that used any, the busiest thread's ticks.
  ticks=$(awk 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > 0) { s += d; n++; if (d > m) m = d } }
    END { printf "server_ticks=%d server_threads=%d server_busiest=%d", s, n, m }' "$T/ticks-before" "$T/ticks-after")
  echo "$line $ticks" >"$raw.result"
  sed 's/^ACME_RESULT /   /' <<<"$line" | tr ' ' '\n' |
    grep -E '^ *(orders|orders_per_s|p50_ms|p99_ms|errors|err_.*|last_order_s)=' | tr '\n' ' '
  echo
}
# Adds a run to the tables.
record() {  # raw [extra key=value]
  echo "$(cat "$1.result") ${2:-}" >>"$T/results"
  grep '^ACME_REQUEST' "$1" >>"$T/requests" || true
  grep '^ACME_TIMELINE' "$1" >>"$T/timelines" || true
}
# The value of KEY in a result line, or 0.
field() {
  local re="(^| )$2=([^ ]*)"
  if [[ $1 =~ $re ]]; then echo "${BASH_REMATCH[2]}"; else echo 0; fi
}
# Pebble stalls when it deadlocks (docs/benchmarks.md): every client then times out and no
# order completes after. Such a run is repeated, with a fresh Pebble, up to PEBBLE_TRIES times;
# the attempt that completed the most orders is kept.
run_pebble() {  # clients
  local c=$1 try best="" best_orders=-1 line orders
  for try in $(seq 1 "$PEBBLE_TRIES"); do
    start_pebble
    run_load pebble "$pb_pid" "$pb_dir" "$pb/ca.pem" "$c" "$out/acme-pebble-c$c-try$try.txt"
    line=$(cat "$out/acme-pebble-c$c-try$try.txt.result")
    orders=$(field "$line" orders)
    if ((orders > best_orders)); then
      best=$out/acme-pebble-c$c-try$try.txt
      best_orders=$orders
    fi
    if [[ $(field "$line" err_transport.timeout) == 0 ]] ||
      python3 -c "import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]) - 5)" \
        "$(field "$line" last_order_s)" "$DURATION"; then
      break
    fi
    echo "   pebble stopped answering at $(field "$line" last_order_s) s (attempt $try of $PEBBLE_TRIES)"
  done
  record "$best" "attempts=$try"
}
last_conns=${CONNS##* }
for c in $CONNS; do
  run_load certward "$cw_pid" "$cw_dir" "$T/cw-root.pem" "$c" "$out/acme-certward-c$c.txt"
  record "$out/acme-certward-c$c.txt"
  run_pebble "$c"
done
# Every order certward answered has its certificate committed: read before the profile run adds more.
cw_certs_mid=$(sqlite3 "file:$cw_data/certward.db?mode=ro" "SELECT COUNT(*) FROM certificates")
# 7. certward's profile, in one more run at the largest client count, not in the table (perf
# slows it): CPU by shared object, by symbol and inclusive of callees (DWARF call graphs), the
# time its threads spent in fdatasync, and its fsync and futex calls per order.
# (sed -n, not head, after it: head closing the pipe early would fail the pipeline.)
perf_table() { grep -v '^#' | grep -v '^$' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//'; }
if [[ $PROFILE == 1 ]]; then
  echo "== $(date +%T) profile: certward, $last_conns clients, ${DURATION}s under perf (not in the table)"
  perf record -q -F 99 --call-graph dwarf,16384 -p "$cw_pid" -o "$T/perf.data" -- sleep "$DURATION" \
    >/dev/null 2>&1 &
  pids+=($!)
  perf_pids=($!)
  perf trace -s -e fdatasync -p "$cw_pid" -o "$T/trace.txt" -- sleep "$DURATION" >/dev/null 2>&1 &
  pids+=($!)
  perf_pids+=($!)
  perf stat -x, -e 'syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_enter_futex' \
    -p "$cw_pid" -o "$T/syscalls.txt" -- sleep "$DURATION" >/dev/null 2>&1 &
  pids+=($!)
  perf_pids+=($!)
  run_load certward "$cw_pid" "$cw_dir" "$T/cw-root.pem" "$last_conns" "$out/acme-certward-profile-run.txt"
  for p in "${perf_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  line=$(cat "$out/acme-certward-profile-run.txt.result")
  started=$(($(field "$line" orders) + $(field "$line" late) + $(field "$line" abandoned)))
  {
    echo "certward serve under perf: $last_conns clients, $DURATION s, $(field "$line" orders) orders" \
      "($(field "$line" orders_per_s)/s under perf), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "System calls counted (perf stat), per order started ($started):"
    awk -F, -v n="$started" '$1 ~ /^[0-9]+$/ { sub(/.*sys_enter_/, "", $3); printf "  %-10s %8d  %6.1f per order\n", $3, $1, $1 / n }' "$T/syscalls.txt" || true
    echo
    echo "Time inside fdatasync (perf trace -s), by thread:"
    python3 - "$T/trace.txt" "$DURATION" <<'TRACE' || true
import re, sys
threads, tid = [], None
for line in open(sys.argv[1]):
    m = re.match(r"\s*\S+ \((\d+)\), ", line)
    if m: tid = m.group(1)
    m = re.match(r"\s*fdatasync\s+(\d+)\s+\d+\s+([\d.]+)", line)
    if m and tid: threads.append((int(m.group(1)), float(m.group(2)), tid))
calls, msec = sum(t[0] for t in threads), sum(t[1] for t in threads)
if calls:
    print(f"  {calls} calls from {len(threads)} threads, {msec:.0f} ms in all over {sys.argv[2]} s "
          f"({msec / 10 / float(sys.argv[2]):.0f}% of the time; mean {msec / calls:.2f} ms per call)")
    for n, ms, t in sorted(threads, reverse=True)[:4]:
        print(f"  thread {t}: {n} calls, {ms:.0f} ms")
    rest = sorted(threads, reverse=True)[4:]
    if rest:
        print(f"  the other {len(rest)} threads: {sum(t[0] for t in rest)} calls, "
              f"{sum(t[1] for t in rest):.0f} ms ({sum(t[0] for t in rest) / len(rest):.0f} calls each on average)")
TRACE
    echo
    echo "CPU by shared object (self):"
    perf report -i "$T/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | perf_table | sed -n '1,12p' || true
    echo
    echo "CPU by symbol (self, >= 0.7%):"
    perf report -i "$T/perf.data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.7 2>/dev/null |
      perf_table | sed -n '1,45p' || true
    echo
    echo "CPU inclusive of callees, certward's own functions (>= 2%):"
    perf report -i "$T/perf.data" --children --sort symbol --stdio -g none --percent-limit 2 2>/dev/null |
      perf_table | sed -E 's/\(anonymous namespace\)/{anon}/g; s/\(.*$//' |
      grep -E 'certward::|sqlite3_step|EVP_|fdatasync' |
      grep -v -E '\] (boost|std::|__invoke|complete<|dispatch<|operator)' | sed -n '1,50p' || true
  } >"$out/acme-certward-profile.txt"
fi
uptime_after=$(uptime)
echo "== uptime after: $uptime_after"

# 8. Each server's sample chain must verify to its root and carry a load-generator name.
curl -sf --cacert "$pb/ca.pem" "https://127.0.0.1:$pb_mgmt/roots/0" >"$T/pb-root.pem" ||
  die "cannot fetch Pebble's root from its management interface"
# "ECDSA P-256" or "RSA 2048": the key of the first certificate in a PEM file.
key_of() {
  local text
  text=$(openssl x509 -in "$1" -noout -text)
  case $(sed -n 's/^ *Public Key Algorithm: //p' <<<"$text" | sed -n 1p) in
    id-ecPublicKey) echo "ECDSA $(sed -n 's/^ *NIST CURVE: //p' <<<"$text" | sed -n 1p)" ;;
    rsaEncryption) echo "RSA $(sed -n 's/^ *Public-Key: (\([0-9]*\) bit)/\1/p' <<<"$text" | sed -n 1p)" ;;
    *) echo "unknown key" ;;
  esac
}
check_chain() {  # name chain root
  local leaf=$T/$1-leaf.pem rest=$T/$1-rest.pem verdict
  [[ -s $2 ]] || { echo "$1: no chain saved (no order completed)"; return; }
  awk 'n==0{print} /END CERTIFICATE/{n=1}' "$2" >"$leaf"
  awk 'n==1{print} /END CERTIFICATE/{n=1}' "$2" >"$rest"
  verdict=$(openssl verify -CAfile "$3" -untrusted "$rest" "$leaf" 2>&1 | tail -1)
  echo "$1: sample chain of $(grep -c 'BEGIN CERT' "$2") certificates; leaf for" \
    "$(openssl x509 -in "$leaf" -noout -ext subjectAltName | tail -n +2 | sed 's/^ *//')," \
    "$(key_of "$leaf") key, signed by an $(key_of "$rest") issuer; openssl verify: ${verdict#"$leaf": }"
}
{
  check_chain certward "$out/acme-certward-chain.pem" "$T/cw-root.pem"
  check_chain pebble "$out/acme-pebble-chain.pem" "$T/pb-root.pem"
} >"$out/acme-chains.txt"
cat "$out/acme-chains.txt"

# 9. certward stopped.
kill -TERM "$cw_pid"
wait "$cw_pid" || die "certward serve exited non-zero on SIGTERM: $(tail -3 "$T/serve.err")"
cw_order_states=$(sqlite3 "file:$cw_data/certward.db?mode=ro" \
  "SELECT status || '=' || COUNT(*) FROM acme_orders GROUP BY status ORDER BY status" | tr '\n' ' ')

# 10. The table.
python3 - "$T/results" "$T/requests" "$out/acme-summary.txt" "$DURATION" "$MAX_NAMES" \
  "$uptime_before" "$uptime_after" "$(getconf CLK_TCK)" "$(nproc)" "$WORKERS" "$VALIDATION_THREADS" \
  "$cw_certs_before" "$cw_certs_mid" "$cw_order_states" "$out/acme-chains.txt" \
  "$out/acme-certward-profile.txt" "$POLL_CAP_MS" "$T/timelines" <<'PY'
import os, re, sys
(res_path, req_path, summary_path, duration, max_names, up_before, up_after, hz, cores, workers,
 vthreads, certs_before, certs_after, order_states, chains_path, profile_path, poll_cap,
 timeline_path) = sys.argv[1:19]
hz = int(hz)
def kv(line):
    return dict(re.findall(r"([\w.]+)=(\S+)", line))
rows = [kv(l) for l in open(res_path)]
reqs = [kv(l) for l in open(req_path)] if req_path else []
labels = {"certward": "certward serve (SQLite, fsync per commit)",
          "pebble": "pebble (in memory, no sleeps)"}
out = [f"ACME full orders (http-01): {duration} s per row, 1..{max_names} names per order, "
       f"polls capped at {poll_cap} ms, one keep-alive HTTPS connection and one account per client",
       f"uptime before: {up_before.strip()}", f"uptime after:  {up_after.strip()}",
       f"certward worker_threads = {workers}, validation_threads = {vthreads}; rate limits off", "",
       f"{'server':42} {'clients':>7} {'orders':>7} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
       f"{'errors':>6} {'server CPU':>8} {'ms/order':>8} {'load CPU':>8}"]
rate = {}
bad = 0
notes = []
for r in rows:
    secs = float(r["duration_s"])
    name, c, orders = r["label"], int(r["clients"]), int(r["orders"])
    errs = int(r["errors"])
    if name == "certward": bad += errs
    # A server that stopped answering (every client timed out) and completed nothing in its
    # last seconds is stalled: its rate is then taken over the time it was answering.
    last = float(r["last_order_s"])
    stalled = int(r.get("err_transport.timeout", 0)) > 0 and last < secs - 5
    active = last if stalled and last > 0 else secs
    rate[(name, c)] = orders / active if active else 0
    note = f"stalled at {last:.1f} s: {orders / active:,.1f}/s before" if stalled else ""
    if stalled: notes.append((name, c, last))
    cpu_ms = int(r["server_ticks"]) / hz / orders * 1000 if orders else 0
    out.append(f"{labels.get(name, name):42} {c:>7} {orders:>7} {orders / secs:>9,.1f} "
               f"{float(r['p50_ms']):>8.1f} {float(r['p99_ms']):>8.1f} {errs:>6} "
               f"{int(r['server_ticks']) / hz / secs:>6.2f} c {cpu_ms:>7.2f} "
               f"{float(r['client_cpu_s']) / secs:>6.2f} c  {note}")
out.append(f"  (server CPU: its threads' user + system time, in cores over the run and in ms per "
           f"order; load CPU: the load generator with its http-01 server; {cores} cores in all)")
for name, c, last in notes:
    out.append(f"  {name} at {c} clients stopped answering at {last:.1f} s: every client timed out "
               f"(10 s) and no order completed after; see docs/benchmarks.md.")
timelines = [kv(l) for l in open(timeline_path)]
for t in timelines:
    out.append(f"  orders completed per second, {t['label']} at {t['clients']} clients: {t['orders_per_second']}")
out.append("")
for (name, c), v in rate.items():
    if name != "certward": continue
    p = rate.get(("pebble", c))
    if p:
        verdict = "meets" if v / p >= 10 else "below"
        basis = " (Pebble's rate before it stalled)" if any(n == "pebble" and k == c for n, k, _ in notes) else ""
        out.append(f"certward / pebble at {c:>3} clients: {v / p:6.2f}x  ({verdict} the 10x target){basis}")
best = max((v for (n, _), v in rate.items() if n == "certward"), default=0)
out.append(f"certward best: {best:,.1f} orders/s ({'meets' if best >= 1500 else 'below'} the 1,500 orders/s target)")
errs = [(r["label"], r["clients"], k[4:], v) for r in rows for k, v in r.items() if k.startswith("err_")]
if errs:
    out.append("errors by type: " + ", ".join(f"{n} c{c} {t}={v}" for n, c, t, v in errs))
out.append("")
out.append("requests per order, and their mean latency in ms, by kind (a poll is a POST-as-GET):")
kinds = []
for q in reqs:
    if q["kind"] not in kinds: kinds.append(q["kind"])
out.append(f"{'server':9} {'clients':>7}  " + " ".join(f"{k:>17}" for k in kinds))
for r in rows:
    cells = []
    for k in kinds:
        q = next((q for q in reqs if q["label"] == r["label"] and q["clients"] == r["clients"]
                  and q["kind"] == k), None)
        cells.append(f"{float(q['per_order']):>6.2f} x {float(q['mean_ms']):>6.1f}" if q else f"{'-':>17}")
    out.append(f"{r['label']:9} {r['clients']:>7}  " + " ".join(f"{c:>17}" for c in cells))
out.append("")
cw_orders = sum(int(r["orders"]) + int(r["late"]) for r in rows if r["label"] == "certward")
cw_slack = sum(int(r["clients"]) for r in rows if r["label"] == "certward")
new_certs = int(certs_after) - int(certs_before)
durable = cw_orders <= new_certs <= cw_orders + cw_slack
out.append(f"durability, certward: {cw_orders} orders downloaded their certificate in the runs above, "
           f"{new_certs} new rows in certificates (at most {cw_slack} more: orders abandoned at the "
           f"deadline): " + ("OK" if durable else "MISMATCH"))
out.append(f"certward's acme_orders by status after it stopped: {order_states.strip()}")
out.append("")
out += [l.rstrip("\n") for l in open(chains_path)]
if os.path.exists(profile_path):
    out.append(f"certward's profile (one more run under perf, not in the table): {profile_path}")
text = "\n".join(out) + "\n"
open(summary_path, "w").write(text)
print("\n" + text)
if bad or not durable:
    print(f"FAIL: certward errors: {bad}; durability check: {'OK' if durable else 'MISMATCH'}", file=sys.stderr)
    sys.exit(1)
PY
[[ ! -s $out/acme-certward-profile.txt ]] || echo "   certward profile: $out/acme-certward-profile.txt"
echo "   raw: $out/acme-*.txt"
