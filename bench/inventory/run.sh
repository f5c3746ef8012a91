#!/usr/bin/env bash
# The inventory at a million: builds the release preset's certward and certward_inventory_fill,
# fills an inventory of RECORDS synthetic certificates (default 1,000,000) on SQLite and on
# PostgreSQL (a throwaway cluster from scripts/pg-test-server.sh), starts `certward serve` on
# each and times the REST listing over loopback: the first page, the expiring-in-30-days page,
# a search that matches nothing and one that matches a few, every filter matching nothing (and
# a combination), a few that match many, and a keyset page halfway down. Latency is read from
# the server's own http_request log lines (duration_ms: from the request parsed to the answer
# written), the median of REPEAT requests after one warm-up; curl's time_total is printed
# beside it. Then the server's RSS (VmHWM, the peak).
#
#   bench/inventory/run.sh
#   RECORDS=200000 bench/inventory/run.sh
#   DRIVERS=sqlite bench/inventory/run.sh          # one driver only
#   REPEAT=9 bench/inventory/run.sh
#   CERTWARD_BIN=... FILL_BIN=... bench/inventory/run.sh   # skip the build
#
# Traffic goes to 127.0.0.1 only; every process started here is stopped by PID on exit.
# Results: build/release/bench/inventory-summary.txt.
set -euo pipefail

cd "$(dirname "$0")/../.."
root_dir=$PWD
out=$root_dir/build/release/bench
RECORDS=${RECORDS:-1000000}
DRIVERS=${DRIVERS:-sqlite postgres}
REPEAT=${REPEAT:-5}

pids=()
pg_dir=
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-inventory.XXXXXX")
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n $pg_dir ]]; then
    "$root_dir/scripts/pg-test-server.sh" stop "$pg_dir" || true
    rm -rf "$pg_dir"
  fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "inventory: $*" >&2; exit 1; }
((RECORDS > 0)) || die "RECORDS must be positive"
command -v curl >/dev/null || die "curl is needed"

if [[ -z ${CERTWARD_BIN:-} || -z ${FILL_BIN:-} ]]; then
  cmake --preset release >/dev/null || die "cmake --preset release failed"
  cmake --build --preset release --target certward certward_inventory_fill -j2 ||
    die "the release build failed"
  CERTWARD_BIN=$root_dir/build/release/src/certward
  FILL_BIN=$root_dir/build/release/bench/certward_inventory_fill
fi
mkdir -p "$out"

# The listings, as "name|query". Synthetic names are host<i>.example.com (every 50th
# .example.org), tags prod/dev/public, teams team-0..4, owners owner0..99, keys rsa 1024/2048/
# 3072, ecdsa 256/521, ed25519, issuers "Issuing CA 0..2" and "Old SHA-1 CA".
cases=(
  "first page|limit=50"
  "expiring in 30 days|expiring_within=30d&limit=50"
  "search: nothing|search=zq-nothing-here&limit=50"
  "search: a few (host99999)|search=host99999&limit=50"
  "search: wildcard characters, nothing (a*b?[c])|search=a%2Ab%3F%5Bc%5D&limit=50"
  "search: fingerprint prefix|search=PREFIX&limit=50"
  "tag: nothing|tag=no-such-tag&limit=50"
  "issuer: nothing|issuer=Nobody%20CA&limit=50"
  "key_algorithm: nothing|key_algorithm=rsa-pss&limit=50"
  "key_bits: nothing|key_bits=8192&limit=50"
  "owner: nothing|owner=nobody&limit=50"
  "team: nothing|team=nobody&limit=50"
  "origin: nothing|origin=upstream&limit=50"
  "authority: nothing|authority=nosuch&limit=50"
  "tag+team+key_bits: nothing|tag=prod&team=team-1&key_bits=8192&limit=50"
  "search: many (example.org)|search=example.org&limit=50"
  "tag: many (public)|tag=public&limit=50"
  "issuer: many (old sha-1)|issuer=old%20sha-1&limit=50"
  "team+expiring in 30 days|team=team-2&expiring_within=30d&limit=50"
  "deep keyset page (row N/2)|cursor=CURSOR&limit=50"
)

