#!/usr/bin/env bash
# The revocation benchmarks in one run, on one machine: a CRL of 1,000,000 revoked entries
# (time and peak memory, bench/crl/run.sh; target < 5 s) and OCSP GET throughput against
# `openssl ocsp` and nginx serving the same bytes (bench/ocsp/run.sh; target >= 0.8x nginx).
# Environment knobs go through to both (ENTRIES, DURATION, CONNS, JOBS, CERTWARD_BIN, ...).
# Needs root for the OCSP part (its private network namespace).
#
#   bench/revocation/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bench/crl/run.sh
bench/ocsp/run.sh
echo
echo "== summary"
cat build/release/bench/crl-summary.txt
cat build/release/bench/ocsp/summary.txt
