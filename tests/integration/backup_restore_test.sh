#!/usr/bin/env bash
# certward backup and restore. A backup taken while the server issues over REST from four
# clients holds every certificate handed out before the backup began, restores into a new
# data directory with an intact audit chain (the configured master key, or the one the backup
# carries under its passphrase), and the restored deployment issues certificates that chain
# to the old root. Hostile and mistaken restores are refused with nothing written.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
cat >"$T/certward.toml" <<TOML
# the configuration file a backup carries
data_dir = "$CERTWARD_DATA_DIR"
TOML
start_server
A=$ADMIN_TOKEN
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
  -subj "/CN=load.example.test" -out "$T/load.csr" 2>/dev/null
jq -n --rawfile csr "$T/load.csr" \
  '{profile: "tls-server", csr: $csr, sans: ["dns:load.example.test"]}' >"$T/body.json"

# Each loader appends a certificate's fingerprint once the server has answered 201 for it.
loader() {
  local n=$1 code
  while [[ ! -e $T/stop ]]; do
    code=$(curl -s -o "$T/resp.$n" -w '%{http_code}' --cacert "$T/root.pem" -X POST \
      -H "Authorization: Bearer $A" -H 'Content-Type: application/json' \
      --data-binary "@$T/body.json" "$BASE/api/v1/certificates") || continue
    [[ $code == 201 ]] && jq -r .fingerprint "$T/resp.$n" >>"$T/issued.$n"
  done
}
for n in 1 2 3 4; do
  : >"$T/issued.$n"
  loader "$n" &
  CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $!"
done
wait_until 60 bash -c "[[ \$(cat $T/issued.* | wc -l) -ge 40 ]]" || fail "the loaders issued too little"

# What the clients had been given when the backup began.
cat "$T"/issued.* | sort -u >"$T/before.txt"
CERTWARD_BACKUP_PASSPHRASE='a long passphrase for the key' \
  cw --config "$T/certward.toml" backup --include-master-key --json "$T/with-key.cwb" >"$T/b1.json"
assert_eq 0 $? "backup under load"
cw backup --json "$T/plain.cwb" >"$T/b2.json"
# The load goes on a moment after the backup, then stops.
sleep 1
touch "$T/stop"
for pid in $CW_BACKGROUND_PIDS; do [[ $pid == "$SERVER_PID" ]] || wait "$pid" 2>/dev/null || true; done
cat "$T"/issued.* | sort -u >"$T/all.txt"
before=$(wc -l <"$T/before.txt")
after=$(wc -l <"$T/all.txt")
[[ $after -gt $before ]] && pass || fail "no certificate issued after the backup began ($before, $after)"
echo "issued before the backup: $before; in all: $after"

assert_eq "$(stat -c %a "$T/with-key.cwb")" 600 "backup file mode"
[[ ! -e $T/with-key.cwb.partial ]] && pass || fail "partial file left behind"
assert_eq true "$(jq -r .master_key_included "$T/b1.json")" "master key included"
assert_eq false "$(jq -r .master_key_included "$T/b2.json")" "master key not included"
# The key travels only sealed: its base64 text is nowhere in the backup.
key_b64=$(tr -d '\n' <"$CERTWARD_DATA_DIR/master.key")
if grep -qaF "$key_b64" "$T/with-key.cwb" "$T/plain.cwb"; then fail "master key in clear in a backup"; else pass; fi
if grep -qaF 'a long passphrase' "$T/with-key.cwb"; then fail "passphrase in the backup"; else pass; fi
# Taking a backup is audited in the live chain.
cw audit list --action backup.create --json >"$T/ev.json"
assert_eq 2 "$(jq '.items | length' "$T/ev.json")" "backup.create events"
stop_server

# Restore 1: the backup that carries the key, into a directory with no key at all.
R1=$T/restored-key
assert_exit 3 "wrong passphrase" env CERTWARD_BACKUP_PASSPHRASE='not the passphrase at all' \
  "$CERTWARD_BIN" -d "$R1" restore "$T/with-key.cwb"
