#!/usr/bin/env bash
# Installs every dependency, builds certward and runs the whole test suite: unit tests,
# integration tests against the real binary, openssl, SQLite and a throwaway PostgreSQL.
#
#   scripts/test.sh            # debug build, then the same suite under ASan+UBSan
#   scripts/test.sh --fast     # debug build only
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
  ctest --preset "$preset" --timeout 900 || status=1
done
exit "$status"
