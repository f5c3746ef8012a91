#!/usr/bin/env bash
# Runs check_includes.sh on fixture/src, which holds one violation of each kind and one clean
# file, and passes only if each violation is reported and the clean file is not.
# Usage: expect_violations.sh <check_includes.sh> <layers.txt> <fixture-src-dir>
set -uo pipefail
check=$1
table=$2
fixture=$3

out=$(bash "$check" "$table" "$fixture" 2>&1)
status=$?
echo "$out"
failed=0
expect() {
  if ! grep -Fq -- "$1" <<<"$out"; then
    echo "NOT REPORTED: $1"
    failed=1
  fi
}
if ((status == 0)); then
  echo "check_includes.sh passed a tree with violations"
  failed=1
fi
expect 'src/x509/upward.h:4: includes "store/store.h", but x509 may use only:'
expect 'src/api/reaches_in.cc:3: includes "http/wire_impl.h", which is private to src/http'
expect 'src/http/own_lock.cc:5: std::mutex: use common::Mutex'
if grep -Fq 'fine.h' <<<"$out"; then
  echo "a clean file was reported"
  failed=1
fi
exit "$failed"
