#!/usr/bin/env bash
# Compliance policies at scale: builds the release preset's certward_policy_bench and evaluates
# every rule kind (min_key_size, allowed_algorithms, max_validity, allowed_issuers, wildcards,
# required_san_pattern, required_owner, forbidden_eku_combination, sha1_in_chain) over RECORDS
# synthetic inventory records (default 1,000,000): in memory (policy::evaluate alone), then
# through the policy service over a SQLite inventory of the same rows, page by page as
# GET /api/v1/policy/violations and `certward policy violations` do.
#
#   bench/policy/run.sh
#   RECORDS=100000 bench/policy/run.sh
#   DB=0 bench/policy/run.sh       # in memory only
#   JOBS=1 bench/policy/run.sh     # build with one job (shared machines)
#
# Results: build/release/bench/policy-summary.txt; the scratch database is removed afterwards.
set -euo pipefail

cd "$(dirname "$0")/../.."
out=build/release/bench
RECORDS=${RECORDS:-1000000}

cmake --preset release >/dev/null
cmake --build --preset release --target certward_policy_bench ${JOBS:+-j "$JOBS"}
mkdir -p "$out"
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-policy.XXXXXX")
trap 'rm -rf "$T"' EXIT

echo
echo "== $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== certward_policy_bench $RECORDS (9 rules, one of each kind)"
if [[ ${DB:-1} != 0 ]]; then
  "$out/certward_policy_bench" "$RECORDS" "$T" | tee "$out/policy-summary.txt"
else
  "$out/certward_policy_bench" "$RECORDS" | tee "$out/policy-summary.txt"
fi
