#!/usr/bin/env bash
# The Debian package as built, without installing it (CI runs this on its own host; the
# install, service and purge checks need a throwaway root: deb_test.sh). Checks the control
# data, the conffile, the maintainer scripts' syntax, every file the package must hold with its
# mode, the md5sums, and that the packaged binary runs, is stripped and reports the version the
# package carries.
#
#   bash tests/package/deb_contents_test.sh build/release/certward_<version>_amd64.deb
set -euo pipefail
deb=${1:?usage: deb_contents_test.sh PACKAGE.deb}
[[ -f $deb ]] || { echo "no such package: $deb" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

failures=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; failures=$((failures + 1)); }
check() {  # description, command...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}

root=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^project(certward VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")

dpkg-deb --field "$deb" >"$T/control"
field() { sed -n "s/^$1: //p" "$T/control"; }
[[ $(field Package) == certward ]] && ok "Package: certward" || bad "Package is '$(field Package)'"
[[ $(field Version) == "$version" ]] && ok "Version: $version" || bad "Version '$(field Version)' is not $version"
[[ $(field Architecture) == "$(dpkg --print-architecture)" ]] && ok "Architecture" || bad "Architecture '$(field Architecture)'"
depends=$(field Depends)
for dep in adduser procps libssl3 libsqlite3-0 libpq5; do
  [[ $depends == *"$dep"* ]] && ok "Depends on $dep" || bad "Depends lacks $dep: $depends"
done

dpkg-deb --control "$deb" "$T/DEBIAN"
[[ $(cat "$T/DEBIAN/conffiles") == /etc/certward/certward.toml ]] && ok "the configuration is the one conffile" ||
  bad "conffiles: $(cat "$T/DEBIAN/conffiles")"
for script in postinst prerm postrm; do
  if [[ -x $T/DEBIAN/$script ]] && sh -n "$T/DEBIAN/$script"; then
    ok "$script is executable and parses"
  else
    bad "$script is missing, not executable or does not parse"
  fi
done

# Every path the package must hold, with its mode; nothing world-writable.
dpkg-deb --contents "$deb" | awk '{ print $1, $6 }' >"$T/contents"
want() {  # mode path
  grep -qxF -- "$1 ./$2" "$T/contents" && ok "$1 /$2" || bad "/$2 missing or not $1: $(grep -F -- "./$2" "$T/contents" || true)"
}
want -rwxr-xr-x usr/bin/certward
want -rw-r----- etc/certward/certward.toml
want -rw-r--r-- lib/systemd/system/certward.service
want -rw-r--r-- usr/share/bash-completion/completions/certward
want -rw-r--r-- usr/share/man/man1/certward.1.gz
want -rw-r--r-- usr/share/man/man1/certward-backup.1.gz
want -rw-r--r-- usr/share/doc/certward/copyright
want -rw-r--r-- usr/share/doc/certward/NOTICE
want -rw-r--r-- usr/share/doc/certward/docs/operations.md
if awk '{ print $1 }' "$T/contents" | grep -q '^.......w'; then
  bad "world-writable entries: $(awk '$1 ~ /^.......w/' "$T/contents")"
else
  ok "nothing in the package is world-writable"
fi

# The files match their md5sums, and the binary runs as the version packaged.
dpkg-deb --extract "$deb" "$T/root"
(cd "$T/root" && md5sum --quiet -c "$T/DEBIAN/md5sums") && ok "md5sums match" || bad "md5sums do not match"
reported=$("$T/root/usr/bin/certward" --version)
[[ $reported == "certward $version (schema "*")" ]] && ok "the packaged binary reports $reported" ||
  bad "the packaged binary reports '$reported', not certward $version"
if readelf -S "$T/root/usr/bin/certward" | grep -q '\.debug_info'; then
  bad "the packaged binary is not stripped"
else
  ok "the packaged binary is stripped"
fi
# One man page per command the binary has.
commands=$("$T/root/usr/bin/certward" --help | awk '/^Subcommands:/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { exit }')
missing=""
for c in $commands; do
  [[ -f $T/root/usr/share/man/man1/certward-$c.1.gz ]] || missing+=" $c"
done
[[ -n $commands && -z $missing ]] && ok "a man page for each of the $(wc -w <<<"$commands") commands" ||
  bad "man pages missing for:${missing:- (no commands read from --help)}"

echo
if ((failures)); then
  echo "$failures failed"
  exit 1
fi
echo "all passed"