[[ ! -e $R1 ]] && pass || fail "a refused restore left $R1 behind"
CERTWARD_BACKUP_PASSPHRASE='a long passphrase for the key' \
  cw -d "$R1" restore --json --write-config "$T/restored.toml" "$T/with-key.cwb" >"$T/r1.json"
assert_eq 0 $? "restore with the carried key"
assert_eq restored "$(jq -r .master_key "$T/r1.json")" "master key restored"
assert_eq 600 "$(stat -c %a "$R1/master.key")" "restored key mode"
assert_eq 700 "$(stat -c %a "$R1")" "restored data directory mode"
cmp -s "$CERTWARD_DATA_DIR/master.key" "$R1/master.key" && pass || fail "restored key differs"
cmp -s "$T/certward.toml" "$T/restored.toml" && pass || fail "restored configuration differs"

# Every certificate handed out before the backup began is in it, as issued.
cw -d "$R1" cert list --limit 1000 --json | jq -r '.items[].fingerprint' | sort -u >"$T/r1.txt"
missing=$(comm -23 "$T/before.txt" "$T/r1.txt" | wc -l)
assert_eq 0 "$missing" "certificates issued before the backup and missing from it"
cw -d "$R1" audit verify >"$T/v1.txt" && pass || fail "restored audit chain: $(cat "$T/v1.txt")"
cw -d "$R1" audit list --action backup.restore --json >"$T/ev1.json"
assert_eq 1 "$(jq '.items | length' "$T/ev1.json")" "restore audited in the restored chain"
# The restored authorities still sign, under the old root.
cw -d "$R1" issue --profile tls-server --csr "$T/load.csr" --san dns:load.example.test \
  --out-cert "$T/new.pem" >/dev/null
cw -d "$R1" ca export issuing >"$T/issuing.pem"
if openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/new.pem" >/dev/null; then
  pass
else
  fail "a certificate from the restored CA does not chain to the old root"
fi

# Restore 2: the backup without the key, into a directory that has the original key.
R2=$T/restored-plain
assert_exit 4 "no key anywhere" "$CERTWARD_BIN" -d "$R2" restore "$T/plain.cwb"
mkdir -m 700 "$R2"
openssl rand -base64 32 >"$R2/master.key"
chmod 600 "$R2/master.key"
assert_exit 3 "another master key" "$CERTWARD_BIN" -d "$R2" restore "$T/plain.cwb"
[[ ! -e $R2/certward.db ]] && pass || fail "restored under the wrong key"
cp "$CERTWARD_DATA_DIR/master.key" "$R2/master.key"
# A read in a directory that has a key but no database yet says so and creates nothing (it
# used to leave an empty database there, which a restore then refused to replace).
assert_fails 4 not_found "audit verify with no database" "$CERTWARD_BIN" -d "$R2" audit verify
assert_fails 4 not_found "cert list with no database" "$CERTWARD_BIN" -d "$R2" cert list
[[ ! -e $R2/certward.db ]] && pass || fail "a read created a database"
# An empty (truncated) database file is not an empty deployment: refused, left at 0 bytes.
: >"$R2/certward.db"
chmod 600 "$R2/certward.db"
assert_exit 4 "audit verify on a 0-byte database" "$CERTWARD_BIN" -d "$R2" audit verify
assert_eq 0 "$(stat -c %s "$R2/certward.db")" "the 0-byte database is left as it was"
rm "$R2/certward.db"
# A database path that cannot be looked at is an error of its own, not "no database".
ln -s certward.db "$R2/certward.db"
assert_exit 7 "a database path that loops" "$CERTWARD_BIN" -d "$R2" audit verify
rm "$R2/certward.db"
cw -d "$R2" restore --json "$T/plain.cwb" >"$T/r2.json"
assert_eq existing "$(jq -r .master_key "$T/r2.json")" "existing master key used"
cw -d "$R2" audit verify >/dev/null && pass || fail "restored audit chain (plain)"

