#include "inventory/inventory.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "inventory/internal.h"
#include "store/schema.h"
#include "x509/names.h"

namespace certward::inventory {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "certificates",
     R"sql(
CREATE TABLE certificates (
  fingerprint TEXT PRIMARY KEY,
  der BLOB NOT NULL,
  serial TEXT NOT NULL,
  subject TEXT NOT NULL,
  common_name TEXT NOT NULL,
  issuer TEXT NOT NULL,
  sans TEXT NOT NULL,
  search_text TEXT NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  key_algorithm TEXT NOT NULL,
  key_bits INTEGER NOT NULL,
  key_curve TEXT NOT NULL,
  signature_algorithm TEXT NOT NULL,
  is_ca INTEGER NOT NULL,
  origin TEXT NOT NULL,
  authority TEXT,
  profile TEXT,
  owner TEXT,
  team TEXT,
  tags TEXT NOT NULL,
  revoked_at BIGINT,
  revocation_reason INTEGER,
  superseded_by TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX certificates_authority_serial ON certificates (authority, serial) WHERE authority IS NOT NULL;
CREATE INDEX certificates_not_after ON certificates (not_after, fingerprint);
CREATE INDEX certificates_serial ON certificates (serial);
CREATE INDEX certificates_owner ON certificates (owner);
CREATE INDEX certificates_team ON certificates (team);
CREATE TABLE sightings (
  id TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL REFERENCES certificates (fingerprint),
  kind TEXT NOT NULL,
  location TEXT NOT NULL,
  details TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL
);
CREATE UNIQUE INDEX sightings_location ON sightings (kind, location, fingerprint);
CREATE INDEX sightings_fingerprint ON sightings (fingerprint);
)sql"},
    {2, "revocation",
     R"sql(
ALTER TABLE certificates ADD COLUMN invalidity_date BIGINT;
ALTER TABLE certificates ADD COLUMN key_sha256 TEXT;
CREATE INDEX certificates_key_sha256 ON certificates (key_sha256);
CREATE INDEX certificates_authority_revoked ON certificates (authority, revoked_at);
)sql"},
    {3, "revoked_at",
     R"sql(
CREATE INDEX certificates_revoked_at ON certificates (revoked_at);
)sql"},
    {4, "replacement",
     R"sql(
ALTER TABLE certificates ADD COLUMN replace_by BIGINT;
ALTER TABLE certificates ADD COLUMN revoke_at BIGINT;
ALTER TABLE certificates ADD COLUMN scheduled_reason INTEGER;
CREATE INDEX certificates_revoke_at ON certificates (revoke_at);
)sql"},
    {5, "discovery",
     // The first sightings table was never written: it is made again without the foreign key,
     // since SSH keys (not certificates) are sighted too, and with team and gone_at.
     R"sql(
ALTER TABLE certificates ADD COLUMN oddities TEXT;
DROP TABLE sightings;
CREATE TABLE sightings (
  id TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  kind TEXT NOT NULL,
  location TEXT NOT NULL,
  details TEXT NOT NULL,
  team TEXT,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  gone_at BIGINT
);
CREATE UNIQUE INDEX sightings_place ON sightings (kind, location, fingerprint);
CREATE INDEX sightings_fingerprint ON sightings (fingerprint);
CREATE INDEX sightings_team ON sightings (team);
CREATE TABLE ssh_keys (
  fingerprint TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  bits INTEGER NOT NULL,
  blob BLOB NOT NULL,
  certificate TEXT,
  first_seen BIGINT NOT NULL
);
)sql"},
    {6, "extended_key_usage",
     // Policies judge EKU combinations over the whole inventory: a column, not a DER parse per
     // row. Rows recorded before it get theirs in migrate().
     R"sql(
ALTER TABLE certificates ADD COLUMN ekus TEXT;
CREATE INDEX certificates_ca ON certificates (not_after, fingerprint) WHERE is_ca = 1;
)sql"},
    {7, "sightings_first_seen",
     // Alerts read the places that showed a new certificate since their last look.
     R"sql(
CREATE INDEX sightings_first_seen ON sightings (kind, first_seen);
)sql"},
    {8, "channel",
     // Which front-end issued a certificate: reports tell automated renewal from manual by it.
     R"sql(
ALTER TABLE certificates ADD COLUMN channel TEXT;
)sql"},
};

