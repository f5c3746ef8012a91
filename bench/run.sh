#!/usr/bin/env bash
# Builds the release preset, runs certward_bench, then `openssl speed` for ECDSA P-256 on the
# same machine, and prints our numbers beside OpenSSL's signing limit. The 1M-entry CRL with
# its peak memory has its own script, bench/crl/run.sh.
#
#   bench/run.sh                  # the whole run, about a minute
#   JOBS=1 bench/run.sh           # build with one job (shared machines)
#   bench/run.sh --benchmark_filter=BM_Parse   # extra arguments go to certward_bench
#
# Raw results land in build/release/bench/: certward_bench.json (Google Benchmark JSON),
# openssl_speed_1.txt / openssl_speed_2.txt (openssl's own output) and summary.json.
set -euo pipefail

cd "$(dirname "$0")/.."
out=build/release/bench

cmake --preset release >/dev/null
cmake --build --preset release --target certward_bench ${JOBS:+-j "$JOBS"}

echo
echo "== $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== certward_bench (3 repetitions, medians are summarised below)"
"$out/certward_bench" \
  --benchmark_min_time=1 \
  --benchmark_repetitions=3 \
  --benchmark_display_aggregates_only=true \
  --benchmark_out="$out/certward_bench.json" \
  --benchmark_out_format=json \
  "$@"

echo
echo "== openssl speed -seconds 3 ecdsap256 (1 process)"
openssl speed -seconds 3 ecdsap256 >"$out/openssl_speed_1.txt" 2>&1
grep -E 'sign/s|nistp256' "$out/openssl_speed_1.txt" | tail -2
echo "== openssl speed -seconds 3 -multi 2 ecdsap256 (2 processes)"
openssl speed -seconds 3 -multi 2 ecdsap256 >"$out/openssl_speed_2.txt" 2>&1
grep -E 'sign/s|nistp256' "$out/openssl_speed_2.txt" | tail -2

python3 - "$out" <<'EOF'
import json, re, sys

out = sys.argv[1]
with open(f"{out}/certward_bench.json") as f:
    runs = json.load(f)["benchmarks"]

def median(name):
    """items_per_second (and avg_batch) of the median aggregate, else of the single run."""
    for r in runs:
        if r.get("run_name") == name and r.get("aggregate_name") == "median":
            return r
    singles = [r for r in runs if r.get("run_name") == name and r.get("run_type") == "iteration"]
    return singles[0] if singles else None

def openssl_sign_per_s(path):
    with open(path) as f:
        rows = [l for l in f if "ecdsa (nistp256)" in l]
    return float(rows[-1].split()[-2]) if rows else None

summary = {"openssl_sign_per_s_1proc": openssl_sign_per_s(f"{out}/openssl_speed_1.txt"),
           "openssl_sign_per_s_2proc": openssl_sign_per_s(f"{out}/openssl_speed_2.txt")}
for name in ["BM_EcdsaP256SignRaw", "BM_BuildSignP256Leaf", "BM_BuildSignP256LeafFromKey",
             "BM_ParseCsr", "BM_ParseCertificateDer", "BM_BuildCrl/1000000/real_time",
             "BM_ParseOcspRequest", "BM_ParseAndBuildOcspResponse"]:
    r = median(name)
    summary[name] = r and r["items_per_second"]
issue = {}
for threads in (1, 2, 8):
    r = median(f"BM_IssueAndStore/real_time/threads:{threads}")
    if r:
        issue[threads] = {"per_s": r["items_per_second"], "avg_batch": r.get("avg_batch")}
summary["BM_IssueAndStore"] = issue
with open(f"{out}/summary.json", "w") as f:
    json.dump(summary, f, indent=2)

def fmt(v):
    return "n/a" if v is None else f"{v:,.0f}/s"

def ratio(a, b):
    return "" if not a or not b else f"{a / b:6.1%} of it"

o1, o2 = summary["openssl_sign_per_s_1proc"], summary["openssl_sign_per_s_2proc"]
print()
print("== summary (medians of 3; rates are per second)")
print(f"  {'openssl speed ecdsap256 sign, 1 process':48} {fmt(o1):>12}")
print(f"  {'openssl speed ecdsap256 sign, 2 processes':48} {fmt(o2):>12}")
print(f"  {'our raw P-256 sign (Signer::sign_data), 1 thread':48} "
      f"{fmt(summary['BM_EcdsaP256SignRaw']):>12}   {ratio(summary['BM_EcdsaP256SignRaw'], o1)} (1 proc)")
print(f"  {'our build+lint+sign leaf, 1 thread':48} "
      f"{fmt(summary['BM_BuildSignP256Leaf']):>12}   {ratio(summary['BM_BuildSignP256Leaf'], o1)} (1 proc)")
print(f"  {'  same, subject key without its SPKI, 1 thread':48} "
      f"{fmt(summary['BM_BuildSignP256LeafFromKey']):>12}")
print(f"  {'parse_csr (incl. signature check), 1 thread':48} {fmt(summary['BM_ParseCsr']):>12}")
print(f"  {'Certificate::from_der, 1 thread':48} {fmt(summary['BM_ParseCertificateDer']):>12}")
crl = summary["BM_BuildCrl/1000000/real_time"]
print(f"  {'build_crl, 1,000,000 entries (seconds each)':48} "
      f"{'n/a' if not crl else f'{1e6 / crl:.2f} s':>12}   target < 5 s (bench/crl/run.sh: peak RSS)")
print(f"  {'parse_ocsp_request, 1 thread':48} {fmt(summary['BM_ParseOcspRequest']):>12}")
print(f"  {'OCSP parse + build + sign (uncached), 1 thread':48} "
      f"{fmt(summary['BM_ParseAndBuildOcspResponse']):>12}")
for threads, r in issue.items():
    label = f"issue-and-store (durable), {threads} thread{'s' if threads > 1 else ''}"
    print(f"  {label:48} {fmt(r['per_s']):>12}   avg batch {r['avg_batch'] or 0:.2f}")
if issue:
    best_threads, best = max(issue.items(), key=lambda kv: kv[1]["per_s"])
    print(f"  {'best issue-and-store vs openssl 2 processes':48} {fmt(best['per_s']):>12}   "
          f"{ratio(best['per_s'], o2)} (threads:{best_threads})")
print(f"\n  raw: {out}/certward_bench.json, {out}/summary.json, {out}/openssl_speed_*.txt")
EOF
