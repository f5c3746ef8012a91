#!/usr/bin/env bash
# Checks every include under a source tree against the layer table, and the table against
# DESIGN.md's layers ("Layers and folders": dependencies point downward only, no cycles).
#
# Usage: check_includes.sh <layers.txt> <src-dir>
#   layers.txt: "<module>: <modules it links>" lines, written by tests/layers/CMakeLists.txt
#   from src/CMakeLists.txt, the one place that says which module may use which.
#
# Fails, naming file and line, on:
# - an include of a module that is neither the file's own nor one its module may use (what
#   it links, directly or through what that links). The compiler refuses most of these too,
#   but a header is compiled with the include path of whoever includes it: a header in x509
#   included only from ca would compile with an include of store/;
# - an include of another module's private header (internal.h, *_internal.h, *_impl.h);
# - a dependency in src/CMakeLists.txt that points up DESIGN.md's layers, or a cycle;
# - std::mutex or std::condition_variable outside common/mutex.h: clang's thread-safety
#   analysis sees common::Mutex only, so a std one would escape it.
set -euo pipefail
table=$1
src=${2%/}
# shellcheck source=tests/layers/table.sh
source "$(dirname "$0")/table.sh"
load_table "$table"

# DESIGN.md "Layers and folders", lowest first. Folders on one line are one layer: the bounded
# contexts on top of store may use one another, as long as there is no cycle.
design_layers=(
  "common"
  "crypto"
  "x509"
  "store"
  "inventory ca policy audit auth"
  "issuers ssh"
  "lifecycle"
  "discovery reports"
  "http"
  "api"
  "protocols"
  "server"
  "cli"
)
declare -A rank=()
for i in "${!design_layers[@]}"; do
  for m in ${design_layers[$i]}; do rank[$m]=$i; done
done

errors=0
report() {
  echo "$*"
  errors=$((errors + 1))
}

# The table against DESIGN.md.
declare -A allowed=()
for m in "${modules[@]}"; do
  if [[ -z ${rank[$m]:-} ]]; then
    report "src/CMakeLists.txt: module '$m' is not among DESIGN.md's layers" \
      "(add it to design_layers in tests/layers/check_includes.sh where DESIGN.md puts it)"
  fi
  for d in ${deps[$m]}; do
    if [[ -n ${rank[$m]:-} && -n ${rank[$d]:-} ]] && ((rank[$d] > rank[$m])); then
      report "src/CMakeLists.txt: $m depends on $d, which DESIGN.md puts above it"
    fi
  done
  reach=" $(closure "$m") "
  if [[ $reach == *" $m "* ]]; then
    report "src/CMakeLists.txt: $m depends on itself (a cycle through:$reach)"
  fi
  allowed[$m]=" $m$reach"
done

# Every include under src/.
include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([a-z0-9_]+)/([^">]+)[">]'
while IFS= read -r -d '' file; do
  rel=${file#"$src"/}
  m=${rel%%/*}
  if ! is_module "$m"; then
    report "src/$rel: src/$m is not a module of src/CMakeLists.txt"
    continue
  fi
  n=0
  while IFS= read -r text || [[ -n $text ]]; do
    n=$((n + 1))
    [[ $text =~ $include_re ]] || continue
    top=${BASH_REMATCH[1]}
    header="$top/${BASH_REMATCH[2]}"
    is_module "$top" || continue
    [[ $top == "$m" ]] && continue
    if [[ ${allowed[$m]} != *" $top "* ]]; then
      report "src/$rel:$n: includes \"$header\", but $m may use only:${allowed[$m]% }"
    fi
    case ${header##*/} in
      internal.h | *_internal.h | *_impl.h)
        report "src/$rel:$n: includes \"$header\", which is private to src/$top"
        ;;
    esac
  done <"$file"
done < <(find "$src" -type f \( -name '*.h' -o -name '*.cc' \) -print0 | sort -z)

# Locks the analysis cannot see.
std_lock_re='std::(mutex|recursive_mutex|timed_mutex|shared_mutex|condition_variable|condition_variable_any|lock_guard|unique_lock|scoped_lock|shared_lock)([^a-z_]|$)'
while IFS= read -r -d '' file; do
  rel=${file#"$src"/}
  [[ $rel == common/mutex.h || $rel == common/thread_annotations.h ]] && continue
  n=0
  while IFS= read -r text || [[ -n $text ]]; do
    n=$((n + 1))
    code=${text%%//*}  # comments may name them
    if [[ $code =~ $std_lock_re ]]; then
      report "src/$rel:$n: ${BASH_REMATCH[0]%[^a-z_]}: use common::Mutex, MutexLock and CondVar" \
        "(common/mutex.h) so that clang checks the locking"
    fi
  done <"$file"
done < <(find "$src" -type f \( -name '*.h' -o -name '*.cc' \) -print0 | sort -z)

if ((errors)); then
  echo "$errors layering violation(s); see docs/development.md \"How the layers are enforced\""
  exit 1
fi
echo "layers: every include under $src follows $table"