// Migration 12: the indexes over columns that most rows leave empty (an authority, an owner
// or a team, a revocation) hold only the rows that have one. Every query that reads them asks
// for a value (`authority = ?`, `revoked_at IS NOT NULL`, `revoke_at <= ?`), which the planner
// of either database knows implies the index's condition. The rows that discovery and import
// bring in have none of these, so those indexes stay small, and a bulk import keeps them live
// instead of rebuilding each from a scan of the table (bulk_load.cc).
constexpr std::string_view kSparseIndexes = R"sql(
DROP INDEX certificates_authority_revoked;
CREATE INDEX certificates_authority_revoked ON certificates (authority, revoked_at)
  WHERE authority IS NOT NULL;
DROP INDEX certificates_revoked_at;
CREATE INDEX certificates_revoked_at ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;
DROP INDEX certificates_revoke_at;
CREATE INDEX certificates_revoke_at ON certificates (revoke_at) WHERE revoke_at IS NOT NULL;
DROP INDEX certificates_authority_expiry;
CREATE INDEX certificates_authority_expiry ON certificates (authority, not_after, fingerprint)
  WHERE authority IS NOT NULL;
DROP INDEX certificates_owner_expiry;
CREATE INDEX certificates_owner_expiry ON certificates (owner, not_after, fingerprint)
  WHERE owner IS NOT NULL;
DROP INDEX certificates_team_expiry;
CREATE INDEX certificates_team_expiry ON certificates (team, not_after, fingerprint)
  WHERE team IS NOT NULL;
)sql";

constexpr std::string_view kColumns =
    "fingerprint, serial, subject, common_name, issuer, sans, not_before, not_after, "
    "key_algorithm, key_bits, key_curve, signature_algorithm, is_ca, origin, authority, profile, "
    "owner, team, tags, revoked_at, revocation_reason, superseded_by, created_at, "
    "invalidity_date, key_sha256, replace_by, revoke_at, oddities, ekus, channel";

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += '\n';
    out += s;
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

store::Value opt(const std::optional<std::string>& v) {
  if (v) return *v;
  return nullptr;
}

std::optional<std::string> opt_text(const store::Row& r, int i) {
  if (r.is_null(i)) return std::nullopt;
  return r.text(i);
}

CertificateRecord to_record(const store::Row& r) {
  CertificateRecord c;
  c.fingerprint = r.text(0);
  c.serial = r.text(1);
  c.subject = r.text(2);
  c.common_name = r.text(3);
  c.issuer = r.text(4);
  for (const auto& s : split_lines(r.text(5))) {
    if (auto san = x509::parse_formatted_san(s)) c.sans.push_back(*san);
  }
  c.not_before = from_unix(r.int64(6));
  c.not_after = from_unix(r.int64(7));
  c.key_algorithm = r.text(8);
  c.key_bits = static_cast<int>(r.int64(9));
  c.key_curve = r.text(10);
  c.signature_algorithm = r.text(11);
  c.is_ca = r.int64(12) != 0;
  c.meta.origin = parse_origin(r.text(13)).value_or(Origin::kImported);
  c.meta.authority = opt_text(r, 14);
  c.meta.profile = opt_text(r, 15);
  c.meta.owner = opt_text(r, 16);
  c.meta.team = opt_text(r, 17);
  c.meta.tags = split_lines(r.text(18));
  if (!r.is_null(19)) c.revoked_at = from_unix(r.int64(19));
  if (!r.is_null(20)) c.revocation_reason = static_cast<int>(r.int64(20));
  c.superseded_by = opt_text(r, 21);
  c.created_at = from_unix(r.int64(22));
  if (!r.is_null(23)) c.invalidity_date = from_unix(r.int64(23));
  c.key_sha256 = r.optional_text(24).value_or("");
  if (!r.is_null(25)) c.replace_by = from_unix(r.int64(25));
  if (!r.is_null(26)) c.revoke_at = from_unix(r.int64(26));
  for (const auto& line : split_lines(r.optional_text(27).value_or(""))) {
    const auto tab = line.find('\t');
    c.oddities.push_back(x509::ParseOddity{
        .code = line.substr(0, tab),
        .detail = tab == std::string::npos ? std::string() : line.substr(tab + 1)});
  }
  c.extended_key_usage = split_lines(r.optional_text(28).value_or(""));
  c.meta.channel = opt_text(r, 29);
  return c;
}

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isxdigit(static_cast<unsigned char>(ch)) || ch == ':';
  });
}

