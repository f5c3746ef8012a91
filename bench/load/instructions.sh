#!/usr/bin/env bash
# Instructions per REST-style issuance, a figure that does not move with the machine's load:
# callgrind over certward_bench's BM_IssueAndStore (one thread, so batches of one), counting
# only inside parse_csr, Enrollment::enroll and the writer's commit_batch. Two runs of
# different lengths; the per-certificate figure is the difference of their totals divided by
# the difference in parse_csr calls, which cancels the fixture (the CA hierarchy it creates).
#
#   bench/load/instructions.sh                          # builds the release bench binary
#   BENCH_BIN=/path/to/certward_bench bench/load/instructions.sh
#
# Prints the per-certificate total and the inclusive share of the main steps. Takes about two
# minutes (valgrind runs the code about fifty times slower).
set -euo pipefail

cd "$(dirname "$0")/../.."
if [[ -z ${BENCH_BIN:-} ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target certward_bench -j2 >/dev/null
  BENCH_BIN=$PWD/build/release/bench/certward_bench
fi
command -v valgrind >/dev/null || { echo "instructions: valgrind is not installed" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/certward-instr.XXXXXX")
trap 'rm -rf "$T"' EXIT

run() {  # name min_time
  valgrind --tool=callgrind --callgrind-out-file="$T/$1.out" \
    --toggle-collect='certward::x509::parse_csr(*' \
    --toggle-collect='certward::ca::Enrollment::enroll(*' \
    --toggle-collect='certward::ca::Enrollment::commit_batch(*' \
    "$BENCH_BIN" --benchmark_filter='BM_IssueAndStore/real_time/threads:1$' \
    --benchmark_min_time="$2" >"$T/$1.log" 2>&1 ||
    { echo "instructions: callgrind run failed: $(tail -3 "$T/$1.log")" >&2; exit 1; }
}
run short 0.3
run long 3

python3 - "$T/short.out" "$T/long.out" <<'PY'
import re, sys

# Inclusive cost per function and calls into it, from callgrind's compressed output format.
def load(path):
    names, total, incl, calls = {}, 0, {}, {}
    fn = cfn = None
    pending_call = None
    def name(kind, text):
        m = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not m: return text
        if m.group(2): names[(kind, m.group(1))] = m.group(2)
        return names.get((kind, m.group(1)), m.group(1))
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("summary:") or line.startswith("totals:"):
            total = int(line.split()[1])
        elif line.startswith("fn="):
            fn = name("fn", line[3:])
        elif line.startswith("cfn="):
            cfn = name("fn", line[4:])
        elif line.startswith("calls="):
            pending_call = int(line[6:].split()[0])
        elif pending_call is not None and line and (line[0].isdigit() or line[0] in "+-*"):
            cost = int(line.split()[1]) if len(line.split()) > 1 else 0
            calls[cfn] = calls.get(cfn, 0) + pending_call
            incl.setdefault(fn, {})
            incl[fn][cfn] = incl[fn].get(cfn, 0) + cost
            pending_call = None
    return total, calls, incl

def inclusive_of(incl, target):
    # Cost of calls into `target` from any caller outside it (its inclusive cost).
    return sum(c for caller, callees in incl.items() if caller != target
               for callee, c in callees.items() if callee == target)

s_total, s_calls, s_incl = load(sys.argv[1])
l_total, l_calls, l_incl = load(sys.argv[2])
key = next((k for k in l_calls if k.startswith("certward::x509::parse_csr(")), None)
if key is None: sys.exit("instructions: parse_csr was not called")
n = l_calls[key] - s_calls.get(key, 0)
if n <= 0: sys.exit("instructions: the long run made no more issuances than the short one")
print(f"issuances counted: {n} (long run {l_calls[key]}, short run {s_calls.get(key, 0)})")
print(f"instructions per certificate (parse_csr + enroll + commit_batch): {(l_total - s_total) / n / 1e6:.2f} M")
steps = ["certward::x509::parse_csr(", "certward::ca::Authority::issue(",
         "certward::x509::build_tbs(", "certward::crypto::SoftwareSigner::sign_certificate(",
         "certward::x509::Certificate::from_signed(", "certward::ca::Enrollment::commit_batch(",
         "certward::inventory::Inventory::record(", "certward::audit::AuditLog::append(",
         "certward::store::Transaction::commit("]
for prefix in steps:
    k = next((k for k in l_incl.keys() | l_calls.keys() if k.startswith(prefix)), None)
    if k is None: continue
    d = inclusive_of(l_incl, k) - inclusive_of(s_incl, k)
    print(f"  {prefix[:-1]:52} {d / n / 1e6:6.2f} M")
PY
