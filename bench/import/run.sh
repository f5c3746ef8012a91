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
#
# Results: build/release/bench/import-summary.txt; the scratch data is removed afterwards.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
out=build/release/bench
CERTS=${CERTS:-1000000}
DRIVER=${DRIVER:-sqlite}
MODE=${MODE:-auto}
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
export CERTWARD_DATA_DIR=$T/data
if [[ $DRIVER == postgres ]]; then
  export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL=$CERTWARD_TEST_POSTGRES_URL
else
  unset CERTWARD_DATABASE_DRIVER CERTWARD_DATABASE_URL || true
fi
"$CW" init >/dev/null
events_before=$("$CW" --json audit verify | jq -r '.events_checked')

echo
echo "== $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== certward cert import ($CERTS certificates in $files files, $DRIVER)"
# The P12 files' password; GNU time: elapsed seconds and peak RSS in KiB.
printf 'bench' >"$T/p12pass"
rc=0
/usr/bin/time -f '%e %M' -o "$T/time.txt" \
  "$CW" cert import "${mode_flag[@]}" --password-file "$T/p12pass" "$tree" >"$T/import.txt" || rc=$?
cat "$T/import.txt"
[[ $rc == 0 ]] || { echo "certward cert import exited $rc" >&2; exit 1; }
read -r seconds rss_kib <"$T/time.txt"
verify=$("$CW" --json audit verify)
events=$(($(jq -r '.events_checked' <<<"$verify") - events_before))
{
  printf 'driver=%s\nmode=%s\ncertificates=%s\nfiles=%s\nimport_seconds=%s\n' "$DRIVER" "$MODE" \
    "$CERTS" "$files" "$seconds"
  awk -v n="$CERTS" -v s="$seconds" 'BEGIN { printf "certificates_per_second=%d\n", n / s }'
  printf 'peak_rss_mib=%s\naudit_events=%s\naudit_verify_ok=%s\n' "$((rss_kib / 1024))" "$events" \
    "$(jq -r '.ok' <<<"$verify")"
  printf 'load_average=%s\n' "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
} | tee "$out/import-summary.txt"
echo
printf '== %s certificates imported in %s s (target < 60 s for 1,000,000)\n' "$CERTS" "$seconds"
