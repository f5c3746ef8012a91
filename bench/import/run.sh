#!/usr/bin/env bash
# `certward cert import` at scale: builds the release preset's certward and
# certward_import_tree, writes a tree of CERTS distinct certificates (default 1,000,000: single
# PEM and DER files, PEM bundles, PKCS#7 and a few PKCS#12, see bench/import/import_tree.cc),
# then times one import of the whole tree into a fresh data directory, reports certificates/s,
# the importer's peak RSS and the audit events written, and checks `certward audit verify`.
# Target (DESIGN.md): 1,000,000 certificates in < 60 s on the 2-core machine.
#
#   bench/import/run.sh
#   CERTS=200000 bench/import/run.sh
#   DRIVER=postgres bench/import/run.sh   # into a throwaway PostgreSQL (scripts/with-postgres.sh)
#   TREE=/path/kept bench/import/run.sh   # generate once, keep and reuse the tree
#   JOBS=1 bench/import/run.sh            # build with one job (shared machines)
#   MODE=batched bench/import/run.sh      # --batched (or MODE=bulk); default: the importer's choice
#   RUNS=3 bench/import/run.sh            # import 3 times, each into a fresh database; the median
#
# Results: build/release/bench/import-summary.txt; the scratch data is removed afterwards.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
out=build/release/bench
CERTS=${CERTS:-1000000}
DRIVER=${DRIVER:-sqlite}
MODE=${MODE:-auto}
RUNS=${RUNS:-1}
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || { echo "RUNS must be 1 to 99" >&2; exit 2; }
case $MODE in
  auto) mode_flag=() ;;
  bulk | batched) mode_flag=("--$MODE") ;;
  *) echo "MODE must be auto, bulk or batched" >&2; exit 2 ;;
esac

if [[ $DRIVER == postgres && -z ${CERTWARD_TEST_POSTGRES_URL:-} ]]; then
  exec scripts/with-postgres.sh "$0" "$@"
fi

cmake --preset release >/dev/null
cmake --build --preset release --target certward certward_import_tree ${JOBS:+-j "$JOBS"}
mkdir -p "$out"
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-import.XXXXXX")
trap 'rm -rf "$T"' EXIT
CW=$root/build/release/src/certward

tree=${TREE:-$T/tree}
# The marker sits beside the tree, not in it: the import would read it.
if [[ ! -f $tree.complete-$CERTS ]]; then
  rm -rf "$tree" "$tree".complete-*
  echo "== certward_import_tree $CERTS"
  "$out/certward_import_tree" "$tree" "$CERTS" | tee "$T/gen.txt"
  touch "$tree.complete-$CERTS"
fi
files=$(find "$tree" -type f | wc -l)

unset CERTWARD_CONFIG CERTWARD_MASTER_KEY || true
if [[ $DRIVER == postgres ]]; then
  [[ $RUNS == 1 ]] || { echo "RUNS > 1 needs the SQLite driver (one database per run)" >&2; exit 2; }
  export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL=$CERTWARD_TEST_POSTGRES_URL
else
  unset CERTWARD_DATABASE_DRIVER CERTWARD_DATABASE_URL || true
fi
# The P12 files' password.
printf 'bench' >"$T/p12pass"

echo
echo "== $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== certward cert import ($CERTS certificates in $files files, $DRIVER, $RUNS run(s))"
all=()
for ((run = 1; run <= RUNS; run++)); do
  rm -rf "$T/data"
  export CERTWARD_DATA_DIR=$T/data
  "$CW" init >/dev/null
  events_before=$("$CW" --json audit verify | jq -r '.events_checked')
  # The tree was just written, or the last run's database deleted: that write-back goes to
  # disk now, not during the timed import.
  sync
  rc=0
  # GNU time: elapsed seconds and peak RSS in KiB.
  /usr/bin/time -f '%e %M' -o "$T/time.txt" \
    "$CW" cert import "${mode_flag[@]}" --password-file "$T/p12pass" "$tree" >"$T/import.txt" ||
    rc=$?
  cat "$T/import.txt"
  [[ $rc == 0 ]] || { echo "certward cert import exited $rc" >&2; exit 1; }
  read -r seconds rss_kib <"$T/time.txt"
  echo "== run $run: $seconds s"
  all+=("$seconds")
  verify=$("$CW" --json audit verify)
  events=$(($(jq -r '.events_checked' <<<"$verify") - events_before))
  [[ $(jq -r '.ok' <<<"$verify") == true ]] || { echo "audit verify failed" >&2; exit 1; }
done
# The median run: one slow run (a neighbour's burst of disk writes) does not move it.
seconds=$(printf '%s\n' "${all[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
{
  printf 'driver=%s\nmode=%s\ncertificates=%s\nfiles=%s\nimport_seconds=%s\n' "$DRIVER" "$MODE" \
    "$CERTS" "$files" "$seconds"
  printf 'import_seconds_each=%s\n' "$(IFS=,; echo "${all[*]}")"
  awk -v n="$CERTS" -v s="$seconds" 'BEGIN { printf "certificates_per_second=%d\n", n / s }'
  printf 'peak_rss_mib=%s\naudit_events=%s\naudit_verify_ok=%s\n' "$((rss_kib / 1024))" "$events" \
    "$(jq -r '.ok' <<<"$verify")"
  printf 'load_average=%s\n' "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
} | tee "$out/import-summary.txt"
echo
printf '== %s certificates imported in %s s, the median of %s run(s) (target < 60 s for 1,000,000)\n' \
  "$CERTS" "$seconds" "$RUNS"