# Restore never replaces a database.
assert_exit 5 "restore over a database" "$CERTWARD_BIN" -d "$R2" restore "$T/plain.cwb"
# A backup that cannot be audited (the live database's writer held past the busy timeout) is
# not published: no file, and the command fails.
python3 - "$CERTWARD_DATA_DIR/certward.db" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[1] + ".held", "w").close()
time.sleep(20)
PY
holder=$!
wait_until 10 test -e "$CERTWARD_DATA_DIR/certward.db.held"
rc=0
cw backup "$T/unaudited.cwb" >/dev/null 2>"$T/err" || rc=$?
assert_eq 7 "$rc" "a backup that could not be audited"
[[ ! -e $T/unaudited.cwb ]] && pass || fail "an unaudited backup was published"
ls "$T" | grep -q '^unaudited.cwb.partial' && fail "a partial file was left" || pass
wait "$holder" || true
rm -f "$CERTWARD_DATA_DIR/certward.db.held"
# Nor does a backup replace a file.
assert_exit 5 "backup over a file" "$CERTWARD_BIN" backup "$T/plain.cwb"
assert_exit 3 "short passphrase" env CERTWARD_BACKUP_PASSPHRASE=short \
  "$CERTWARD_BIN" backup --include-master-key "$T/short.cwb"
assert_exit 3 "no passphrase" "$CERTWARD_BIN" backup --include-master-key "$T/none.cwb"
[[ ! -e $T/short.cwb && ! -e $T/none.cwb ]] && pass || fail "refused backups left files"

# Hostile backups: garbage, truncated, a SQLite file that is not a backup, an altered audit
# row, a schema row from the future. Each is refused; the target directory stays empty. The
# edits are caught by the seal over the content (exit 3) before the audit chain or the schema
# is even looked at; a chain that is merely older than one's checkpoint exits 8 (below).
hostile() {  # exit-code message file
  local dir=$T/hostile
  rm -rf "$dir"
  mkdir -m 700 "$dir"
  cp "$CERTWARD_DATA_DIR/master.key" "$dir/master.key"
  assert_exit "$1" "$2" "$CERTWARD_BIN" -d "$dir" restore "$3"
  assert_eq "master.key" "$(ls "$dir")" "$2: nothing written"
}
head -c 5000 /dev/urandom >"$T/garbage.cwb"
hostile 3 "garbage" "$T/garbage.cwb"
head -c 20000 "$T/plain.cwb" >"$T/truncated.cwb"
hostile 3 "truncated" "$T/truncated.cwb"
sqlite3 "$T/other.db" 'CREATE TABLE t (x); INSERT INTO t VALUES (1);'
hostile 3 "a SQLite file that is not a backup" "$T/other.db"
cp "$T/plain.cwb" "$T/altered.cwb"
sqlite3 "$T/altered.cwb" "UPDATE audit_events SET actor = 'someone else' WHERE seq = 2"
hostile 3 "altered audit event" "$T/altered.cwb"
cp "$T/plain.cwb" "$T/tail.cwb"
sqlite3 "$T/tail.cwb" "DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)"
hostile 3 "audit tail removed" "$T/tail.cwb"
cp "$T/plain.cwb" "$T/newer.cwb"
sqlite3 "$T/newer.cwb" "INSERT INTO schema_migrations VALUES ('ca', 9999, 'future', 0)"
hostile 3 "a schema row from the future" "$T/newer.cwb"
cp "$T/plain.cwb" "$T/nocheck.cwb"
sqlite3 "$T/nocheck.cwb" "DELETE FROM certward_backup WHERE name = 'key_check'"
hostile 3 "no key check" "$T/nocheck.cwb"
# Anything else changed without the master key: a token planted for a principal, a trigger,
# the configuration the backup would write, or the MAC itself removed.
cp "$T/plain.cwb" "$T/token.cwb"
planted=$(printf 'cwt_planted' | sha256sum | cut -d' ' -f1)
assert_eq 1 "$(sqlite3 "$T/token.cwb" "UPDATE tokens SET hash = '$planted'; SELECT changes()")" \
  "token hash replaced in the copy"
