#!/usr/bin/env bash
# The dashboard at scale: RECORDS synthetic certificates (default 1,000,000; the inventory
# benchmark's certward_inventory_fill) in a SQLite inventory, one `certward serve`, and Debian's
# chromium timing, RUNS times each, from a reload of the page to the overview's numbers on
# screen, to the inventory's first page of rows, and to its first page sorted by latest expiry
# (bench/dashboard/timing.mjs). Target: under one second each. Also timed: the overview's first
# answer after the start (it waits for the walk the server starts at once, the only wait there
# is), and an answer once the counts are older than they are kept (the old counts at once,
# while the server walks again).
#
#   RECORDS=100000 bench/dashboard/run.sh
#   CERTWARD_BIN=... FILL_BIN=... bench/dashboard/run.sh   # skip the build
set -euo pipefail
cd "$(dirname "$0")/../.."
root_dir=$PWD
out=$root_dir/build/release/bench/dashboard
RECORDS=${RECORDS:-1000000}
RUNS=${RUNS:-5}

pid=
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-dashboard.XXXXXX")
cleanup() {
  [[ -z $pid ]] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "dashboard: $*" >&2; exit 1; }
command -v chromium >/dev/null || die "chromium is needed (scripts/setup.sh installs it)"
[[ -d web/node_modules/playwright-core ]] || die "web/node_modules is missing: run scripts/setup.sh"

if [[ -z ${CERTWARD_BIN:-} || -z ${FILL_BIN:-} ]]; then
  cmake --preset release >/dev/null || die "cmake --preset release failed"
  cmake --build --preset release --target certward certward_inventory_fill -j2 || die "the release build failed"
  CERTWARD_BIN=$root_dir/build/release/src/certward
  FILL_BIN=$root_dir/build/release/bench/certward_inventory_fill
fi
mkdir -p "$out"

echo "== filling $RECORDS certificates (SQLite)"
mkdir -p "$T/data"
/usr/bin/time -f "   fill: %es" "$FILL_BIN" "$RECORDS" sqlite "$T/data/certward.db" >/dev/null
cat >"$T/certward.toml" <<TOML
[server.rate_limit]
requests_per_second = 0

[alerts]
enabled = false
TOML
env CERTWARD_DATA_DIR="$T/data" CERTWARD_CONFIG="$T/certward.toml" CERTWARD_LISTEN=127.0.0.1:0 \
  CERTWARD_HTTP_LISTEN=127.0.0.1:0 "$CERTWARD_BIN" serve >"$T/serve.out" 2>"$T/serve.log" &
pid=$!
for _ in $(seq 1 1200); do
  grep -q '^  plain HTTP' "$T/serve.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || die "certward serve exited early: $(tail -5 "$T/serve.log")"
  sleep 0.05
done
base=$(sed -n 's/^  REST API: *\(https:[^ ]*\)\/api\/v1 .*/\1/p' "$T/serve.out")
[[ $base == https://127.0.0.1:* ]] || die "certward is not on loopback: '$base'"
token=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$T/serve.out" | head -1 || true)
[[ -n $token ]] || die "no admin token in the serve output"

# The first overview after the start waits for the walk the server began at its start.
cold=$(curl -sk -o "$T/overview.json" -w '%{time_total}' -H "Authorization: Bearer $token" \
  "$base/api/v1/inventory/overview")
total=$(jq -r .total "$T/overview.json")
[[ $total == "$RECORDS" ]] || echo "   note: the overview counts $total certificates (the fill made $RECORDS, plus the CA's own)"

# What the two pages ask the API for, each warm (the overview's walk kept), curl's time.
api_times=""
for path in "inventory/overview" "policy/violations?limit=10" "audit/events?limit=10" \
  "certificates?limit=50" "certificates?limit=50&sort=-not_after" "managed?state=failed&limit=10" \
  "alerts?limit=100" "whoami"; do
  t=$(curl -sk -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$base/api/v1/$path")
  api_times+="   GET /api/v1/$path: $(awk -v t="$t" 'BEGIN { printf "%.0f ms", t * 1000 }')"$'\n'
done

BASE=$base TOKEN=$token RUNS=$RUNS SHOTS=$out node bench/dashboard/timing.mjs >"$T/timing.txt"

# Once the counts are older than they are kept (a minute at this size), an answer is the old
# counts at once while the server walks again in the background.
computed=$(jq -r .computed_at "$T/overview.json")
wait_for=$((60 - ($(date +%s) - $(date -d "$computed" +%s)) + 2))
((wait_for > 0)) && sleep "$wait_for"
stale=$(curl -sk -o "$T/stale.json" -w '%{time_total}' -H "Authorization: Bearer $token" \
  "$base/api/v1/inventory/overview")
[[ $(jq -r .computed_at "$T/stale.json") == "$computed" ]] || echo "   note: the answer after a minute was not the kept counts"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ov=$(awk '$1=="overview"{print $2}' "$T/timing.txt" | median)
inv=$(awk '$1=="inventory"{print $2}' "$T/timing.txt" | median)
late=$(awk '$1=="latest"{print $2}' "$T/timing.txt" | median)
{
  echo "dashboard at $RECORDS certificates (SQLite, release build), $(nproc) cores; $(uptime)"
  echo "first overview after the start (waits for the start's walk): ${cold}s for $total certificates"
  echo "overview once its counts are a minute old (the old counts, a walk started): $(awk -v t="$stale" 'BEGIN { printf "%.0f ms", t * 1000 }')"
  echo "the API, warm:"
  printf '%s' "$api_times"
  echo "overview rendered after a reload, median of $RUNS: ${ov} ms ($(awk '$1=="overview"{printf "%s ", $2}' "$T/timing.txt")ms)"
  echo "inventory first page rendered after a reload, median of $RUNS: ${inv} ms ($(awk '$1=="inventory"{printf "%s ", $2}' "$T/timing.txt")ms)"
  echo "inventory sorted by latest expiry, first page, median of $RUNS: ${late} ms ($(awk '$1=="latest"{printf "%s ", $2}' "$T/timing.txt")ms)"
  awk -v o="$ov" -v i="$inv" -v l="$late" 'BEGIN { printf "target < 1000 ms each: %s\n", (o < 1000 && i < 1000 && l < 1000) ? "met" : "NOT met" }'
} | tee "$out/summary.txt"
