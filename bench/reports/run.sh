#!/usr/bin/env bash
# Reports at scale: builds the release preset's certward_reports_bench and computes the summary
# and the crypto posture of RECORDS synthetic inventory certificates (default 1,000,000): the
# aggregation alone in memory, then through the report service over a SQLite inventory of the
# same rows, page by page as `certward report` and GET /api/v1/reports/{kind} do; then the
# CBOM of them, written to a file.
#
#   bench/reports/run.sh
#   RECORDS=100000 bench/reports/run.sh
#   DB=0 bench/reports/run.sh       # in memory only
#   JOBS=1 bench/reports/run.sh     # build with one job (shared machines)
#
# Results: build/release/bench/reports-summary.txt; the scratch database is removed afterwards.
set -euo pipefail

cd "$(dirname "$0")/../.."
out=build/release/bench
RECORDS=${RECORDS:-1000000}

cmake --preset release >/dev/null
cmake --build --preset release --target certward_reports_bench ${JOBS:+-j "$JOBS"}
mkdir -p "$out"
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-reports.XXXXXX")
trap 'rm -rf "$T"' EXIT

echo
echo "== $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== certward_reports_bench $RECORDS"
if [[ ${DB:-1} != 0 ]]; then
  "$out/certward_reports_bench" "$RECORDS" "$T" | tee "$out/reports-summary.txt"
else
  "$out/certward_reports_bench" "$RECORDS" | tee "$out/reports-summary.txt"
fi