std::string normalise_hex(std::string_view s) {
  std::string out;
  for (char ch : s)
    if (ch != ':') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  return out;
}

// Keyset cursor "<not_after>:<fingerprint>", "d" in front for the latest-first order (a cursor
// used with the other order would skip or repeat rows, so it is refused); opaque to clients.
struct Cursor {
  std::int64_t not_after;
  std::string fingerprint;
};

Result<Cursor> parse_cursor(std::string_view text, bool latest_first) {
  // Exactly what cursor_after() writes: an optional "d", a decimal number (a minus sign for
  // dates before 1970, no spaces or plus sign), a colon and 64 lower-case hex digits.
  const bool down = text.starts_with('d');
  const std::string_view rest = down ? text.substr(1) : text;
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) return fail(ErrorCode::kInvalidArgument, "bad cursor");
  const std::string_view number = rest.substr(0, colon);
  const std::string_view fp = rest.substr(colon + 1);
  std::int64_t na = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), na);
  const bool lower_hex = fp.size() == 64 && std::ranges::all_of(fp, [](char ch) {
                           return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
                         });
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() || !lower_hex) {
    return fail(ErrorCode::kInvalidArgument, "bad cursor");
  }
  if (down != latest_first) {
    return fail(ErrorCode::kInvalidArgument, "the cursor belongs to the other sort order");
  }
  return Cursor{na, std::string(fp)};
}

}  // namespace

std::string_view origin_name(Origin o) {
  switch (o) {
    case Origin::kIssued:
      return "issued";
    case Origin::kImported:
      return "imported";
    case Origin::kDiscovered:
      return "discovered";
    case Origin::kUpstream:
      return "upstream";
  }
  return "imported";
}

Result<Origin> parse_origin(std::string_view s) {
  for (Origin o : {Origin::kIssued, Origin::kImported, Origin::kDiscovered, Origin::kUpstream})
    if (origin_name(o) == s) return o;
  return fail(ErrorCode::kInvalidArgument,
              "unknown origin '" + std::string(s) + "' (issued, imported, discovered, upstream)");
}

std::string_view status_name(CertStatus s) {
  switch (s) {
    case CertStatus::kValid:
      return "valid";
    case CertStatus::kExpiring:
      return "expiring";
    case CertStatus::kExpired:
      return "expired";
    case CertStatus::kRevoked:
      return "revoked";
    case CertStatus::kSuperseded:
      return "superseded";
    case CertStatus::kNotYetValid:
      return "not_yet_valid";
  }
  return "valid";
}

Result<CertStatus> parse_status(std::string_view s) {
  for (CertStatus st : {CertStatus::kValid, CertStatus::kExpiring, CertStatus::kExpired,
                        CertStatus::kRevoked, CertStatus::kSuperseded, CertStatus::kNotYetValid})
    if (status_name(st) == s) return st;
  return fail(ErrorCode::kInvalidArgument,
              "unknown status '" + std::string(s) +
                  "' (valid, expiring, expired, revoked, superseded, not_yet_valid)");
}

namespace {
// Whether `sql` returns a row, asked in a read transaction: a backfill with nothing to do must
// not take the write lock (a server starting beside a bulk import).
Result<bool> any_row(store::Database& db, std::string_view sql) {
  CW_ASSIGN_OR_RETURN(auto tx, db.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one(sql));
  return row.has_value();
}

// Rows recorded before the ekus column get theirs, a batch per transaction; a certificate that
// no longer parses gets none.
Status backfill_ekus(store::Database& db) {
  CW_ASSIGN_OR_RETURN(const bool pending,
                      any_row(db, "SELECT 1 FROM certificates WHERE ekus IS NULL LIMIT 1"));
  if (!pending) return ok();
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto tx, db.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(
        auto rows,
        tx->query("SELECT fingerprint, der FROM certificates WHERE ekus IS NULL LIMIT 500"));
    if (rows.empty()) return ok();
    for (const auto& r : rows) {
      auto cert = x509::Certificate::from_der_lenient(r.blob(1));
      CW_RETURN_IF_ERROR(tx->execute(
          "UPDATE certificates SET ekus = ? WHERE fingerprint = ?",
          store::params(cert ? join_lines(cert->info().extended_key_usage) : "", r.text(0))));
    }
    CW_RETURN_IF_ERROR(tx->commit());
  }
}
}  // namespace

