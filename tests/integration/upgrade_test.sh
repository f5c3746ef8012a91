#!/usr/bin/env bash
# Upgrades and downgrades of the schema, on SQLite and on PostgreSQL.
#
# Upgrades: every database an earlier release wrote (tests/upgrade/fixtures: a dump per
# database and a manifest, made by tests/upgrade/make_fixtures.sh with that release's own
# binary) is loaded into a fresh database and opened by this build with the fixture's master
# key. It must migrate to the same modules, versions and schema as a database this build
# creates; keep every certificate (serial, fingerprint, labels, status), authority, team,
# principal, mapping and token; issue from the old authorities (openssl verifies the chains
# against the old roots), revoke an old certificate into a CRL, and keep the audit chain intact
# across the old and new events (the release's checkpoint still matches). A second open
# changes nothing.
#
# Downgrades: a database that holds a schema_migrations row this build cannot know (a newer
# version of one of its modules, or a module it has never heard of) is refused by every command,
# `init` and `serve` too, with exit 5 and one line naming the module, and is left byte for byte
# as it was (SQLite: the file after a checkpoint; PostgreSQL: pg_dump). So is an old database
# that also holds a newer row: nothing is half-migrated before the refusal.
src_dir=${CERTWARD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [[ -z "${CERTWARD_TEST_POSTGRES_URL:-}" ]]; then
  CERTWARD_SOURCE_DIR=$src_dir exec "$src_dir/scripts/with-postgres.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"

fixtures=$src_dir/tests/upgrade/fixtures
pg_server=${CERTWARD_TEST_POSTGRES_URL%/*}  # postgresql://postgres@127.0.0.1:PORT
pg_admin() { psql -X -q -v ON_ERROR_STOP=1 "$CERTWARD_TEST_POSTGRES_URL" "$@" >/dev/null; }
pg_dump_text() {  # a database as text, without pg_dump's per-run \restrict key
  pg_dump --no-owner --no-privileges "$1" | grep -v -e '^\\restrict ' -e '^\\unrestrict '
}

# use_db BACKEND NAME: certward, sql and snapshot work on database NAME from here on.
use_db() {
  BACKEND=$1 DB=$2
  export CERTWARD_DATA_DIR=$T/db/$2
  mkdir -p "$CERTWARD_DATA_DIR"
  if [[ $1 == postgres ]]; then
    export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL=$pg_server/$2
  else
    unset CERTWARD_DATABASE_DRIVER CERTWARD_DATABASE_URL
  fi
}
sqlite_file() { echo "$CERTWARD_DATA_DIR/certward.db"; }
sql() {  # the rows of one query, columns separated by '|'
  if [[ $BACKEND == postgres ]]; then
    psql -X -q -t -A -v ON_ERROR_STOP=1 "$CERTWARD_DATABASE_URL" -c "$1"
  else
    sqlite3 -cmd ".timeout 10000" "$(sqlite_file)" "$1"
  fi
}

# load_dump BACKEND NAME FILE: a new database NAME holding the dump FILE, as the release left
# it (its SQLite databases were in WAL mode, which a dump does not record).
load_dump() {
  use_db "$1" "$2"
  if [[ $1 == postgres ]]; then
    pg_admin -c "CREATE DATABASE \"$2\""
    psql -X -q -v ON_ERROR_STOP=1 -f "$3" "$CERTWARD_DATABASE_URL" >/dev/null
  else
    sqlite3 "$(sqlite_file)" <"$3"
    sqlite3 "$(sqlite_file)" 'PRAGMA journal_mode = WAL' >/dev/null
    chmod 700 "$CERTWARD_DATA_DIR"
    chmod 600 "$(sqlite_file)"
  fi
}

# copy_db NAME: a copy of the current database, used from here on.
copy_db() {
  local from_file from_db=$DB
  if [[ $BACKEND == postgres ]]; then
    pg_admin -c "CREATE DATABASE \"$1\" TEMPLATE \"$from_db\""
    use_db postgres "$1"
  else
    from_file=$(sqlite_file)
    sqlite3 "$from_file" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    use_db sqlite "$1"
    cp "$from_file" "$(sqlite_file)"
  fi
}

# snapshot FILE: the whole database, for "nothing changed" (SQLite: the file's bytes after a
# checkpoint, and a dump to show what differs; PostgreSQL: pg_dump).
snapshot() {
  if [[ $BACKEND == postgres ]]; then
    pg_dump_text "$CERTWARD_DATABASE_URL" >"$1"
  else
    sqlite3 "$(sqlite_file)" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    { sha256sum <"$(sqlite_file)"; sqlite3 "$(sqlite_file)" .dump; } >"$1"
    [[ ! -s "$(sqlite_file)-wal" ]] || echo "a WAL file is left over" >>"$1"
  fi
}
assert_unchanged() {  # before after message
  if cmp -s "$1" "$2"; then pass; else fail "$3: $(diff "$1" "$2" | head -c 600)"; fi
}

migrations() { sql "SELECT module || ' ' || version FROM schema_migrations ORDER BY module, version"; }
# The schema as the catalogue has it: tables, columns, indexes, constraints and triggers.
schema() {
  if [[ $BACKEND == postgres ]]; then
    sql "SELECT table_name, ordinal_position, column_name, data_type, is_nullable,
           COALESCE(column_default, '') FROM information_schema.columns
         WHERE table_schema = 'public' ORDER BY 1, 2"
    sql "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
         ORDER BY 1, 2"
    sql "SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid)
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY t, conname"
    sql "SELECT tgrelid::regclass::text AS t, tgname, pg_get_triggerdef(oid) FROM pg_trigger
         WHERE NOT tgisinternal ORDER BY t, tgname"
  else
    sql "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'
         ORDER BY type, name"
  fi
}

# refused WHAT MODULE [VERSION]: every command refuses the current database (exit 5, one line
# naming MODULE, and VERSION if given) and leaves it byte for byte as it was.
refused() {
  local what=$1 module=$2 version=${3:-} cmd
  snapshot "$T/before"
  for cmd in "cert list" "audit verify" "ca list" "init" "serve"; do
    # shellcheck disable=SC2086  # the command's words
    assert_exit 5 "$what: $cmd refused" \
      env CERTWARD_LISTEN=127.0.0.1:0 CERTWARD_HTTP_LISTEN=127.0.0.1:0 timeout 10 "$CERTWARD_BIN" $cmd
    if grep -q -- "$module" "$T/err" && grep -q -- "$version" "$T/err" &&
      grep -Eq 'newer|upgrade' "$T/err"; then
      pass
    else
      fail "$what: $cmd: the message does not name $module $version as newer: $(head -c 300 "$T/err")"
    fi
  done
  snapshot "$T/after"
  assert_unchanged "$T/before" "$T/after" "$what: the refused database changed"
}

# --- what this build creates ---------------------------------------------------------------------
for b in sqlite postgres; do
  use_db "$b" "${b}_fresh"
  [[ $b == postgres ]] && pg_admin -c "CREATE DATABASE ${b}_fresh"
  cw init >/dev/null
  migrations >"$T/$b.fresh.migrations"
  schema >"$T/$b.fresh.schema"
done

shopt -s nullglob
manifests=("$fixtures"/*.json)
[[ ${#manifests[@]} -gt 0 ]] || { fail "no fixtures in $fixtures"; finish; exit 1; }

for manifest in "${manifests[@]}"; do
  rev=$(jq -r .revision "$manifest")
  export CERTWARD_MASTER_KEY
  CERTWARD_MASTER_KEY=$(jq -r .master_key "$manifest")
  for b in sqlite postgres; do
    m() { jq -c --arg b "$b" ".databases[\$b]$1" "$manifest"; }
    mr() { jq -r --arg b "$b" ".databases[\$b]$1" "$manifest"; }
    what="$b, from $rev"
    db=${b}_$rev

    # --- the release's database, as it left it
    load_dump "$b" "$db" "$fixtures/$rev-$b.sql"
    assert_eq "$(mr '.schema_migrations[] | "\(.module) \(.version)"')" "$(migrations)" \
      "$what: the fixture's schema_migrations"
    sql "SELECT module, version, applied_at FROM schema_migrations" | sort >"$T/old.applied"
    old_events=$(mr .audit.events)
    checkpoint=$(mr .audit.checkpoint)

    # --- the first open migrates
    copy_db "${db}_old"  # kept as the release left it, for the half-migration case below
    use_db "$b" "$db"
    assert_exit 0 "$what: the first open" cw --json cert list --limit 1000
    if ! jq -e '.items | length > 0' "$T/out" >/dev/null 2>&1; then
      fail "$what: nothing more to check without a first open"
      continue
    fi
    cp "$T/out" "$T/list.json"
    assert_eq "$(cat "$T/$b.fresh.migrations")" "$(migrations)" \
      "$what: schema_migrations holds what a new database holds"
    missing=$(sql "SELECT module, version, applied_at FROM schema_migrations" | sort |
      comm -23 "$T/old.applied" -)
    assert_eq "" "$missing" "$what: the release's migrations are kept, not applied again"
    schema >"$T/schema"
    if cmp -s "$T/$b.fresh.schema" "$T/schema"; then
      pass
    else
      fail "$what: the migrated schema differs from a new database's: $(diff "$T/$b.fresh.schema" "$T/schema" | head -c 1500)"
    fi

    # --- a second open changes nothing
    snapshot "$T/before"
    if cw cert list --limit 1000 >/dev/null && cw ca list >/dev/null && cw audit verify >/dev/null; then
      pass
    else
      fail "$what: the second open"
    fi
    snapshot "$T/after"
    assert_unchanged "$T/before" "$T/after" "$what: the second open wrote to the database"

    # --- everything the release made is there, as it made it
    assert_eq "$(mr .counts.certificates)" "$(jq '.items | length' "$T/list.json")" \
      "$what: certificates listed"
    problems=$(jq -r --slurpfile list "$T/list.json" --arg b "$b" '
      ($list[0].items | map({key: .fingerprint, value: .}) | from_entries) as $by
      | now as $now
      | .databases[$b].certificates[] | . as $c | $by[$c.fingerprint] as $l
      | if $l == null then "\($c.key): \($c.fingerprint) is not listed"
        else
          ($c.not_after | fromdateiso8601) as $na
          | (if $c.status == "revoked" then "revoked" elif $na <= $now then "expired"
             elif $na - $now <= 30 * 86400 then "expiring" else "valid" end) as $status
          | ( (["serial", "origin", "authority", "profile", "owner", "team", "common_name",
                "subject", "issuer", "not_after"][] as $f
               | select($l[$f] != $c[$f]) | "\($f) \($l[$f]) (was \($c[$f]))"),
              (select(($l.tags | sort) != ($c.tags | sort)) | "tags \($l.tags) (was \($c.tags))"),
              (select(($l.sans | sort) != ($c.sans | sort)) | "sans \($l.sans) (was \($c.sans))"),
              (select($l.status != $status) | "status \($l.status), want \($status)") )
          | "\($c.key) \($c.fingerprint[0:12]): \(.)"
        end' "$manifest")
    if [[ -z $problems ]]; then pass; else fail "$what: certificates: $problems"; fi

    cw --json ca list >"$T/cas.json"
    problems=$(jq -r --slurpfile cas "$T/cas.json" --arg b "$b" '
      ($cas[0].items | map({key: .name, value: .}) | from_entries) as $by
      | .databases[$b].authorities[] | . as $a | $by[$a.name] as $l
      | if $l == null then "\($a.name) is not listed"
        else
          ( (["kind", "parent", "key_type", "imported"][] as $f
             | select($l[$f] != $a[$f]) | "\($f) \($l[$f]) (was \($a[$f]))"),
            (select($l.certificate.sha256 != $a.fingerprint) | "fingerprint \($l.certificate.sha256)"),
            (select($l.status != "active") | "status \($l.status)") )
          | "\($a.name): \(.)"
        end' "$manifest")
    if [[ -z $problems ]]; then pass; else fail "$what: authorities: $problems"; fi

    assert_eq "$(m '.teams | sort')" "$(cw --json team list | jq -c '[.items[].name] | sort')" "$what: teams"
    assert_eq "$(m '.principals | sort_by(.name)')" \
      "$(cw --json principal list | jq -c '.items | map({name, role, team}) | sort_by(.name)')" \
      "$what: principals"
    mapped=$(mr .certificate_mapping.fingerprint)
    cw --json principal mappings "$(mr .certificate_mapping.principal)" >"$T/mappings.json"
    if grep -q "$mapped" "$T/mappings.json"; then pass; else
      fail "$what: the certificate mapping is gone: $(head -c 300 "$T/mappings.json")"
    fi

    # --- the audit chain reads across the migration; the release's checkpoint still holds
    assert_exit 0 "$what: audit verify --checkpoint (the release's)" \
      cw --json audit verify --checkpoint "$checkpoint"
    assert_eq "true/true" "$(jq -r '"\(.ok)/\(.checkpoint_matched)"' "$T/out")" \
      "$what: audit chain and checkpoint after the migration"

    # --- the old authorities still sign: chains verify against the old roots (the imported
    # CA's root is the one it was imported with: the last of its chain)
    cw ca export legacy --chain | awk '/BEGIN CERTIFICATE/ { pem = "" } { pem = pem $0 "\n" }
      END { printf "%s", pem }' >"$T/legacy-root.pem"
    assert_eq "$(jq -r .external.legacy_root.fingerprint "$manifest")" \
      "$(openssl x509 -in "$T/legacy-root.pem" -outform der | sha256sum | cut -d' ' -f1)" \
      "$what: the imported CA's chain"
    for pair in issuing:root corp-issuing:corp-root legacy:; do
      ca=${pair%%:*} root=${pair#*:}
      if [[ -n $root ]]; then cw ca export "$root" >"$T/root.pem"; else cp "$T/legacy-root.pem" "$T/root.pem"; fi
      cn="new.$ca.example.test"
      [[ $ca == corp-issuing ]] && cn=new.corp.example.test  # its name constraints
      if cw issue --profile tls-server --authority "$ca" --key-type ec-p256 --cn "$cn" \
        --out-chain "$T/chain.pem" --out-key "$T/new.key" 2>"$T/err" &&
        openssl verify -purpose sslserver -CAfile "$T/root.pem" -untrusted "$T/chain.pem" \
          "$T/chain.pem" >"$T/verify" 2>&1; then
        pass
      else
        fail "$what: a new certificate from $ca does not verify against ${root:-its imported root}: $(cat "$T/err" "$T/verify" | head -c 300)"
      fi
    done
    assert_eq "$(($(mr .counts.certificates) + 3))" "$(sql 'SELECT COUNT(*) FROM certificates')" \
      "$what: certificates after three new ones"

    # --- an old certificate is revoked into a CRL of its old authority
    www=$(mr '.certificates[] | select(.key == "www") | .fingerprint')
    www_serial=$(mr '.certificates[] | select(.key == "www") | .serial')
    assert_exit 0 "$what: revoke an old certificate" cw cert revoke "$www" --reason keyCompromise
    assert_eq revoked "$(cw --json cert show "$www" | jq -r .status)" "$what: the old certificate's status"
    cw ca export issuing --chain >"$T/issuing-chain.pem"
    if cw ca crl issuing --publish -o "$T/crl.pem" 2>"$T/err" &&
      openssl crl -in "$T/crl.pem" -CAfile "$T/issuing-chain.pem" -noout 2>&1 | grep -q 'verify OK' &&
      openssl crl -in "$T/crl.pem" -noout -text | tr -d ' :' | grep -qi "SerialNumber${www_serial}$"; then
      pass
    else
      fail "$what: the old issuing CA's CRL does not list the old certificate: $(head -c 300 "$T/err")"
    fi

    # --- the release's token still logs in to the server
    start_server CERTWARD_LOG_LEVEL=warn
    assert_eq 200 "$(api GET /api/v1/whoami "$(mr .token.secret)")" "$what: the release's token"
    assert_eq "$(mr .token.principal)" "$(jq -r .principal "$T/resp")" "$what: the token's principal"
    stop_server || fail "$what: serve did not stop cleanly"

    assert_exit 0 "$what: audit verify after new events" cw --json audit verify --checkpoint "$checkpoint"
    events=$(jq -r .events_checked "$T/out")
    if [[ $(jq -r .ok "$T/out") == true ]] && ((events > old_events)); then pass; else
      fail "$what: audit chain after new events: $(head -c 300 "$T/out") (the release left $old_events)"
    fi

    # --- downgrades: refused, and nothing written
    use_db "$b" "$db"
    copy_db "${db}_future_version"
    sql "INSERT INTO schema_migrations (module, version, name, applied_at)
         VALUES ('ca', 9999, 'future', 0)" >/dev/null
    refused "$what, a newer ca version" ca 9999

    use_db "$b" "$db"
    copy_db "${db}_future_module"
    sql "INSERT INTO schema_migrations (module, version, name, applied_at)
         VALUES ('some_future_module', 1, 'future', 0)" >/dev/null
    refused "$what, an unknown module" some_future_module

    # The release's database with a newer row: refused before any other module migrates.
    use_db "$b" "${db}_old"
    sql "INSERT INTO schema_migrations (module, version, name, applied_at)
         VALUES ('ca', 9999, 'future', 0)" >/dev/null
    refused "$what, unmigrated with a newer ca version" ca 9999
  done
done
finish
