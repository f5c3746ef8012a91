#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, ASan+UBSan) and runs every target for N seconds
# (default 60) on a copy of its committed seed corpus plus its regression inputs. Prints, per
# target, libFuzzer's final exec/s, coverage (cov) and features (ft). Exits non-zero if any
# target crashes, leaks, times out, runs out of memory or trips a sanitizer; the offending
# input is left in <build>/work/<target>/artifacts/.
#
#   bash fuzz/run.sh          # 60 s per target
#   bash fuzz/run.sh 15       # the CI smoke (scripts/test.sh)
#   FUZZ_TARGETS="csr pkcs12" bash fuzz/run.sh 600
#   FUZZ_SKIP_BUILD=1 bash fuzz/run.sh   # reuse build/fuzz as it is
#   FUZZ_PRESET=asan-ubsan bash fuzz/run.sh   # the sanitizer build, which has the targets too
#   FUZZ_JOBS=2 bash fuzz/run.sh 600      # two targets at a time (one core each)
#   FUZZ_WORK=build/fuzz/campaign ...   # keep this run apart from others
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
targets=(${FUZZ_TARGETS:-cert_der certificates pkcs7 pkcs12 csr est_body scep_message cmp_message private_key public_key crl ocsp_request names config body http_text http_request acme_jws acme_dns ssh_key jks openssh_lines file_contents scan_targets system_trust file_observation target_spec managed_spec campaign_request agent_deployment alert_settings policy_rule report_cells ssh_public_key dns_update_answer acme_upstream backup_file})
binary_targets=" backup_file cert_der certificates pkcs7 pkcs12 csr scep_message cmp_message private_key public_key crl ocsp_request jks file_contents "

# Any preset with CERTWARD_BUILD_FUZZ=ON will do: `fuzz` builds only the targets, `asan-ubsan`
# builds them with the test suite, so CI fuzzes the build it has just tested.
preset=${FUZZ_PRESET:-fuzz}
if [[ -z ${FUZZ_SKIP_BUILD:-} ]]; then
  echo "== fuzz: configure and build (preset $preset)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" --target fuzz
fi

B=build/$preset
[[ -x $B/fuzz/${targets[0]}_fuzz ]] || { echo "fuzz: no targets in $B (CERTWARD_BUILD_FUZZ off or not built)" >&2; exit 1; }
W=${FUZZ_WORK:-$B/work}
mkdir -p "$W"
# DER and PEM tokens are useful to every target that reads certificates, keys or containers.
cat fuzz/dict/asn1.dict fuzz/dict/pem.dict >"$W/binary.dict"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

summary=$W/summary.tsv
printf 'target\tseconds\texecs\texec/s\tcov\tft\tcorpus\tresult\n' >"$summary"

# Runs one target; writes its summary row to $W/<target>/row and its status line to stdout.
run_target() {
  local t=$1 d=$W/$1
  rm -rf "$d"
  mkdir -p "$d/corpus" "$d/artifacts"
  cp -R "fuzz/corpus/$t/." "$d/corpus/"
  local args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
              -artifact_prefix="$d/artifacts/")
  [[ $binary_targets == *" $t "* ]] && args+=(-dict="$W/binary.dict")
  [[ $t == http_request ]] && args+=(-dict=fuzz/dict/http.dict)
  [[ $t == acme_jws ]] && args+=(-dict=fuzz/dict/jws.dict)
  local dirs=("$d/corpus")
  [[ -d fuzz/regressions/$t ]] && dirs+=("fuzz/regressions/$t")
  local rc=0
  "$B/fuzz/${t}_fuzz" "${args[@]}" "${dirs[@]}" >"$d/log" 2>&1 || rc=$?
  # The last status line: "#N DONE cov: C ft: F corp: U/S lim: L exec/s: E rss: R".
  local line execs cov ft corp eps result=ok
  line=$(grep -E '^#[0-9]+' "$d/log" | tail -n 1 || true)
  execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$line")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$line")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$line")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$line")
  eps=$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$line")
  if ((rc != 0)) || compgen -G "$d/artifacts/*" >/dev/null; then
    result="FAIL (exit $rc; $(ls "$d/artifacts" | tr '\n' ' '))"
    grep -E 'ERROR: |SUMMARY: |runtime error' "$d/log" | head -n 5 >&2 || true
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seconds" "${execs:-?}" "${eps:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" >"$d/row"
  printf '%-14s %4ss  exec/s %-7s cov %-6s ft %-7s %s\n' "$t" "$seconds" "${eps:-?}" \
    "${cov:-?}" "${ft:-?}" "$result"
}

jobs_max=${FUZZ_JOBS:-1}
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
  run_target "$t" &
done
wait

status=0
for t in "${targets[@]}"; do
  row=$(cat "$W/$t/row" 2>/dev/null || printf '%s\t%s\t?\t?\t?\t?\t?\tFAIL (no result)' "$t" "$seconds")
  printf '%s\n' "$row" >>"$summary"
  [[ $row == *$'\tok' ]] || status=1
done
echo "== fuzz: summary in $summary, logs in $W/<target>/log"
exit "$status"