# run_driver <driver>: fills, serves, measures; writes $T/<driver>.tsv (name, server ms, curl ms)
# and $T/<driver>.rss.
run_driver() {
  local driver=$1 dir=$T/$1
  mkdir -p "$dir/data"
  local env_db=()
  local target=$dir/data/certward.db
  if [[ $driver == postgres ]]; then
    # Beside $T, not in it: the server runs as the postgres user, which cannot enter $T.
    pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/certward-inventory-pg.XXXXXX")
    target=$("$root_dir/scripts/pg-test-server.sh" start "$pg_dir")
    env_db=(CERTWARD_DATABASE_DRIVER=postgres "CERTWARD_DATABASE_URL=$target")
  fi
  echo "== $driver: filling $RECORDS certificates"
  local cursor
  cursor=$(/usr/bin/time -f "fill wall %es, peak RSS %MkB" "$FILL_BIN" "$RECORDS" "$driver" "$target")
  local prefix
  prefix=$(printf "%064x" $((123457 * 2654435761 + 1)) | cut -c1-60)

  # The alert evaluation is off: on its first pass over a synthetic inventory that mostly
  # expires within 30 days it raises about a million alerts, a one-off write load that is not
  # the listing's cost (bench/alerts measures it).
  cat >"$dir/certward.toml" <<EOF
log_level = "debug"

[server.rate_limit]
requests_per_second = 0

[alerts]
enabled = false
EOF
  env CERTWARD_DATA_DIR="$dir/data" CERTWARD_CONFIG="$dir/certward.toml" "${env_db[@]}" \
    CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0 \
    "$CERTWARD_BIN" serve >"$dir/serve.out" 2>"$dir/serve.log" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 1200); do
    grep -q '^  plain HTTP' "$dir/serve.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || die "certward serve exited early: $(tail -5 "$dir/serve.log")"
    sleep 0.05
  done
  local base token
  base=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$dir/serve.out")
  [[ $base == https://127.0.0.1:* ]] || die "certward is not on loopback: '$base'"
  token=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$dir/serve.out" | head -1 || true)
  [[ -n $token ]] || die "no admin token in the serve output"
  env CERTWARD_DATA_DIR="$dir/data" CERTWARD_CONFIG="$dir/certward.toml" "${env_db[@]}" \
    "$CERTWARD_BIN" ca export root >"$dir/root.pem" 2>/dev/null

  : >"$T/$driver.tsv"
  local c name query before curl_ms server_ms
  for c in "${cases[@]}"; do
    name=${c%%|*}
    query=${c#*|}
    query=${query/CURSOR/$cursor}
    query=${query/PREFIX/$prefix}
    local url="$base/api/v1/certificates?$query" args=()
    for _ in $(seq 0 "$REPEAT"); do args+=(-o /dev/null "$url"); done
    before=$(wc -l <"$dir/serve.log")
    # One keep-alive connection: the warm-up, then REPEAT timed requests.
    curl -s --cacert "$dir/root.pem" -H "Authorization: Bearer $token" \
      -w '%{http_code} %{time_total}\n' "${args[@]}" >"$dir/curl.out"
    grep -qv '^200 ' "$dir/curl.out" && die "$name: $(grep -v '^200 ' "$dir/curl.out" | head -1)"
    curl_ms=$(tail -n +2 "$dir/curl.out" | awk '{print $2 * 1000}' | sort -g |
      awk '{v[NR] = $1} END {printf "%.1f", v[int((NR + 1) / 2)]}')
    sleep 0.2
    server_ms=$(tail -n +"$((before + 1))" "$dir/serve.log" |
      grep '"http_request"' | grep '/api/v1/certificates' | tail -n "$REPEAT" |
      sed -n 's/.*"duration_ms":\([0-9.e+-]*\).*/\1/p' | sort -g |
      awk '{v[NR] = $1} END {printf "%.1f", v[int((NR + 1) / 2)]}')
    printf '%s\t%s\t%s\n' "$name" "$server_ms" "$curl_ms" >>"$T/$driver.tsv"
  done
  awk '/VmHWM|VmRSS/ {printf "%s %d MiB  ", $1, $2 / 1024}' "/proc/$pid/status" >"$T/$driver.rss"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  if [[ $driver == postgres ]]; then
    "$root_dir/scripts/pg-test-server.sh" stop "$pg_dir" || true
    rm -rf "$pg_dir"
    pg_dir=
  fi
}

for d in $DRIVERS; do run_driver "$d"; done

{
  echo "== inventory of $RECORDS certificates; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "== GET /api/v1/certificates, median of $REPEAT: server-side ms (curl time_total ms)"
  printf '%-34s' "listing"
  for d in $DRIVERS; do printf '%24s' "$d"; done
  echo
  for ((i = 0; i < ${#cases[@]}; i++)); do
    printf '%-34s' "${cases[$i]%%|*}"
    for d in $DRIVERS; do
      sed -n "$((i + 1))p" "$T/$d.tsv" | awk -F'\t' '{printf "%14s (%7s)", $2, $3}'
    done
    echo
  done
  for d in $DRIVERS; do echo "certward serve on $d: $(cat "$T/$d.rss")"; done
} | tee "$out/inventory-summary.txt"
