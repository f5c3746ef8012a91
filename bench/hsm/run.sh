#!/usr/bin/env bash
# P-256 signatures per second through the PKCS#11 signer against the software signer, in one
# run: builds the release preset's certward_hsm_bench, makes a throwaway SoftHSM2 token, and
# signs 512-byte messages with a key generated in the token and with a software key on 1 and
# 2 threads (SECONDS each). The ratio is what a token costs certward's signing path; SoftHSM2
# does the same OpenSSL arithmetic in software, so the difference is the PKCS#11 path itself
# (session pool, C_SignInit/C_Sign, the foreign-key callback). A hardware HSM adds its own
# signing time on top.
#
#   bench/hsm/run.sh
#   SECONDS_EACH=10 THREADS=4 bench/hsm/run.sh
#   JOBS=1 bench/hsm/run.sh     # build with one job
#
# Results: build/release/bench/hsm-summary.txt.
set -euo pipefail

cd "$(dirname "$0")/../.."
out=build/release/bench
MODULE=${MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[[ -r $MODULE ]] || { echo "no SoftHSM2 at $MODULE (scripts/setup.sh installs softhsm2)" >&2; exit 1; }

cmake --preset release >/dev/null
cmake --build --preset release --target certward_hsm_bench ${JOBS:+-j "$JOBS"}
mkdir -p "$out"
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-hsm.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/tokens" >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf CERTWARD_BENCH_HSM_PIN=bench-pin-1234
softhsm2-util --init-token --free --label bench --so-pin bench-so-0000 --pin "$CERTWARD_BENCH_HSM_PIN" >/dev/null

echo
echo "== $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== P-256 signatures/s: PKCS#11 (SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null || echo '?')) vs software, ${SECONDS_EACH:-5} s each"
"$out/certward_hsm_bench" "$MODULE" bench env:CERTWARD_BENCH_HSM_PIN "${SECONDS_EACH:-5}" "${THREADS:-2}" |
  tee "$out/hsm-summary.txt"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/hsm-summary.txt"
