# The layer table, for the checks in this folder (sourced, not run).
# load_table <layers.txt>: fills `modules` (in table order) and `deps[<module>]` (what it links).
# closure <module>: prints every module it may use, directly or through what it links.

declare -a modules=()
declare -A deps=()

load_table() {
  local line m
  while IFS= read -r line; do
    [[ -z $line || $line == \#* ]] && continue
    m=${line%%:*}
    modules+=("$m")
    deps[$m]=${line#*:}
  done <"$1"
}

closure() {
  local -A seen=()
  local -a todo more
  local d
  read -ra todo <<<"${deps[$1]:-}"
  while ((${#todo[@]})); do
    d=${todo[0]}
    todo=("${todo[@]:1}")
    [[ -n ${seen[$d]:-} ]] && continue
    seen[$d]=1
    read -ra more <<<"${deps[$d]:-}"
    todo+=("${more[@]}")
  done
  echo "${!seen[@]}"
}

# is_module <name>: whether the table has it.
is_module() {
  [[ -n ${deps[$1]+set} ]]
}
