#!/usr/bin/env bash
# Makes the upgrade fixtures of one released revision: a database written by that release's
# own binary, on SQLite and on PostgreSQL, dumped as text, and a manifest of what it holds.
# tests/integration/upgrade_test.sh loads every fixture here into a fresh database and opens
# it with the current binary (docs/development.md, "Upgrade fixtures").
#
#   tests/upgrade/make_fixtures.sh [REVISION]      # default 6929556, the first release
#
# Writes, under tests/upgrade/fixtures/ (REV is the abbreviated commit):
#   REV-sqlite.sql     `sqlite3 DB .dump` of the SQLite database
#   REV-postgres.sql   `pg_dump --no-owner --no-privileges` (plain) of the PostgreSQL one
#   REV.json           the manifest: revision and date, the test-only master key the CA keys
#                      are sealed under, and per database the authorities, the certificates
#                      (serial, fingerprint, profile, authority, labels, notAfter), the teams,
#                      principals, the token secret, the audit checkpoint and the row counts
#
# How: a detached `git worktree` of REVISION under /var/tmp (removed afterwards), configured
# with that revision's own `debug` preset (tests and benchmarks off), and only its `certward`
# target built, at nice 19 on two jobs, through ccache when installed. That old binary then
# runs the same script of commands twice, once on SQLite and once on a throwaway PostgreSQL
# (scripts/pg-test-server.sh, loopback, a free port), using only what its CLI had: init, more
# authorities (a root, an intermediate with name constraints, an RSA issuing CA below it, an
# imported external CA), certificates of every built-in profile from a CSR and with generated
# keys, a small bulk run, an import of external certificates, labels, a team, principals, a
# certificate mapping and a token, and so the audit events of all of these.
#
# Deterministic enough: the same objects, names, labels and order on every run and on both
# databases; keys, serials and times are new each run, and the manifest records them. The
# master key is fixed (derived from a constant below; it protects nothing). A release that can
# revoke has one certificate revoked too (6929556 could not). A later release's CLI may have
# more worth carrying through migrations (ACME accounts, managed certificates...): add its
# commands to populate() behind a check of its --help, as for revocation.
#
# Needs: git, cmake, ninja, g++ and the release's libraries (scripts/setup.sh of that
# revision), openssl, jq, sqlite3, PostgreSQL (initdb, pg_ctl, pg_dump). CERTWARD_OLD_BIN set
# to a certward already built at REVISION skips the build.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
rev=$(git -C "$repo" rev-parse --short=7 "${1:-6929556}^{commit}")
full_rev=$(git -C "$repo" rev-parse "$rev^{commit}")
rev_date=$(git -C "$repo" show -s --format=%cs "$full_rev")
out_dir=$here/fixtures
mkdir -p "$out_dir"

