#!/usr/bin/env bash
# Installs every dependency, builds certward and runs the whole test suite: unit tests,
# integration tests against the real binary, openssl, SQLite and a throwaway PostgreSQL.
#
#   scripts/test.sh            # debug build and suite (gcc), then one clang build under
#                              # ASan+UBSan that holds both the tests and the libFuzzer targets:
#                              # the unit tests, the parser and protocol integration tests and a
#                              # fuzz smoke run over it; and the release build of certward
#                              # with its Debian package (contents checked, not installed)
#   scripts/test.sh --fast     # debug build only
#
# The fuzz smoke runs every libFuzzer target for 15 s, two at a time (CERTWARD_FUZZ_SECONDS
# overrides; 0 skips). docs/development.md ("CI") and docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

presets=(debug asan-ubsan)
[[ ${1:-} == --fast ]] && presets=(debug)
fuzz_seconds=${CERTWARD_FUZZ_SECONDS:-12}

status=0
# A test that fails is run once more; one that then passes still shows its first failure in
# the log ("***Failed"), to be fixed as a flake, but does not fail the run.
retry=(--repeat until-pass:2)
for preset in "${presets[@]}"; do
  if [[ $preset == asan-ubsan ]] && ! command -v clang++-16 >/dev/null; then
    echo "== $preset: clang++-16 is not installed (scripts/setup.sh installs it)" >&2
    status=1
    continue
  fi
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "== $preset: tests"
  # Two at a time, unit tests and integration scripts alike: starting processes is most of a
  # unit test's cost, and a script waits on its servers and peers for much of its run. Every
  # script starts its own servers on free loopback ports in its own directory, so two never
  # share one; a script that fails is run once more (docs/development.md).
  if [[ $preset == asan-ubsan ]]; then
    # Unit tests, then the integration scripts that feed parsers and protocols hostile input:
    # the whole suite twice no longer fits CI's hour (docs/development.md). The fuzz smoke
    # starts every target on its seeds and regression inputs, so the fuzz.<target>.replay
    # tests run here only when the smoke is skipped.
    exclude=integration
    [[ $fuzz_seconds != 0 ]] && exclude='integration|fuzz'
    ctest --preset "$preset" --timeout 900 "${retry[@]}" -j2 -LE "$exclude" || status=1
    ctest --preset "$preset" --timeout 900 "${retry[@]}" -j2 -L sanitized || status=1
  else
    ctest --preset "$preset" --timeout 900 "${retry[@]}" -j2 -LE integration || status=1
    ctest --preset "$preset" --timeout 900 "${retry[@]}" -j2 -L integration || status=1
  fi
done

# The README's other command (scripts/run.sh) builds the release preset, whose -O2 warnings
# differ from the debug build's: a release build that fails under -Werror fails here too.
if [[ ${1:-} != --fast ]]; then
  echo "== release: configure and build certward (what scripts/run.sh builds)"
  if ! { cmake --preset release >/dev/null && cmake --build --preset release --target certward; }; then
    echo "== release: the build failed" >&2
    status=1
  else
    # The package from that build, checked without installing it (installing needs a
    # throwaway root: tests/package/deb_test.sh, docs/development.md).
    echo "== package: build the .deb and check what it holds"
    if ! deb=$(bash scripts/package.sh | tail -1) || ! bash tests/package/deb_contents_test.sh "$deb"; then
      echo "== package: failed" >&2
      status=1
    fi
  fi
fi

if [[ ${1:-} != --fast && $fuzz_seconds != 0 && -x build/asan-ubsan/fuzz/cert_der_fuzz ]]; then
  echo "== fuzz smoke: ${fuzz_seconds}s per target, two at a time, over the asan-ubsan build"
  FUZZ_PRESET=asan-ubsan FUZZ_SKIP_BUILD=1 FUZZ_JOBS=${FUZZ_JOBS:-2} \
    bash fuzz/run.sh "$fuzz_seconds" || status=1
fi
exit "$status"