const store::SchemaModule kSchema{"inventory", 13};

Status Inventory::migrate(store::Database& db) {
  std::string trgm_schema;
  if (db.dialect() == store::Dialect::kPostgres) {
    CW_ASSIGN_OR_RETURN(trgm_schema, internal::ensure_pg_trgm(db));
  }
  const std::string search = internal::search_migration(db.dialect(), trgm_schema);
  const std::string positionless = internal::search_positionless_migration(db.dialect());
  const std::string backlog = internal::search_backlog_migration(db.dialect());
  std::vector<store::Migration> migrations(std::begin(kMigrations), std::end(kMigrations));
  // Indexed search: FTS5 on SQLite, pg_trgm on PostgreSQL, hence built per driver.
  migrations.push_back({9, "search", search});
  // Every command opens the inventory and asks whether a row still lacks its EKUs: without an
  // index that question read the whole table (17 s for a cold million-row database). Rows
  // are always written with theirs, so this index stays empty once the backfill is done.
  migrations.push_back({10, "ekus_backfill",
                        "CREATE INDEX certificates_ekus_missing ON certificates (fingerprint) "
                        "WHERE ekus IS NULL;"});
  migrations.push_back({11, "search_positionless", positionless});
  migrations.push_back({12, "sparse_indexes", kSparseIndexes});
  migrations.push_back({13, "search_backlog", backlog});
  CW_RETURN_IF_ERROR(db.migrate("inventory", migrations));
  // Rows recorded before key hashes were kept get theirs now, a batch per transaction. A
  // certificate that no longer parses keeps an empty hash.
  CW_ASSIGN_OR_RETURN(const bool hashes_pending,
                      any_row(db, "SELECT 1 FROM certificates WHERE key_sha256 IS NULL LIMIT 1"));
  while (hashes_pending) {
    CW_ASSIGN_OR_RETURN(auto tx, db.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT fingerprint, der FROM certificates WHERE "
                                             "key_sha256 IS NULL LIMIT 500"));
    if (rows.empty()) break;
    for (const auto& r : rows) {
      auto cert = x509::Certificate::from_der(r.blob(1));
      CW_RETURN_IF_ERROR(
          tx->execute("UPDATE certificates SET key_sha256 = ? WHERE fingerprint = ?",
                      store::params(cert ? internal::key_sha256(*cert) : "", r.text(0))));
    }
    CW_RETURN_IF_ERROR(tx->commit());
  }
  return backfill_ekus(db);
}

Result<bool> Inventory::record(store::Transaction& tx, const x509::Certificate& cert,
                               const RecordMeta& meta) const {
  const x509::CertificateInfo& i = cert.info();
  std::vector<std::string> sans;
  std::string search = internal::fold_case(i.subject);
  for (const auto& s : i.sans) {
    sans.push_back(x509::format_san(s));
    search += '\n';
    search += internal::fold_case(s.value);
  }
  // One "code<TAB>detail" line each; details are OIDs and short texts, made line-safe.
  std::vector<std::string> oddities;
  for (const auto& o : i.oddities) {
    std::string line = o.code + '\t' + o.detail;
    std::ranges::replace_if(
        line.begin() + static_cast<long>(o.code.size()) + 1, line.end(),
        [](char ch) { return ch == '\n' || ch == '\r' || ch == '\t'; }, ' ');
    oddities.push_back(std::move(line));
  }
  const std::int64_t now = to_unix(clock_.now());
  const store::Value params[] = {
      i.sha256_hex,
      cert.der(),
      i.serial_hex,
      i.subject,
      i.subject_cn,
      i.issuer,
      internal::fold_case(i.issuer),
      join_lines(sans),
      search,
      to_unix(i.not_before),
      to_unix(i.not_after),
      std::string(crypto::key_algorithm_name(i.key.algorithm)),
      static_cast<std::int64_t>(i.key.bits),
      i.key.curve,
      i.signature_algorithm,
      static_cast<std::int64_t>(i.is_ca() ? 1 : 0),
      std::string(origin_name(meta.origin)),
      opt(meta.authority),
      opt(meta.profile),
      opt(meta.owner),
      opt(meta.team),
      join_lines(meta.tags),
      internal::key_sha256(cert),
      oddities.empty() ? store::Value(nullptr) : store::Value(join_lines(oddities)),
      join_lines(i.extended_key_usage),
      opt(meta.channel),
      now,
      now};
  CW_ASSIGN_OR_RETURN(
      auto n, tx.execute_count(
                  "INSERT INTO certificates (fingerprint, der, serial, subject, common_name, "
                  "issuer, issuer_folded, sans, search_text, not_before, not_after, key_algorithm, "
                  "key_bits, "
                  "key_curve, signature_algorithm, is_ca, origin, authority, profile, owner, "
                  "team, tags, key_sha256, oddities, ekus, channel, created_at, updated_at) VALUES "
                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                  "?, ?) ON CONFLICT "
                  "(fingerprint) "
                  "DO NOTHING",
                  params));
  if (n == 1 && !meta.tags.empty()) {
    CW_RETURN_IF_ERROR(internal::write_tags(tx, i.sha256_hex, to_unix(i.not_after), meta.tags));
  }
  return n == 1;
}