work=$(mktemp -d /var/tmp/certward-fixture-"$rev".XXXXXX)
# PostgreSQL runs as user postgres, which must reach its directory: not under the 0700 $work.
pg_dir=$(mktemp -d /var/tmp/certward-fixture-pg.XXXXXX)
worktree=$work/src
cleanup() {
  if [[ -f $pg_dir/port ]]; then
    "$repo/scripts/pg-test-server.sh" stop "$pg_dir" >/dev/null 2>&1 || true
  fi
  if [[ -d $worktree ]]; then
    git -C "$repo" worktree remove --force "$worktree" 2>/dev/null || true
  fi
  git -C "$repo" worktree prune 2>/dev/null || true
  rm -rf "$work" "$pg_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "make_fixtures: $*" >&2; }

# --- the old binary -------------------------------------------------------------------------
if [[ -n ${CERTWARD_OLD_BIN:-} ]]; then
  old_bin=$CERTWARD_OLD_BIN
  log "using $old_bin as the certward of $rev"
else
  log "building certward at $rev ($rev_date) in $worktree"
  git -C "$repo" worktree add --quiet --detach "$worktree" "$full_rev" >/dev/null
  launcher=()
  if command -v ccache >/dev/null; then
    # Paths relative to the worktree, as the current CMakeLists.txt does: another worktree of
    # the same revision hits the same cache entries.
    launcher=("-DCMAKE_CXX_COMPILER_LAUNCHER=$(command -v cmake);-E;env;CCACHE_BASEDIR=$worktree;CCACHE_NOHASHDIR=true;$(command -v ccache)")
  fi
  (cd "$worktree" && cmake --preset debug -DCERTWARD_BUILD_TESTS=OFF -DCERTWARD_BUILD_BENCH=OFF \
    -DCERTWARD_BUILD_FUZZ=OFF "${launcher[@]}" >"$work/configure.log") ||
    { cat "$work/configure.log" >&2; exit 1; }
  nice -n 19 cmake --build "$worktree/build/debug" --target certward -j 2 >"$work/build.log" ||
    { tail -50 "$work/build.log" >&2; exit 1; }
  old_bin=$work/certward
  cp "$worktree/build/debug/src/certward" "$old_bin"
  git -C "$repo" worktree remove --force "$worktree"
fi
old_version=$("$old_bin" --version)
log "old binary: $old_version"

# --- the fixed test-only master key and the external material --------------------------------
master_key=$(printf 'certward upgrade fixture master key: a test constant, never a secret' |
  openssl dgst -sha256 -binary | base64)
export CERTWARD_MASTER_KEY=$master_key
unset CERTWARD_CONFIG CERTWARD_DATABASE_DRIVER CERTWARD_DATABASE_URL CERTWARD_DATABASE_PATH \
  CERTWARD_SERVER CERTWARD_TOKEN || true

ext=$work/external
mkdir -p "$ext"
# An external CA hierarchy: its issuing CA (an encrypted key) is imported as an authority
# (ca import, with the external root as its chain); the root stays outside.
printf 'legacy ca passphrase\n' >"$ext/legacy.pass"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -sha384 -days 7300 -nodes \
  -subj "/CN=Legacy Root CA/O=Legacy Corp" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$ext/legacy-root.key" \
  -out "$ext/legacy-root.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=Legacy Issuing CA/O=Legacy Corp" \
  -passout file:"$ext/legacy.pass" -keyout "$ext/legacy.key" -out "$ext/legacy.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' \
  >"$ext/legacy.ext"
openssl x509 -req -in "$ext/legacy.csr" -CA "$ext/legacy-root.crt" -CAkey "$ext/legacy-root.key" \
  -CAcreateserial -days 5000 -sha384 -extfile "$ext/legacy.ext" -out "$ext/legacy.crt" 2>/dev/null
# Certificates issued elsewhere, for cert import: an external CA and a leaf it signed.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 7300 -nodes \
  -subj "/CN=External Partner CA/O=Partner" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$ext/partner-ca.key" \
  -out "$ext/partner-ca.crt" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=portal.partner.example" \
  -keyout "$ext/portal.key" -out "$ext/portal.csr" 2>/dev/null
printf 'subjectAltName=DNS:portal.partner.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  >"$ext/portal.ext"
openssl x509 -req -in "$ext/portal.csr" -CA "$ext/partner-ca.crt" -CAkey "$ext/partner-ca.key" \
  -CAcreateserial -days 3650 -sha256 -extfile "$ext/portal.ext" -out "$ext/portal.crt" 2>/dev/null
cat "$ext/portal.crt" "$ext/partner-ca.crt" >"$ext/partner-bundle.pem"
# CSRs: an RSA one for a single issuance, an EC one for the bulk run.
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=api.example.test" \
  -keyout "$ext/api.key" -out "$ext/api.csr" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=bulk.example.test" -keyout "$ext/bulk.key" -out "$ext/bulk.csr" 2>/dev/null

# --- one database's worth of history -----------------------------------------------------------
# populate NAME: runs the old CLI against the database the environment names and writes
# $work/NAME.json, the manifest's part for that database.
populate() {
  local name=$1
  local d=$work/$name
  mkdir -p "$d"
  export CERTWARD_DATA_DIR=$d/data
  cw() { "$old_bin" "$@"; }
  issue() {  # issue KEY ARGS...: one certificate, its --json kept as $d/KEY.json
    local key=$1
    shift
    cw --json issue "$@" >"$d/$key.json"
    jq -c --arg key "$key" '{key: $key, serial, fingerprint, profile, authority,
      subject: .certificate.subject, issuer: .certificate.issuer,
      not_after: .certificate.not_after, origin: "issued"}' "$d/$key.json" >>"$d/certs.jsonl"
  }

  cw init >/dev/null
  cw ca create --name corp-root --kind root --subject "CN=Corp Root CA,O=Corp" >/dev/null
  cw ca create --name corp-int --kind intermediate --parent corp-root --path-length 1 \
    --subject "CN=Corp Intermediate CA,O=Corp" --permit dns:corp.example.test \
    --permit ip:10.0.0.0/8 --exclude dns:secret.corp.example.test >/dev/null
  cw ca create --name corp-issuing --parent corp-int --key-type rsa-3072 \
    --subject "CN=Corp Issuing CA,O=Corp" >/dev/null
  cw ca import --name legacy --kind issuing --cert "$ext/legacy.crt" --key "$ext/legacy.key" \
    --chain "$ext/legacy-root.crt" --key-passphrase-file "$ext/legacy.pass" >/dev/null

  cw team create payments --description "Payments platform" --profile tls-server \
    --profile tls-client --domain payments.example.test >/dev/null
  cw principal create ci-payments --role requester --team payments >/dev/null
  cw principal create auditor-1 --role auditor >/dev/null

  issue www --profile tls-server --key-type ec-p256 --cn www.example.test \
    --san dns:www.example.test --san dns:example.test --validity 398d \
    --owner alice --team payments --tag prod --tag web
  issue api --profile tls-server --csr "$ext/api.csr" --san dns:api.example.test \
    --san ip:192.0.2.10 --validity 398d --owner bob --tag api
  issue client --profile tls-client --key-type ec-p384 --cn alice \
    --san email:alice@example.test --validity 398d --team payments
  issue code --profile code-signing --key-type rsa-3072 --cn build.example.test --validity 1095d
  issue smime --profile smime --key-type ec-p256 --cn bob --san email:bob@example.test \
    --validity 825d
  issue device --profile device --key-type ed25519 --cn device-0001 --validity 1825d \
    --tag fleet
  issue corp --profile tls-server --authority corp-issuing --key-type ec-p256 \
    --cn app.corp.example.test --validity 398d
  issue legacy-leaf --profile tls-server --authority legacy --key-type ec-p256 \
    --cn old.legacy.example.test --validity 398d --tag legacy

  # Bulk: "<serial> <fingerprint>" per line.
  cw issue --profile tls-server --csr "$ext/bulk.csr" --count 3 --concurrency 2 \
    --validity 398d >"$d/bulk.txt"
  local i=0 fp
  while read -r _ fp; do
    i=$((i + 1))
    cw --json cert show "$fp" | jq -c --arg key "bulk-$i" '{key: $key, serial, fingerprint,
      profile, authority, subject, issuer, not_after, origin}' >>"$d/certs.jsonl"
  done <"$d/bulk.txt"

  # From its directory: the audit event records the path as given, the same on every run.
  (cd "$ext" && cw --json cert import partner-bundle.pem --owner partner-team --tag external) \
    >"$d/import.json"
  for fp in $(jq -r '.items[].fingerprint' "$d/import.json"); do
    cw --json cert show "$fp" | jq -c '{key: (if .common_name == "portal.partner.example"
      then "import-leaf" else "import-ca" end), serial, fingerprint, profile, authority,
      subject, issuer, not_after, origin}' >>"$d/certs.jsonl"
  done

  # Labels changed after issuance (a certificate.update event).
  cw cert set "$(jq -r .fingerprint "$d/api.json")" --team payments --add-tag migrated >/dev/null
  cw principal map ci-payments --fingerprint "$(jq -r .fingerprint "$d/client.json")" >/dev/null
  cw --json token create --principal ci-payments --description "upgrade fixture token" \
    --no-expiry >"$d/token.json"

  # A release that can revoke leaves one certificate revoked for the migrations to carry.
  if cw cert --help | grep -Eq '^ +revoke '; then
    cw cert revoke "$(jq -r .fingerprint "$d/smime.json")" --reason keyCompromise >/dev/null
  fi

  cw --json audit verify >"$d/verify.json"
  cw --json ca list >"$d/authorities.json"
  cw --json team list >"$d/teams.json"
  cw --json principal list >"$d/principals.json"
  cw --json cert list --limit 1000 >"$d/list.json"

  # Every certificate the old binary lists (the authorities' own certificates too), named by
  # what made it, with its labels and status as the old binary showed them.
  jq -s --slurpfile list "$d/list.json" --slurpfile cas "$d/authorities.json" '
    (map({key: .fingerprint, value: .key}) | from_entries) as $made
    | ($cas[0].items | map({key: .certificate.sha256, value: ("ca-" + .name)}) | from_entries) as $ca
    | [$list[0].items[] | {key: ($made[.fingerprint] // $ca[.fingerprint] // ("other-" + .fingerprint[0:8])),
        serial, fingerprint, origin, authority, profile, subject, issuer, common_name, sans,
        not_after, status, owner, team, tags}]
    | sort_by(.key)' "$d/certs.jsonl" >"$d/certificates.json"
  local made
  made=$(jq -r .fingerprint "$d/certs.jsonl" | sort)
  [[ $(jq -r '.[].fingerprint' "$d/certificates.json" | sort | comm -23 <(echo "$made") -) == "" ]] ||
    { log "$name: a certificate made is not listed"; exit 1; }

  jq -n --slurpfile certs "$d/certificates.json" --slurpfile cas "$d/authorities.json" \
    --slurpfile verify "$d/verify.json" --slurpfile token "$d/token.json" \
    --slurpfile teams "$d/teams.json" --slurpfile principals "$d/principals.json" \
    --argjson counts "$(counts_json "$name")" --argjson migrations "$(migrations_json "$name")" '{
      authorities: [$cas[0].items[] | {name, kind, parent, key_type, imported,
                                 fingerprint: .certificate.sha256,
                                 subject: .certificate.subject}],
      certificates: $certs[0],
      teams: [$teams[0].items[].name] | sort,
      principals: [$principals[0].items[] | {name, role, team}] | sort_by(.name),
      token: {principal: "ci-payments", secret: $token[0].token},
      certificate_mapping: {principal: "ci-payments",
                            fingerprint: ($certs[0][] | select(.key == "client") | .fingerprint)},
      audit: {events: $verify[0].events_checked, checkpoint: $verify[0].head.checkpoint},
      counts: $counts,
      schema_migrations: $migrations
    }' >"$work/$name.json"
}

