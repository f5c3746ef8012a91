#!/usr/bin/env bash
# Installs every dependency, builds certward and runs the whole test suite: unit tests,
# integration tests against the real binary, openssl, SQLite and a throwaway PostgreSQL.
#
#   scripts/test.sh            # debug build and suite, then ASan+UBSan over the unit tests and
#                              # the parser and protocol integration tests
#   scripts/test.sh --fast     # debug build only
#
# The full run ends with a fuzz smoke: every libFuzzer target for 15 s under ASan+UBSan, two at a
# time
# (CERTWARD_FUZZ_SECONDS overrides; 0 skips), when clang++-16 is installed. docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

presets=(debug asan-ubsan)
[[ ${1:-} == --fast ]] && presets=(debug)

status=0
for preset in "${presets[@]}"; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "== $preset: tests"
  if [[ $preset == asan-ubsan ]]; then
    # Unit tests, then the integration scripts that feed parsers and protocols hostile input:
    # the whole suite twice no longer fits CI's hour (docs/development.md).
    ctest --preset "$preset" --timeout 900 -LE integration || status=1
    ctest --preset "$preset" --timeout 900 -L sanitized || status=1
  else
    ctest --preset "$preset" --timeout 900 || status=1
  fi
done

fuzz_seconds=${CERTWARD_FUZZ_SECONDS:-15}
if [[ ${1:-} != --fast && $fuzz_seconds != 0 ]]; then
  if command -v clang++-16 >/dev/null; then
    echo "== fuzz smoke: ${fuzz_seconds}s per target, two at a time"
    FUZZ_JOBS=${FUZZ_JOBS:-2} bash fuzz/run.sh "$fuzz_seconds" || status=1
  else
    echo "== fuzz smoke: skipped (clang++-16 not installed)"
  fi
fi
exit "$status"
