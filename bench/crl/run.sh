#!/usr/bin/env bash
# CRL generation at scale: builds the release preset's certward_crl_gen, generates one CRL of
# ENTRIES revoked certificates (default 1,000,000) with a P-256 CA key, and prints the time
# x509::build_crl took, the process's peak RSS before the entries, with them and after the
# CRL is built, and the time to parse and verify it back. Then OpenSSL reads the same file
# (`openssl crl -CAfile ... -noout`, which verifies the signature) as the independent check,
# with its own time and peak RSS. Target (DESIGN.md): 1,000,000 entries in < 5 s.
#
#   bench/crl/run.sh
#   ENTRIES=100000 bench/crl/run.sh
#   JOBS=1 bench/crl/run.sh          # build with one job (shared machines)
#   OPENSSL_CHECK=0 bench/crl/run.sh # skip the openssl read
#
# Results: build/release/bench/crl-summary.txt; the CRL itself is removed afterwards.
set -euo pipefail

cd "$(dirname "$0")/../.."
out=build/release/bench
ENTRIES=${ENTRIES:-1000000}

cmake --preset release >/dev/null
cmake --build --preset release --target certward_crl_gen ${JOBS:+-j "$JOBS"}
mkdir -p "$out"
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-crl.XXXXXX")
trap 'rm -rf "$T"' EXIT

echo
echo "== $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== certward_crl_gen $ENTRIES (x509::build_crl, P-256 CA key)"
"$out/certward_crl_gen" "$ENTRIES" "$T/crl.der" "$T/ca.pem" | tee "$out/crl-summary.txt"

if [[ ${OPENSSL_CHECK:-1} != 0 ]]; then
  echo "== openssl crl -inform DER -CAfile ca.pem -noout (reads and verifies the same CRL)"
  # GNU time: elapsed seconds and peak RSS in KiB.
  /usr/bin/time -f '%e %M' -o "$T/time.txt" \
    openssl crl -inform DER -in "$T/crl.der" -CAfile "$T/ca.pem" -noout 2>"$T/openssl.txt" || true
  read -r seconds rss_kib <"$T/time.txt"
  printf 'openssl_seconds=%s\nopenssl_peak_rss_mib=%s\n' "$seconds" "$((rss_kib / 1024))" |
    tee -a "$out/crl-summary.txt"
  grep -q 'verify OK' "$T/openssl.txt" || { cat "$T/openssl.txt" >&2; echo "openssl did not verify the CRL" >&2; exit 1; }
fi

build=$(sed -n 's/^build_seconds=//p' "$out/crl-summary.txt")
peak=$(sed -n 's/^peak_rss_mib_after_build=//p' "$out/crl-summary.txt")
echo
printf '== %s entries: generated in %s s (target < 5 s for 1,000,000), peak RSS %s MiB\n' \
  "$ENTRIES" "$build" "$peak"