sql() {  # sql NAME QUERY: one value from database NAME
  case $1 in
    sqlite) sqlite3 "$work/sqlite/data/certward.db" "$2" ;;
    postgres) psql -X -q -t -A "$pg_url" -c "$2" ;;
  esac
}
counts_json() {
  local t out='{}'
  for t in authorities certificates audit_events teams principals tokens cert_mappings; do
    out=$(jq -c --arg t "$t" --argjson n "$(sql "$1" "SELECT COUNT(*) FROM $t")" '. + {($t): $n}' <<<"$out")
  done
  echo "$out"
}
migrations_json() {
  sql "$1" "SELECT module || ' ' || version FROM schema_migrations ORDER BY module, version" |
    jq -R -s -c 'split("\n") | map(select(length > 0) | split(" ") | {module: .[0], version: (.[1] | tonumber)})'
}

log "populating SQLite"
(
  unset CERTWARD_DATABASE_DRIVER
  populate sqlite
)
sqlite3 "$work/sqlite/data/certward.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
sqlite3 "$work/sqlite/data/certward.db" .dump >"$out_dir/$rev-sqlite.sql"

log "populating PostgreSQL"
pg_url=$("$repo/scripts/pg-test-server.sh" start "$pg_dir")
(
  export CERTWARD_DATABASE_DRIVER=postgres CERTWARD_DATABASE_URL=$pg_url
  populate postgres
)
# \restrict and \unrestrict (pg_dump 17.6, 16.10, 15.14 and later) carry a random key per dump
# and are unknown to older psql: left out, a fixture loads with any psql and is stable.
pg_dump --no-owner --no-privileges --format=plain "$pg_url" |
  grep -v -e '^\\restrict ' -e '^\\unrestrict ' >"$out_dir/$rev-postgres.sql"
"$repo/scripts/pg-test-server.sh" stop "$pg_dir" >/dev/null

jq -n --arg rev "$rev" --arg full "$full_rev" --arg date "$rev_date" --arg version "$old_version" \
  --arg key "$master_key" --arg legacy_root "$(openssl x509 -in "$ext/legacy-root.crt" -outform der | sha256sum | cut -d' ' -f1)" \
  --slurpfile s "$work/sqlite.json" --slurpfile p "$work/postgres.json" '{
    revision: $rev, commit: $full, date: $date, binary_version: $version,
    master_key: $key,
    external: {legacy_root: {subject: "CN=Legacy Root CA,O=Legacy Corp", fingerprint: $legacy_root}},
    databases: {sqlite: $s[0], postgres: $p[0]}
  }' >"$out_dir/$rev.json"
log "wrote $out_dir/$rev-sqlite.sql, $rev-postgres.sql and $rev.json"