Result<std::optional<CertificateRecord>> Inventory::get(std::string_view fingerprint) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  const store::Value params[] = {std::string(fingerprint)};
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kColumns) +
                                                  " FROM certificates WHERE fingerprint = ?",
                                              params));
  if (!row) return std::optional<CertificateRecord>();
  return std::optional<CertificateRecord>(to_record(*row));
}

Result<CertificateRecord> Inventory::resolve(std::string_view id,
                                             const std::optional<std::string>& only_team) const {
  if (!is_hex(id)) {
    return fail(ErrorCode::kInvalidArgument,
                "'" + std::string(id) + "' is not a fingerprint or serial (hex expected)");
  }
  const std::string key = normalise_hex(id);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  std::vector<CertificateRecord> found;
  auto collect = [&](const std::string& where, std::vector<store::Value> params) -> Status {
    std::string sql = "SELECT " + std::string(kColumns) + " FROM certificates WHERE " + where;
    if (only_team) {
      sql += " AND team = ?";
      params.emplace_back(*only_team);
    }
    CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql + " LIMIT 2", params));
    for (const auto& r : rows) found.push_back(to_record(r));
    return ok();
  };
  if (key.size() == 64) {
    CW_RETURN_IF_ERROR(collect("fingerprint = ?", {key}));
  }
  if (found.empty()) CW_RETURN_IF_ERROR(collect("serial = ?", {key}));
  if (found.empty() && key.size() >= 8 && key.size() < 64) {
    // Prefix search on the primary key: a range scan, not a LIKE, so it uses the index.
    std::string upper = key;
    upper.push_back('~');  // '~' sorts after every hex digit
    CW_RETURN_IF_ERROR(collect("fingerprint >= ? AND fingerprint < ?", {key, upper}));
  }
  if (found.empty()) return fail(ErrorCode::kNotFound, "no certificate matches '" + key + "'");
  if (found.size() > 1) {
    return fail(ErrorCode::kConflict,
                "'" + key + "' matches more than one certificate; give the full fingerprint");
  }
  return std::move(found.front());
}

Result<x509::Certificate> Inventory::certificate(std::string_view fingerprint) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  const store::Value params[] = {std::string(fingerprint)};
  CW_ASSIGN_OR_RETURN(auto row,
                      tx->query_one("SELECT der FROM certificates WHERE fingerprint = ?", params));
  if (!row) return fail(ErrorCode::kNotFound, "no certificate " + std::string(fingerprint));
  // Leniently: a certificate discovered in the wild was stored with its oddities.
  return x509::Certificate::from_der_lenient(row->blob(0));
}

namespace {
// A listing answers a search box: a text too short for a trigram would scan the whole inventory
// on every keystroke, so it is refused rather than slow. Bulk selections (revocation,
// campaigns) still accept it and scan.
bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
}

// Longer texts are not searches anyone types, and every trigram of one costs an index walk.
constexpr std::size_t kMaxSearchBytes = 256;