hostile 3 "a token hash replaced" "$T/token.cwb"
cp "$T/plain.cwb" "$T/trigger.cwb"
sqlite3 "$T/trigger.cwb" "CREATE TRIGGER planted AFTER INSERT ON audit_events BEGIN DELETE FROM audit_events; END"
hostile 3 "a planted trigger" "$T/trigger.cwb"
cp "$T/with-key.cwb" "$T/config.cwb"
sqlite3 "$T/config.cwb" "UPDATE certward_backup SET value = 'data_dir = \"/elsewhere\"' WHERE name = 'config'"
hostile 3 "a changed configuration" "$T/config.cwb"
cp "$T/plain.cwb" "$T/nomac.cwb"
sqlite3 "$T/nomac.cwb" "DELETE FROM certward_backup WHERE name = 'content_mac'"
hostile 3 "no content MAC" "$T/nomac.cwb"
hostile 4 "no such file" "$T/absent.cwb"

# An index altered in the file but not its table: the digest covers rows, so the seal still
# opens; restore rebuilds every index from its table before it trusts either, so a token that
# only the altered index would find finds nothing.
cp "$T/plain.cwb" "$T/index.cwb"
python3 - "$T/index.cwb" "$T/index.token" <<'PY'
import hashlib, sqlite3, sys
path, token_out = sys.argv[1], sys.argv[2]
db = sqlite3.connect(path)
tid, h = db.execute("SELECT id, hash FROM tokens LIMIT 1").fetchone()
root = db.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tokens' "
                  "AND sql IS NULL AND name LIKE '%_2'").fetchone()[0]
page = db.execute("PRAGMA page_size").fetchone()[0]
db.close()
chosen = "cwt_%s_%s" % (tid, "M" * 43)
data = bytearray(open(path, "rb").read())
at = data.find(h.encode(), (root - 1) * page, root * page)
assert at >= 0, "the token hash is not on the index's page"
data[at:at + 64] = hashlib.sha256(chosen.encode()).hexdigest().encode()
open(path, "wb").write(data)
open(token_out, "w").write(hashlib.sha256(chosen.encode()).hexdigest())
PY
[[ $(sqlite3 "$T/index.cwb" 'PRAGMA integrity_check' | head -1) != ok ]] && pass || fail "the index edit did not take"
R3=$T/restored-index
mkdir -m 700 "$R3"
cp "$CERTWARD_DATA_DIR/master.key" "$R3/master.key"
cw -d "$R3" restore "$T/index.cwb" >/dev/null
assert_eq ok "$(sqlite3 "$R3/certward.db" 'PRAGMA integrity_check')" "restored indexes agree with their tables"
assert_eq "" "$(sqlite3 "$R3/certward.db" "SELECT principal FROM tokens WHERE hash = '$(cat "$T/index.token")'")" \
  "the altered index's token finds nothing"

# A schema built to exhaust memory when evaluated (a generated column over huge strings) is
# refused by the schema's own seal, read without evaluating anything, in well under a second.
cp "$T/plain.cwb" "$T/genbomb.cwb"
terms=$(for i in $(seq 24); do printf "printf('%%.*c', 50000000, '%d')," "$i"; done)
sqlite3 "$T/genbomb.cwb" "CREATE TABLE zz (a, b AS (length(max(${terms%,})))); INSERT INTO zz (a) VALUES (1);"
start=$(date +%s%N)
hostile 3 "a generated-column bomb" "$T/genbomb.cwb"
assert_below 3000 $((($(date +%s%N) - start) / 1000000)) "milliseconds spent on a generated-column bomb"
# A path that starts with // is still a path.
R7=$T/restored-slashes
mkdir -m 700 "$R7"
cp "$CERTWARD_DATA_DIR/master.key" "$R7/master.key"
cw -d "$R7" restore "/$T/plain.cwb" >/dev/null && pass || fail "restore of //path"

