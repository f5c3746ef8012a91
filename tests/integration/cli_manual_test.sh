#!/usr/bin/env bash
# The man pages and the bash completion that `certward manual` and `certward completion bash`
# generate (for the Debian package) against what the parser itself answers with --help: a page
# for every command, every command and option of the tree in its page, pages groff reads
# without a warning, and completions of commands and options at every level.
source "$(dirname "$0")/lib.sh"

# Every command path below the root ("ca", "ca create", ...), from the --help of each.
subcommands_of() {  # path words...
  cw "$@" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF {print $1}'
}
# The long options --help lists for a command path.
long_options_of() {
  cw "$@" --help | sed -n '/^Options:/,/^$/p' | grep -oE '^  (-[A-Za-z0-9],)?--[A-Za-z0-9-]+' |
    sed 's/.*--/--/'
}
walk() {
  local sub
  for sub in $(subcommands_of "$@"); do
    echo "$* $sub" | sed 's/^ //'
    walk "$@" "$sub"
  done
}
walk >"$T/paths"
top=$(subcommands_of)
assert_eq 1 "$( (($(wc -l <"$T/paths") > 50)) && echo 1 || echo 0)" "the command tree has its commands"

# --- Man pages --------------------------------------------------------------------------------
cw manual --man-dir "$T/man" --source "certward test"
expected=$(for c in certward $(printf 'certward-%s\n' $top); do echo "$c.1"; done | sort)
assert_eq "$expected" "$(ls "$T/man" | sort)" "one page per top-level command, and certward.1"
for page in "$T"/man/*.1; do
  warnings=$(groff -man -ww -z "$page" 2>&1)
  assert_eq "" "$warnings" "groff warnings in $(basename "$page")"
  # Every request is one the generator writes: a text line starting with '.' or "'" would have
  # been read as a request.
  bad=$(grep -vE '^(\.(TH|SH|SS|TP|PP) |\.(SH|SS|TP|PP)$|[^.'"'"'])' "$page" | grep -v '^$' || true)
  assert_eq "" "$bad" "unexpected control lines in $(basename "$page")"
  groff -man -Tascii -P-cbou "$page" >"${page%.1}.txt" 2>/dev/null
done
for section in SYNOPSIS DESCRIPTION 'GLOBAL OPTIONS' COMMANDS 'EXIT STATUS' 'SEE ALSO'; do
  grep -q "^$section\$" "$T/man/certward.txt" && pass || fail "certward.1 lacks $section"
done
grep -q 'Exit *codes: *0 *ok' "$T/man/certward.txt" && pass || fail "certward.1: the exit codes"
for opt in $(long_options_of); do
  grep -q -- "$opt" "$T/man/certward.txt" && pass || fail "certward.1 lacks global option $opt"
done
while read -r path; do
  first=${path%% *}
  page="$T/man/certward-$first.txt"
  # Headings run on one line: "certward ca create".
  grep -q -- "^ *certward $path\$" "$page" && pass || fail "certward-$first.1 lacks 'certward $path'"
  read -r -a words <<<"$path"
  for opt in $(long_options_of "${words[@]}" | grep -vx -- --help); do
    grep -q -- "$opt" "$page" && pass || fail "certward-$first.1 lacks $opt of '$path'"
  done
done <"$T/paths"
# Hidden commands stay hidden.
if grep -q -e '--man-dir' -e 'completion *bash' "$T"/man/*.txt; then
  fail "hidden commands in the manual"
else
  pass
fi
# Text that roff would otherwise read as escapes or requests comes out as written: the hyphens
# and the footer's text survive, and a backslash-free source gives a backslash-free page.
grep -q 'e\.g\. https://127\.0\.0\.1:8443' "$T/man/certward.txt" && pass ||
  fail "certward.1: option text with dots and colons"

# --- Bash completion --------------------------------------------------------------------------
cw completion bash >"$T/certward.bash"
bash -n "$T/certward.bash" && pass || fail "completion script: syntax"
complete_words() {  # the words after `certward`, the last one being completed
  bash -c 'source "$1" || exit 1; shift
    COMP_WORDS=(certward "$@"); COMP_CWORD=$#; _certward; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$T/certward.bash" "$@"
}
assert_eq "$(sort <<<"$top")" "$(complete_words "" | sort)" "top-level commands"
while read -r path; do
  read -r -a words <<<"$path"
  subs=$(subcommands_of "${words[@]}")
  if [[ -n $subs ]]; then
    assert_eq "$(sort <<<"$subs")" "$(complete_words "${words[@]}" "" | sort)" "commands of '$path'"
  fi
done <"$T/paths"
assert_eq "--profile" "$(complete_words issue --prof)" "an option of issue"
assert_eq "--config" "$(complete_words ca list --conf)" "a global option after commands"
# Option values are skipped when finding the command: `-c FILE ca` is the ca command.
assert_eq "create" "$(complete_words -c "$T/x.toml" ca crea)" "after a global option's value"
assert_eq "--json" "$(complete_words --json ca list --js)" "after a flag"
touch "$T/conf.toml"
assert_eq "$T/conf.toml" "$(complete_words --config "$T/conf.")" "an option's value: file names"

finish