Status check_text_filter(std::string_view what, const std::optional<std::string>& text) {
  if (!text || text->empty()) return ok();
  if (!internal::is_valid_utf8(*text) || has_control(*text)) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) + " must be UTF-8 text without control characters");
  }
  if (text->size() > kMaxSearchBytes) {
    return fail(ErrorCode::kInvalidArgument, std::string(what) + " must be at most " +
                                                 std::to_string(kMaxSearchBytes) + " bytes");
  }
  if (internal::code_points(*text) < internal::kMinIndexedSearch) {
    return fail(ErrorCode::kInvalidArgument, std::string(what) + " needs at least " +
                                                 std::to_string(internal::kMinIndexedSearch) +
                                                 " characters");
  }
  return ok();
}
}  // namespace

Result<Page> Inventory::query(const Filter& f, const PageRequest& page) const {
  if (page.limit < 1 || page.limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql = "SELECT " + std::string(kColumns) + " FROM certificates WHERE 1 = 1";
  std::vector<store::Value> params;
  auto add = [&](std::string_view clause, store::Value v) {
    sql += clause;
    params.push_back(std::move(v));
  };
  CW_RETURN_IF_ERROR(check_text_filter("search", f.search));
  CW_RETURN_IF_ERROR(check_text_filter("issuer", f.issuer));
  // A NUL would be cut short by PostgreSQL's driver: the same filter, two answers.
  for (const auto* label : {&f.owner, &f.team, &f.tag, &f.authority, &f.key_algorithm}) {
    if (*label && has_control(**label)) {
      return fail(ErrorCode::kInvalidArgument, "filters must not contain control characters");
    }
  }
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(const auto walk, internal::choose_walk(*tx, f, db_.dialect()));
  if (walk.empty) return Page{};
  CW_ASSIGN_OR_RETURN(const auto broad, internal::broad_text_filters(*tx, f, db_.dialect()));
  internal::append_filter(f, db_.dialect(), clock_.now(), sql, params, broad, walk.column);
  if (page.cursor) {
    CW_ASSIGN_OR_RETURN(Cursor c, parse_cursor(*page.cursor, page.latest_first));
    // The leading range lets the planner seek to the cursor in the (not_after, fingerprint)
    // index; with the OR alone SQLite scans the index from its start, so page k of a listing
    // cost k pages.
    const bool down = page.latest_first;
    add(down ? " AND not_after <= ?" : " AND not_after >= ?", c.not_after);
    add(down ? " AND (not_after < ?" : " AND (not_after > ?", c.not_after);
    add(down ? " OR fingerprint < ?)" : " OR fingerprint > ?)", c.fingerprint);
  }
  sql += page.latest_first ? " ORDER BY not_after DESC, fingerprint DESC LIMIT "
                           : " ORDER BY not_after, fingerprint LIMIT ";
  sql += std::to_string(page.limit + 1);

  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  Page out;
  for (const auto& r : rows) {
    if (static_cast<int>(out.items.size()) == page.limit) {
      const auto& last = out.items.back();
      out.next_cursor = cursor_after(last, page.latest_first);
      break;
    }
    out.items.push_back(to_record(r));
  }
  return out;
}

std::string cursor_after(const CertificateRecord& record, bool latest_first) {
  return (latest_first ? "d" : "") + std::to_string(to_unix(record.not_after)) + ":" +
         record.fingerprint;
}

Result<std::int64_t> Inventory::count() const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT COUNT(*) FROM certificates"));
  return row ? row->int64(0) : 0;
}

Result<std::vector<std::string>> normalize_tags(std::span<const std::string> tags) {
  std::vector<std::string> out;
  for (const std::string& raw : tags) {
    std::string tag;
    tag.reserve(raw.size());
    for (char ch : raw) {
      tag.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    }
    const bool ok =
        !tag.empty() && tag.size() <= 64 && std::all_of(tag.begin(), tag.end(), [](char ch) {
          return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 std::string_view("._:/=+-").find(ch) != std::string_view::npos;
        });
    if (!ok) {
      return fail(ErrorCode::kInvalidArgument,
                  "tag '" + raw + "' must be 1-64 characters of a-z, 0-9 and ._:/=+-");
    }
    if (std::find(out.begin(), out.end(), tag) == out.end()) out.push_back(std::move(tag));
  }
  if (out.size() > kMaxTags) {
    return fail(ErrorCode::kInvalidArgument,
                "at most " + std::to_string(kMaxTags) + " tags per certificate");
  }
  return out;
}

