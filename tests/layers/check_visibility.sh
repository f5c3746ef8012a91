#!/usr/bin/env bash
# Shows that the compiler enforces the layer table: compiled with a module's own include
# directories, code sees exactly that module and the modules it may use, and an upward
# include fails to compile.
#
# Usage: check_visibility.sh <layers.txt> <src-dir> <include-dirs-dir> <include-root> \
#                            <work-dir> <c++> [<flags>...]
#   include-dirs-dir/<module>.txt: the include directories the module is compiled with
#   include-root: where the build keeps the modules' include directories (others are the
#                 system's and the third parties')
#
# 1. For every module, one probe asks __has_include for a header of every module and
#    expects "yes" exactly for itself and the modules it may use.
# 2. In x509's context, a source that includes x509/certificate.h compiles, and the same
#    source with an include of store/store.h (a module above x509) does not, for want of that
#    header. The first guards the second: the test cannot pass because the context is broken.
set -euo pipefail
table=$1
src=${2%/}
dirs=$3
root=$(realpath "$4")
work=$5
shift 5
cxx=$1
shift
flags=("$@")
# shellcheck source=tests/layers/table.sh
source "$(dirname "$0")/table.sh"
load_table "$table"
mkdir -p "$work"

errors=0
report() {
  echo "$*"
  errors=$((errors + 1))
}

# include_flags <module>: -I for each of the module's own include directories.
include_flags() {
  local dir
  while IFS= read -r dir; do
    [[ $dir == "$root"/* ]] && echo "-I$dir"
  done <"$dirs/$1.txt"
}

# A header of each module to look for.
declare -A probe_header=()
for m in "${modules[@]}"; do
  h=$(find "$src/$m" -maxdepth 1 -name '*.h' -printf '%f\n' | sort | head -n 1)
  [[ -n $h ]] && probe_header[$m]="$m/$h"
done

for m in "${modules[@]}"; do
  mapfile -t includes < <(include_flags "$m")
  reach=" $m $(closure "$m") "
  probe="$work/sees_$m.cc"
  : >"$probe"
  for other in "${modules[@]}"; do
    [[ -n ${probe_header[$other]:-} ]] || continue
    expected=0
    wrong="$m sees $other, which it may not use"
    if [[ $reach == *" $other "* ]]; then
      expected=1
      wrong="$m cannot see $other, which it may use"
    fi
    printf '#if __has_include("%s") != %d\n#error "%s"\n#endif\n' \
      "${probe_header[$other]}" "$expected" "$wrong" >>"$probe"
  done
  # Preprocessing alone answers __has_include; no system header is needed (-nostdinc).
  if ! out=$("$cxx" "${flags[@]}" -nostdinc "${includes[@]}" -E "$probe" -o /dev/null 2>&1); then
    report "$m: its include path does not match the layer table:"$'\n'"$out"
  fi
done

mapfile -t x509_includes < <(include_flags x509)
control="$work/x509_control.cc"
upward="$work/x509_upward.cc"
printf '#include "x509/certificate.h"\n' >"$control"
printf '#include "x509/certificate.h"\n#include "store/store.h"\n' >"$upward"
if ! out=$("$cxx" "${flags[@]}" "${x509_includes[@]}" -fsyntax-only "$control" 2>&1); then
  report "x509: a source including x509/certificate.h does not compile in x509's context:"$'\n'"$out"
fi
if out=$("$cxx" "${flags[@]}" "${x509_includes[@]}" -fsyntax-only "$upward" 2>&1); then
  report "x509: an include of store/store.h (upward) compiles in x509's context"
elif ! grep -Eq "store/store\.h.*(No such file|not found)" <<<"$out"; then
  report "x509: the upward include failed for another reason than a missing header:"$'\n'"$out"
fi

if ((errors)); then
  exit 1
fi
echo "layers: every module sees exactly its layer-table dependencies; upward includes fail"
