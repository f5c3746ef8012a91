#!/usr/bin/env bash
# The Debian package on a pristine Debian 12 system, as root, without systemd running:
# install with apt (dependencies resolved), then check the user, modes, conffile, man pages and
# bash completion; run the installed unit's ExecStart as its User, reach both listeners and the
# API with the admin token it prints, stop it with SIGTERM; purge (data kept), and purge with
# the data (CERTWARD_PURGE_DATA=1, then the marker file).
#
#   bash tests/package/deb_test.sh [certward_<version>_amd64.deb]
#
# Without an argument it builds the package first (scripts/setup.sh, scripts/package.sh).
# It changes the system it runs on: run it in a throwaway root (docs/development.md).
set -euo pipefail
[[ $(id -u) == 0 ]] || { echo "deb_test: run as root, in a throwaway Debian 12 root" >&2; exit 2; }
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

deb=${1:-}
if [[ -z $deb ]]; then
  bash scripts/setup.sh >/dev/null
  deb=$(bash scripts/package.sh | tail -n 1)
fi
deb=$(realpath "$deb")

failures=0
ok() { echo "ok - $*"; }
not_ok() {
  echo "FAIL - $*"
  failures=$((failures + 1))
}
check() {  # description command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
check_eq() {  # description expected actual
  if [[ $2 == "$3" ]]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi
}
mode_owner() { stat -c '%a %U:%G' "$1" 2>/dev/null || echo missing; }

T=$(mktemp -d)
server=
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

# --- Install --------------------------------------------------------------------------------
# An installed system's / is 0755. A root made in a fresh temporary directory can be 0700, where
# no user but root could run anything.
if [[ $(stat -c %a /) != 755 ]]; then
  echo "# / is $(stat -c %a /): made 0755, as on an installed system"
  chmod 0755 /
fi
apt-get update -qq
# The test's own tools, not the package's dependencies: curl, man-db, and systemd for
# systemd-analyze (installed, not running: the maintainer scripts still must not call systemctl,
# but deb-systemd-helper is there to record the unit's state).
apt-get install -y -qq curl man-db systemd >"$T/apt.log" 2>&1 || { cat "$T/apt.log"; exit 1; }
apt-get install -y -qq "$deb" >"$T/apt.log" 2>&1 || { cat "$T/apt.log"; exit 1; }
check_eq "installed" "install ok installed" "$(dpkg-query -W -f '${Status}' certward)"
check "/usr/bin/certward runs" /usr/bin/certward --version

# --- The user, the data directory, the configuration ------------------------------------------
check_eq "certward user: system user, home /var/lib/certward, no login shell" \
  "/var/lib/certward:/usr/sbin/nologin" "$(getent passwd certward | cut -d: -f6,7)"
check "certward group" bash -c 'getent group certward >/dev/null'
uid=$(id -u certward)
if ((uid < 1000)); then ok "certward is a system uid ($uid)"; else not_ok "certward uid $uid"; fi
check_eq "/var/lib/certward" "700 certward:certward" "$(mode_owner /var/lib/certward)"
check_eq "/etc/certward" "750 root:certward" "$(mode_owner /etc/certward)"
check_eq "/etc/certward/certward.toml" "640 root:certward" "$(mode_owner /etc/certward/certward.toml)"
conffiles=$(dpkg-query --showformat='${Conffiles}\n' --show certward)
check "certward.toml is a conffile" grep -q '^ /etc/certward/certward.toml ' <<<"$conffiles"
check "the data directory is not the package's (a purge cannot remove it)" \
  bash -c '! dpkg -L certward | grep -q "^/var/lib"'
check_eq "/lib/systemd/system/certward.service" "644 root:root" \
  "$(mode_owner /lib/systemd/system/certward.service)"
check "the unit's state is recorded (deb-systemd-helper)" \
  test -e /var/lib/systemd/deb-systemd-helper-enabled/certward.service.dsh-also
check "the service is not enabled on install" \
  test ! -e /etc/systemd/system/multi-user.target.wants/certward.service
depends=$(dpkg-query --showformat='${Depends}' --show certward)
for lib in adduser procps libssl3 libsqlite3-0 libpq5 libcurl4 libc6; do
  check "Depends names $lib" grep -q "$lib" <<<"$depends"
done
check "the binary is stripped" bash -c '! grep -q "\.debug_info" /usr/bin/certward'
check "docs: README, copyright, NOTICE, changelog, configuration" test -f \
  /usr/share/doc/certward/README.md -a -f /usr/share/doc/certward/copyright -a \
  -f /usr/share/doc/certward/NOTICE -a -f /usr/share/doc/certward/CHANGELOG.md -a \
  -f /usr/share/doc/certward/docs/configuration.md

# --- Man pages --------------------------------------------------------------------------------
# One page per command that --help lists, and certward(1).
commands=$(/usr/bin/certward --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
check "--help lists commands" test -n "$commands"
check_eq "man -w certward" /usr/share/man/man1/certward.1.gz "$(man -w certward 2>&1)"
missing=""
for c in $commands; do
  [[ -f /usr/share/man/man1/certward-$c.1.gz ]] || missing+=" $c"
done
check_eq "a man page for every command" "" "$missing"
warnings=""
for page in /usr/share/man/man1/certward*.1.gz; do
  MANWIDTH=100 man --warnings -E UTF-8 -l "$page" >"$T/page.txt" 2>"$T/warn.txt" || true
  [[ -s $T/warn.txt ]] && warnings+=" $(basename "$page"): $(head -c 200 "$T/warn.txt")"
done
check_eq "man pages render without groff warnings" "" "$warnings"
MANWIDTH=100 man -l /usr/share/man/man1/certward-serve.1.gz >"$T/serve.txt" 2>/dev/null
check "certward-serve(1) shows the command" grep -q 'certward serve' "$T/serve.txt"
check "certward-serve(1) shows the exit codes" grep -q 'Exit *codes' "$T/serve.txt"
check "certward(1) shows the global options" \
  bash -c "MANWIDTH=100 man -l /usr/share/man/man1/certward.1.gz 2>/dev/null | grep -q -- '--config'"

# --- Bash completion --------------------------------------------------------------------------
completion=/usr/share/bash-completion/completions/certward
complete_words() {  # the words after `certward`, the last one being completed
  bash -c 'source "$1" || exit 1; shift
    COMP_WORDS=(certward "$@"); COMP_CWORD=$(($# )); _certward; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$completion" "$@"
}
check "the completion script sources without error" \
  bash -c "source $completion 2>&1 && complete -p certward >/dev/null && test -z \"\$(source $completion 2>&1)\""
check "completes commands" grep -qx serve <(complete_words se)
check "completes subcommands" grep -qx create <(complete_words ca cr)
check "completes options of a subcommand" grep -qx -- --profile <(complete_words issue --pro)
check "completes global options after a command" grep -qx -- --config <(complete_words ca list --con)
check "an option's value is a file name" grep -qx /etc/certward <(complete_words -c /etc/certw)

# --- The service: the installed unit's ExecStart, as its User ----------------------------------
unit=/lib/systemd/system/certward.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
check_eq "the unit runs as certward" certward "$user"
check_eq "systemd-analyze verify: no complaint" "" "$(systemd-analyze verify "$unit" 2>&1)"
echo "# $(systemd-analyze security --offline=yes "$unit" 2>&1 | tail -n 1)"
read -r -a argv <<<"$exec_start"
check_eq "ExecStart" "/usr/bin/certward --config /etc/certward/certward.toml serve" "${argv[*]}"
# The configured ports (8443, 8080) when free; the network is the host's, where they may not be.
env_ports=()
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_taken 8443 || port_taken 8080; then
  env_ports=(CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0)
  echo "# 8443 or 8080 is in use: the service listens on free ports instead"
fi
(cd / && exec runuser -u "$user" -- env "${env_ports[@]}" "${argv[@]}" >"$T/out" 2>"$T/log") &
server=$!
for ((i = 0; i < 600; i++)); do
  grep -q '^certward is serving' "$T/out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '^certward is serving' "$T/out"; then
  not_ok "the service starts"
  cat "$T/out" "$T/log"
  exit 1
fi
ok "the service starts"
https_base=$(sed -n 's|^  REST API: *\(https://[^/ ]*\)/api/v1.*|\1|p' "$T/out")
http_base=$(sed -n 's|^  plain HTTP: *\(http://[^/ ]*\)/healthz.*|\1|p' "$T/out")
echo "# listening on $https_base and $http_base"
# runuser forks the command; SIGTERM goes to the server itself (runuser would SIGKILL it if
# it took longer than two seconds to stop).
pid=""
[[ $(cat "/proc/$server/comm") == certward ]] && pid=$server
for p in /proc/[0-9]*; do
  if [[ $(cat "$p/comm" 2>/dev/null) == certward ]] &&
    [[ $(cut -d' ' -f4 "$p/stat" 2>/dev/null) == "$server" ]]; then
    pid=${p#/proc/}
  fi
done
[[ -n $pid ]] || { not_ok "the server process is found"; exit 1; }
check_eq "the server runs as certward" "$uid" "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")"
token=$(grep -o 'cwt_[A-Za-z0-9_-]*' "$T/out" | head -n 1)
check "the first start prints an admin token" test -n "$token"
check_eq "the data directory after the first start" "700 certward:certward" \
  "$(mode_owner /var/lib/certward)"
check_eq "master.key" "600 certward:certward" "$(mode_owner /var/lib/certward/master.key)"
check_eq "plain HTTP /healthz" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "$http_base/healthz")"
curl -sf -o "$T/root.pem" "$http_base/ca/root.pem"
check_eq "HTTPS /healthz with -k" 200 \
  "$(curl -sk -o /dev/null -w '%{http_code}' "$https_base/healthz")"
check_eq "HTTPS verified against the root from the plain-HTTP listener" 200 \
  "$(curl -s --cacert "$T/root.pem" -o /dev/null -w '%{http_code}' "$https_base/healthz")"
curl -s --cacert "$T/root.pem" -H "Authorization: Bearer $token" -o "$T/whoami" \
  -w '%{http_code}' "$https_base/api/v1/whoami" >"$T/code"
check_eq "the admin token authenticates (GET /api/v1/whoami)" 200 "$(cat "$T/code")"
check "whoami names the admin" grep -q '"admin"' "$T/whoami"
check_eq "no token: 401" 401 \
  "$(curl -s --cacert "$T/root.pem" -o /dev/null -w '%{http_code}' "$https_base/api/v1/whoami")"
kill -TERM "$pid"
rc=0
wait "$server" || rc=$?
server=
check_eq "SIGTERM stops it cleanly" 0 "$rc"
check "it logs stopped" grep -q '"event":"stopped"' "$T/log"

# --- Purge: the data stays --------------------------------------------------------------------
dpkg --purge certward >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; exit 1; }
check "purged" bash -c '! dpkg-query -W certward 2>/dev/null | grep -q .'
check "the binary is gone" test ! -e /usr/bin/certward
check "the unit is gone" test ! -e "$unit"
check "the man pages are gone" test ! -e /usr/share/man/man1/certward.1.gz
check "/etc/certward is gone" test ! -e /etc/certward
check "no enablement state is left" \
  test ! -e /var/lib/systemd/deb-systemd-helper-enabled/certward.service.dsh-also
check "the user is gone" bash -c '! getent passwd certward'
check "the group is gone" bash -c '! getent group certward'
check "/var/lib/certward is kept, with the master key" test -f /var/lib/certward/master.key
check "the purge says where the data is" grep -q 'kept /var/lib/certward' "$T/purge.log"

# --- Install again: the kept data is certward's again; purge with the data ----------------------
# The removed user's number now belongs to someone else, the case a plain reinstall would hide
# (adduser would give certward its old number back).
useradd --system --no-create-home --uid "$uid" cw-newcomer
apt-get install -y -qq "$deb" >"$T/apt.log" 2>&1 || { cat "$T/apt.log"; exit 1; }
check "reinstalled: certward has a new number" test "$(id -u certward)" != "$uid"
check_eq "reinstalled: the kept data belongs to the new certward user" \
  "certward:certward certward:certward" \
  "$(stat -c '%U:%G' /var/lib/certward) $(stat -c '%U:%G' /var/lib/certward/master.key)"
userdel cw-newcomer
CERTWARD_PURGE_DATA=1 dpkg --purge certward >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; exit 1; }
check "CERTWARD_PURGE_DATA=1: /var/lib/certward is removed" test ! -e /var/lib/certward

apt-get install -y -qq "$deb" >"$T/apt.log" 2>&1 || { cat "$T/apt.log"; exit 1; }
check_eq "a fresh install makes a new data directory" "700 certward:certward" \
  "$(mode_owner /var/lib/certward)"
touch /etc/certward/purge-data
dpkg --purge certward >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; exit 1; }
check "/etc/certward/purge-data: /var/lib/certward is removed" test ! -e /var/lib/certward
check "and /etc/certward" test ! -e /etc/certward

if ((failures)); then
  echo "deb_test: $failures check(s) failed"
  exit 1
fi
echo "deb_test: all checks passed"
