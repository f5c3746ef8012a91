#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#
#   pg-test-server.sh start <dir>   initdb a cluster in <dir>, start it on 127.0.0.1 on a free
#                                   port, create database certward_test, print its URL
#   pg-test-server.sh stop <dir>    stop the cluster started in <dir> (its own pid file)
#
# Trust authentication, loopback and the unix socket in <dir> only. fsync stays on: certward
# refuses a server without it, and its durability tests must run against real commits. The
# server default synchronous_commit is off on purpose, the misconfiguration certward must
# override in every session (and full_page_writes is off, for speed: the data is thrown away).
# Runs the server as the `postgres` OS user when invoked as root (PostgreSQL refuses to run as
# root). PG_BINDIR overrides the binary directory.
set -euo pipefail

die() { echo "pg-test-server: $*" >&2; exit 1; }

bindir() {
  if [[ -n "${PG_BINDIR:-}" ]]; then echo "$PG_BINDIR"; return; fi
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -x "$d/initdb" ]] || die "no PostgreSQL found under /usr/lib/postgresql (set PG_BINDIR)"
  echo "$d"
}

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local dir=$1 bin port
  bin=$(bindir)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ -e "$dir/data" ]] && die "$dir/data already exists"
  if [[ $(id -u) -eq 0 ]]; then
    # PostgreSQL refuses to run as root, so it runs as `postgres`, which must be able to
    # traverse "/". A stock Debian root is 0755; a root made with mktemp -d (a bare chroot)
    # is 0700, which locks every other user out of every program.
    if [[ $(( 0$(stat -c %a /) & 05 )) -ne 5 ]]; then
      echo "pg-test-server: / is mode $(stat -c %a /); making it traversable (0755) for the postgres user" >&2
      chmod go+rx /
    fi
    chown postgres: "$dir"
    runuser -u postgres -- test -w "$dir" || die "user postgres cannot write $dir (check parent directory permissions)"
  fi
  chmod 700 "$dir"

  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || die "initdb failed; see $dir/initdb.log"
  cat >"$dir/data/pg_hba.conf" <<'HBA'
local all all              trust
host  all all 127.0.0.1/32 trust
HBA

  # Another process may take a port between the check and the bind; then try another one.
  for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" && continue
    if as_pg "$bin/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c full_page_writes=off" \
        >/dev/null 2>&1; then
      echo "$port" >"$dir/port"
      as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres certward_test \
        || die "createdb failed"
      echo "postgresql://postgres@127.0.0.1:$port/certward_test"
      return 0
    fi
  done
  die "could not start PostgreSQL; see $dir/postgres.log"
}

stop() {
  local dir=$1
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  as_pg "$(bindir)/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 >/dev/null
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || die "usage: $0 start <dir>"; start "$2" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop <dir>"; stop "$2" ;;
  *) die "usage: $0 start|stop <dir>" ;;
esac
