#pragma once
// Private to the inventory: the one certificate-status rule, as SQL for queries and as C++ for
// records, so that a list filter, a record and the metrics can never disagree; the filter
// every query of the inventory shares; the key hash every record carries.

#include <set>
#include <string>
#include <vector>

#include "inventory/inventory.h"

namespace certward::inventory::internal {

// Appends " AND <predicate>" selecting the rows whose status is `status` at `now` (expiring:
// not after now + kDefaultExpiringWindow), and its parameters.
void append_status_filter(CertStatus status, SysTime now, std::string& sql,
                          std::vector<store::Value>& params);

// Appends " AND ..." for every field `f` sets (the list filter, bulk revocation), in the
// dialect of the database that will run it; text filters named in `broad` are checked row by
// row (see append_text_filters). TextFilter names the filters answered through an index of
// their own rather than the expiry order.
// `walk` (SQLite): the column filter whose index the listing walks (choose_walk); the others
// are kept out of the plan.
enum class TextFilter { kSearch, kIssuer, kTag };
void append_filter(const Filter& f, store::Dialect dialect, SysTime now, std::string& sql,
                   std::vector<store::Value>& params, const std::set<TextFilter>& broad = {},
                   std::string_view walk = {});

// Which of `f`'s column filters with an index of their own (team, authority, key_algorithm,
// key_bits, owner, origin) a listing that sets several walks: the one matching the fewest rows,
// each counted through its index up to kBroadMatches. SQLite keeps no statistics here, and
// left to itself it may walk a team's 200,000 rows for a key size no certificate has. `empty`
// when one of them matches no row: neither does the listing. On PostgreSQL, whose planner has
// statistics, and with fewer than two such filters: no choice ("").
struct WalkChoice {
  std::string column;
  bool empty = false;
};
Result<WalkChoice> choose_walk(store::Transaction& tx, const Filter& f, store::Dialect dialect);

// Text filters (search.cc). Search and issuer texts are folded alike when written and when
// asked: ASCII letters to lower case, every other byte as is, on both drivers.
std::string fold_case(std::string_view s);
// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view s);
// Unicode code points in UTF-8 `s` (continuation bytes not counted).
std::size_t code_points(std::string_view s);
// A trigram needs three characters: shorter search and issuer texts cannot use the index.
inline constexpr std::size_t kMinIndexedSearch = 3;

// Inventory migration 9 for `dialect`; `trgm_schema` names the schema holding pg_trgm
// (PostgreSQL only).
std::string search_migration(store::Dialect dialect, std::string_view trgm_schema);
// Migration 11: SQLite's trigram table rebuilt without token positions.
std::string search_positionless_migration(store::Dialect dialect);
// Migration 13: SQLite's trigram table written from a backlog, a few hundred rows at a time.
std::string search_backlog_migration(store::Dialect dialect);
// Creates pg_trgm unless present; returns the schema it lives in.
// Errors: the database's, with a hint, when the role may not create the extension.
Result<std::string> ensure_pg_trgm(store::Database& db);
// Replaces the certificate's rows in certificate_tags (the indexed copy of its tags).
Status write_tags(store::Transaction& tx, const std::string& fingerprint, std::int64_t not_after,
                  const std::vector<std::string>& tags);
// A text filter matching at least this many rows is "broad": a listing finds a page sooner by
// walking the expiry order and checking each row than by collecting and sorting every match.
inline constexpr int kBroadMatches = 2000;
// Which of `f`'s text filters are broad, counted through their indexes (each count stops at
// kBroadMatches, so it costs at most that many index entries). SQLite only: on PostgreSQL the
// planner judges by its statistics, and this returns none.
Result<std::set<TextFilter>> broad_text_filters(store::Transaction& tx, const Filter& f,
                                                store::Dialect dialect);
// Appends the search, issuer and tag filters of `f`. SQLite: the narrow ones as a subquery
// through their index, which the planner runs first; those in `broad` as a check on each row.
// PostgreSQL: as conditions its planner weighs.
void append_text_filters(const Filter& f, store::Dialect dialect, const std::set<TextFilter>& broad,
                         std::string& sql, std::vector<store::Value>& params);

// A bulk load into SQLite's certificates table (bulk_load.cc), inside one write transaction:
// begin() sets aside the non-unique indexes and the search trigger, the caller inserts rows
// (record()), finish() rebuilds the search rows of what was inserted and every index set
// aside. Both belong to the same transaction, so a rollback at any point restores the schema
// with the rows. SQLite only.
class BulkLoad {
 public:
  static Result<BulkLoad> begin(store::Transaction& tx);
  // Writes the search rows of the rows inserted since its last call: called after each batch,
  // so that the trigram work runs beside the parsing instead of after it.
  Status write_search(store::Transaction& tx);
  Status finish(store::Transaction& tx);

 private:
  struct Index {
    std::string name, sql;
  };
  std::vector<Index> indexes_;
  std::string trigger_sql_;
  std::int64_t rowid_mark_ = 0;
};
// The largest rowid of certificates (0 when empty), one seek (SQLite): the mark past which a
// bulk load's rows lie, and a bound on the row count that needs no scan.
Result<std::int64_t> max_certificate_rowid(store::Transaction& tx);

// SHA-256 of the certificate's SubjectPublicKeyInfo DER, lower-case hex: what identifies its
// key across certificates (revoking every certificate of a compromised key).
std::string key_sha256(const x509::Certificate& cert);

}  // namespace certward::inventory::internal