# A -wal beside the backup is never replayed into it: refused.
cp "$T/plain.cwb" "$T/side.cwb"
printf 'planted' >"$T/side.cwb-wal"
hostile 5 "a -wal beside the backup" "$T/side.cwb"
# Scrypt parameters in the file are bounded before any work.
cp "$T/with-key.cwb" "$T/bomb.cwb"
sqlite3 "$T/bomb.cwb" "UPDATE certward_backup SET value = json_set(value, '\$.n', 4194304, '\$.r', 32, '\$.p', 16) WHERE name = 'master_key_sealed'"
rm -rf "$T/bomb-dir"
start=$(date +%s)
assert_exit 3 "scrypt parameters out of range" env CERTWARD_BACKUP_PASSPHRASE='a long passphrase for the key' \
  "$CERTWARD_BIN" -d "$T/bomb-dir" restore "$T/bomb.cwb"
assert_below 5 $(($(date +%s) - start)) "seconds spent on a scrypt bomb"
[[ ! -e $T/bomb-dir ]] && pass || fail "a refused restore left its directory"

# A -wal left in the target by a process that died would be replayed: refused, untouched.
R4=$T/restored-wal
mkdir -m 700 "$R4"
printf 'left by a crash' >"$R4/certward.db-wal"
cp "$CERTWARD_DATA_DIR/master.key" "$R4/master.key"
assert_exit 5 "a -wal in the target" "$CERTWARD_BIN" -d "$R4" restore "$T/plain.cwb"
assert_eq "left by a crash" "$(cat "$R4/certward.db-wal")" "the stale -wal is untouched"
# A target directory others may write to is refused before anything is written into it.
mkdir -m 777 "$T/open-dir"
chmod 777 "$T/open-dir"
assert_exit 6 "a directory others can write" env CERTWARD_BACKUP_PASSPHRASE='a long passphrase for the key' \
  "$CERTWARD_BIN" -d "$T/open-dir" restore "$T/with-key.cwb"
assert_eq "" "$(ls "$T/open-dir")" "nothing written into the open directory"
# Only the last component of the data directory is made.
assert_exit 7 "a missing parent" "$CERTWARD_BIN" -d "$T/nest/x/y" restore "$T/plain.cwb"
[[ ! -e $T/nest ]] && pass || fail "a refused restore made parent directories"
# A configuration this binary refuses, found only once the database is in place: undone.
R5=$T/restored-badconf
mkdir -m 700 "$R5"
cp "$CERTWARD_DATA_DIR/master.key" "$R5/master.key"
printf 'data_dir = "%s"\n[[policy.rule]]\nbogus = 1\n' "$R5" >"$T/bad.toml"
rc=0
"$CERTWARD_BIN" -c "$T/bad.toml" restore "$T/plain.cwb" >/dev/null 2>"$T/err" || rc=$?
[[ $rc != 0 ]] && pass || fail "a restore under a refused configuration succeeded"
assert_eq "master.key" "$(ls "$R5")" "a restore undone after its configuration was refused"

# A checkpoint kept outside: a backup older than it (or rewritten before it) is refused.
late=$(cw audit verify | sed -n 's/^checkpoint: //p')
R6=$T/restored-checkpoint
mkdir -m 700 "$R6"
cp "$CERTWARD_DATA_DIR/master.key" "$R6/master.key"
assert_exit 8 "a backup older than the checkpoint" "$CERTWARD_BIN" -d "$R6" restore --checkpoint "$late" "$T/plain.cwb"
assert_eq "master.key" "$(ls "$R6")" "nothing written for an old backup"
early=$(jq -r .audit_head "$T/b2.json")
seq=$(( ${early%%:*} - 1 ))
early_cp="$seq:$(sqlite3 "$CERTWARD_DATA_DIR/certward.db" "SELECT hash FROM audit_events WHERE seq = $seq")"
cw -d "$R6" restore --checkpoint "$early_cp" "$T/plain.cwb" >/dev/null && pass || fail "restore with a checkpoint the backup holds"

