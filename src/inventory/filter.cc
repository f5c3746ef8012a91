// The list filter as SQL (the listing, bulk revocation), and which index a listing with several
// column filters walks on SQLite.

#include <optional>

#include "inventory/internal.h"

namespace certward::inventory::internal {
namespace {

// A column filter with an index of its own, (column, not_after, fingerprint): a listing that
// sets only it walks that index in expiry order and stops at the page's end.
struct Equality {
  std::string_view column;
  std::string text;
  std::optional<std::int64_t> number;  // key_bits; the others are text
  store::Value value() const {
    if (number) return store::Value(*number);
    return store::Value(text);
  }
};

// In the order a tie is settled: the team first (a team-scoped caller's listing then costs in
// proportion to its own team's rows, as its text filters do), then the others.
std::vector<Equality> indexed_equalities(const Filter& f) {
  std::vector<Equality> out;
  if (f.team) out.push_back({"team", *f.team, std::nullopt});
  if (f.authority) out.push_back({"authority", *f.authority, std::nullopt});
  if (f.key_algorithm) out.push_back({"key_algorithm", fold_case(*f.key_algorithm), std::nullopt});
  if (f.key_bits) out.push_back({"key_bits", {}, static_cast<std::int64_t>(*f.key_bits)});
  if (f.owner) out.push_back({"owner", *f.owner, std::nullopt});
  if (f.origin) out.push_back({"origin", std::string(origin_name(*f.origin)), std::nullopt});
  return out;
}

}  // namespace

Result<WalkChoice> choose_walk(store::Transaction& tx, const Filter& f, store::Dialect dialect) {
  WalkChoice choice;
  if (dialect != store::Dialect::kSqlite) return choice;
  const auto equalities = indexed_equalities(f);
  if (equalities.size() < 2) return choice;
  std::int64_t fewest = kBroadMatches + 1;
  for (const auto& e : equalities) {
    const std::string sql = "SELECT COUNT(*) FROM (SELECT 1 FROM certificates WHERE " +
                            std::string(e.column) + " = ? LIMIT " +
                            std::to_string(kBroadMatches) + ") p";
    const store::Value params[] = {e.value()};
    CW_ASSIGN_OR_RETURN(auto row, tx.query_one(sql, params));
    const std::int64_t n = row ? row->int64(0) : 0;
    if (n == 0) {
      choice.empty = true;
      return choice;
    }
    if (n < fewest) {
      fewest = n;
      choice.column = std::string(e.column);
    }
  }
  return choice;
}

void append_filter(const Filter& f, store::Dialect dialect, SysTime now, std::string& sql,
                   std::vector<store::Value>& params, const std::set<TextFilter>& broad,
                   std::string_view walk) {
  auto add = [&](std::string_view clause, store::Value v) {
    sql += clause;
    params.push_back(std::move(v));
  };
  if (f.status) append_status_filter(*f.status, now, sql, params);
  if (f.expires_after) add(" AND not_after >= ?", to_unix(*f.expires_after));
  if (f.expires_before) add(" AND not_after < ?", to_unix(*f.expires_before));
  for (const auto& e : indexed_equalities(f)) {
    // SQLite's unary plus keeps a column's index out of the plan: the walk is on `walk`'s.
    const bool other = !walk.empty() && e.column != walk;
    sql += std::string(other ? " AND +" : " AND ") + std::string(e.column) + " = ?";
    params.push_back(e.value());
  }
  append_text_filters(f, dialect, broad, sql, params);
  if (f.issued_after) add(" AND not_before >= ?", to_unix(*f.issued_after));
  if (f.issued_before) add(" AND not_before < ?", to_unix(*f.issued_before));
  if (f.key_sha256) add(" AND key_sha256 = ?", fold_case(*f.key_sha256));
  if (f.fingerprint) add(" AND fingerprint = ?", fold_case(*f.fingerprint));
  // A literal, not a parameter: only then may the planner use the partial index of CAs.
  if (f.is_ca) sql += *f.is_ca ? " AND is_ca = 1" : " AND is_ca = 0";
}

}  // namespace certward::inventory::internal