namespace {
// Owner and team are short single-line labels (a user, a mailbox, a team name).
Status check_label(std::string_view what, std::string_view value) {
  const bool printable = std::all_of(value.begin(), value.end(), [](char ch) {
    return static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f;
  });
  if (value.size() > 256 || !printable) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) + " must be at most 256 characters, without control characters");
  }
  return ok();
}
}  // namespace

Result<RecordMeta> normalize_meta(RecordMeta meta) {
  if (meta.owner) CW_RETURN_IF_ERROR(check_label("owner", *meta.owner));
  if (meta.team) CW_RETURN_IF_ERROR(check_label("team", *meta.team));
  CW_ASSIGN_OR_RETURN(meta.tags, normalize_tags(meta.tags));
  return meta;
}

Result<CertificateRecord> Inventory::update_metadata(std::string_view fingerprint,
                                                     const MetadataUpdate& update,
                                                     std::string_view actor) const {
  if (update.owner) CW_RETURN_IF_ERROR(check_label("owner", *update.owner));
  if (update.team) CW_RETURN_IF_ERROR(check_label("team", *update.team));
  std::optional<std::vector<std::string>> replace;
  if (update.tags) {
    CW_ASSIGN_OR_RETURN(replace, normalize_tags(*update.tags));
  }
  CW_ASSIGN_OR_RETURN(auto add, normalize_tags(update.add_tags));
  CW_ASSIGN_OR_RETURN(auto remove, normalize_tags(update.remove_tags));

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  const store::Value key[] = {std::string(fingerprint)};
  // The row lock makes concurrent editors of one certificate take turns: each reads what the
  // previous one wrote, so no edit is lost and every audit event's "from" is the true state.
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kColumns) +
                                                  " FROM certificates WHERE fingerprint = ? "
                                                  "FOR UPDATE",
                                              key));
  if (!row) return fail(ErrorCode::kNotFound, "no certificate " + std::string(fingerprint));
  CertificateRecord record = to_record(*row);
  const RecordMeta before = record.meta;
  if (update.editor_team) {
    if (record.meta.team != update.editor_team) {
      return fail(ErrorCode::kNotFound, "no certificate " + std::string(fingerprint));
    }
    if (update.team && update.team != update.editor_team) {
      return fail(ErrorCode::kUnauthorized, "a requester cannot move certificates out of its team");
    }
  }

  auto set_label = [](std::optional<std::string>& field, const std::optional<std::string>& to) {
    if (!to) return;
    field = to->empty() ? std::nullopt : std::optional<std::string>(*to);
  };
  set_label(record.meta.owner, update.owner);
  set_label(record.meta.team, update.team);
  std::vector<std::string> tags = replace ? *replace : record.meta.tags;
  for (auto& t : add) {
    if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(std::move(t));
  }
  std::erase_if(tags, [&](const std::string& t) {
    return std::find(remove.begin(), remove.end(), t) != remove.end();
  });
  if (tags.size() > kMaxTags) {
    return fail(ErrorCode::kInvalidArgument,
                "at most " + std::to_string(kMaxTags) + " tags per certificate");
  }
  record.meta.tags = std::move(tags);

  nlohmann::json changes = nlohmann::json::object();
  auto note = [&](const char* field, const auto& from, const auto& to) {
    if (from != to) changes[field] = {{"from", from}, {"to", to}};
  };
  auto or_null = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  note("owner", or_null(before.owner), or_null(record.meta.owner));
  note("team", or_null(before.team), or_null(record.meta.team));
  note("tags", nlohmann::json(before.tags), nlohmann::json(record.meta.tags));
  if (changes.empty()) return record;

  const store::Value params[] = {opt(record.meta.owner), opt(record.meta.team),
                                 join_lines(record.meta.tags), to_unix(clock_.now()),
                                 std::string(fingerprint)};
  CW_RETURN_IF_ERROR(
      tx->execute("UPDATE certificates SET owner = ?, team = ?, tags = ?, updated_at = ? "
                  "WHERE fingerprint = ?",
                  params));
  if (before.tags != record.meta.tags) {
    CW_RETURN_IF_ERROR(
        internal::write_tags(*tx, record.fingerprint, to_unix(record.not_after), record.meta.tags));
  }
  CW_RETURN_IF_ERROR(audit_.append(*tx, audit::Event{std::string(actor),
                                                     "certificate.update",
                                                     "certificate",
                                                     std::string(fingerprint),
                                                     {{"changes", changes}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  return record;
}

}  // namespace certward::inventory