# A restore that died (killed, a power cut) leaves its copy beside the target; the next one
# removes it. Two restores into one place at the same time: the second is refused.
R8=$T/restored-after-crash
mkdir -m 700 "$R8"
cp "$CERTWARD_DATA_DIR/master.key" "$R8/master.key"
printf 'half a copy' >"$R8/certward.db.restoring-0123456789abcdef"
printf 'its journal' >"$R8/certward.db.restoring-0123456789abcdef-journal"
printf 'not ours' >"$R8/certward.db.keep"
flock "$R8/certward.db.restore-lock" sleep 30 &
holder=$!
for _ in $(seq 1 50); do [[ -e $R8/certward.db.restore-lock ]] && break; sleep 0.1; done
assert_exit 5 "a restore while another holds the target" "$CERTWARD_BIN" -d "$R8" restore "$T/plain.cwb"
[[ ! -e $R8/certward.db && -e $R8/certward.db.restoring-0123456789abcdef ]] && pass ||
  fail "a refused concurrent restore changed the directory"
kill "$holder"; wait "$holder" 2>/dev/null || true
rm -f "$R8/certward.db.restore-lock"  # flock(1) leaves the file it locked
cw -d "$R8" restore --json "$T/plain.cwb" >"$T/r8.json"
assert_eq 2 "$(jq -r .stale_copies_removed "$T/r8.json")" "the dead restore's copy and journal are removed"
assert_eq "certward.db certward.db.keep master.key" "$(cd "$R8" && ls | tr '\n' ' ' | sed 's/ $//')" \
  "only the stale copies went, and the lock is gone"

# Only a regular file is taken as the lock: a FIFO planted there is refused and left alone.
R9=$T/restored-fifo
mkdir -m 700 "$R9"
cp "$CERTWARD_DATA_DIR/master.key" "$R9/master.key"
mkfifo "$R9/certward.db.restore-lock"
printf 'notes' >"$R9/certward.db.restoring-notes.txt"
assert_exit 6 "a FIFO at the lock path" "$CERTWARD_BIN" -d "$R9" restore "$T/plain.cwb"
[[ -p $R9/certward.db.restore-lock && ! -e $R9/certward.db ]] && pass || fail "the FIFO was taken or removed"
rm "$R9/certward.db.restore-lock"
cw -d "$R9" restore --json "$T/plain.cwb" >"$T/r9.json"
assert_eq 0 "$(jq -r .stale_copies_removed "$T/r9.json")" "a file that is not a restore's copy is not removed"
[[ -e $R9/certward.db.restoring-notes.txt ]] && pass || fail "a look-alike name was removed"
# A database configured outside the data directory must be in a private directory too.
R10=$T/restored-outside
SHARED=$T/shared-db-dir
mkdir -m 700 "$R10"
mkdir -m 1777 "$SHARED"
cp "$CERTWARD_DATA_DIR/master.key" "$R10/master.key"
assert_exit 6 "a database in a world-writable directory" env CERTWARD_DATABASE_PATH="$SHARED/certward.db" \
  "$CERTWARD_BIN" -d "$R10" restore "$T/plain.cwb"
assert_eq "" "$(ls -A "$SHARED")" "nothing written into the shared directory"
chmod 700 "$SHARED"
env CERTWARD_DATABASE_PATH="$SHARED/certward.db" "$CERTWARD_BIN" -d "$R10" restore "$T/plain.cwb" >/dev/null &&
  pass || fail "restore of a database outside the data directory"
[[ -s $SHARED/certward.db && ! -e $R10/certward.db ]] && pass || fail "the database is not where it was configured"

# PostgreSQL deployments are pointed at their own tools.
assert_exit 3 "backup of a PostgreSQL deployment" env CERTWARD_DATABASE_DRIVER=postgres \
  CERTWARD_DATABASE_URL=postgresql://127.0.0.1:1/none "$CERTWARD_BIN" backup "$T/pg.cwb"
finish
