// The inventory's indexed text filters: the schema that serves them (migration 9, one text per
// driver since SQLite answers with FTS5 and PostgreSQL with pg_trgm), the case folding both
// drivers share, the tag table kept in step with every write, and the SQL of the search,
// issuer and tag filters.
//
// Semantics, identical on both drivers because the folding is done here and the databases only
// ever compare bytes: ASCII letters match whatever their case; every other character (UTF-8)
// matches exactly as written; '%', '_', '\' and quotes are plain characters.

#include <algorithm>
#include <cctype>
#include <set>

#include "inventory/internal.h"

namespace certward::inventory::internal {
namespace {

// Tags are newline-joined in certificates.tags; the backfill splits them with a recursive CTE.
// The driver's own names for chr/strpos are the only difference.
std::string tag_backfill(std::string_view chr, std::string_view strpos) {
  const std::string nl = std::string(chr) + "(10)";
  const std::string at = std::string(strpos) + "(rest, " + nl + ")";
  return "WITH RECURSIVE split (fingerprint, not_after, tag, rest) AS (\n"
         "  SELECT fingerprint, not_after, '', tags || " +
         nl +
         " FROM certificates WHERE tags <> ''\n"
         "  UNION ALL\n"
         "  SELECT fingerprint, not_after, substr(rest, 1, " +
         at + " - 1), substr(rest, " + at +
         " + 1) FROM split WHERE rest <> '')\n"
         "INSERT INTO certificate_tags (tag, not_after, fingerprint)\n"
         "  SELECT tag, not_after, fingerprint FROM split WHERE tag <> '';\n";
}

// What both drivers share: the folded issuer, the tag table, and one (column, expiry) index per
// equality filter, so that a filter seeks to its rows already in list order and a keyset page
// starts where the previous one ended.
constexpr std::string_view kCommonDdl = R"sql(
ALTER TABLE certificates ADD COLUMN issuer_folded TEXT;
CREATE TABLE certificate_tags (
  tag TEXT NOT NULL,
  not_after BIGINT NOT NULL,
  fingerprint TEXT NOT NULL,
  PRIMARY KEY (tag, not_after, fingerprint)
);
CREATE INDEX certificate_tags_fingerprint ON certificate_tags (fingerprint);
DROP INDEX certificates_owner;
DROP INDEX certificates_team;
CREATE INDEX certificates_owner_expiry ON certificates (owner, not_after, fingerprint);
CREATE INDEX certificates_team_expiry ON certificates (team, not_after, fingerprint);
CREATE INDEX certificates_origin_expiry ON certificates (origin, not_after, fingerprint);
CREATE INDEX certificates_authority_expiry ON certificates (authority, not_after, fingerprint);
CREATE INDEX certificates_key_algorithm_expiry ON certificates (key_algorithm, not_after, fingerprint);
CREATE INDEX certificates_key_bits_expiry ON certificates (key_bits, not_after, fingerprint);
)sql";

// SQLite: a trigram FTS5 table beside certificates, written by triggers so that every write
// path, present or future, keeps it in step inside its own transaction. It keeps its own copy
// of the text rather than pointing at certificates' rowids, which VACUUM may renumber. Its
// fingerprint is not indexed: a delete or a change of the searched text (none happen today;
// both are derived from the DER) costs a scan of the search table.
constexpr std::string_view kSqliteDdl = R"sql(
UPDATE certificates SET issuer_folded = lower(issuer);
CREATE VIRTUAL TABLE certificate_search USING fts5 (
  fingerprint UNINDEXED, search_text, issuer, tokenize = 'trigram case_sensitive 1');
INSERT INTO certificate_search (fingerprint, search_text, issuer)
  SELECT fingerprint, search_text, issuer_folded FROM certificates;
CREATE TRIGGER certificates_search_insert AFTER INSERT ON certificates BEGIN
  INSERT INTO certificate_search (fingerprint, search_text, issuer)
    VALUES (new.fingerprint, new.search_text, new.issuer_folded);
END;
CREATE TRIGGER certificates_search_update AFTER UPDATE OF search_text, issuer_folded
    ON certificates BEGIN
  DELETE FROM certificate_search WHERE fingerprint = old.fingerprint;
  INSERT INTO certificate_search (fingerprint, search_text, issuer)
    VALUES (new.fingerprint, new.search_text, new.issuer_folded);
END;
CREATE TRIGGER certificates_search_delete AFTER DELETE ON certificates BEGIN
  DELETE FROM certificate_search WHERE fingerprint = old.fingerprint;
  DELETE FROM certificate_tags WHERE fingerprint = old.fingerprint;
END;
)sql";

// Migration 11: the trigram table again, without token positions (detail=none). A phrase
// query needs them; the search below does not (every trigram ANDed, then the substring
// checked on each candidate row by GLOB). The table is about half the size, and writing it
// for a million rows takes 8 s instead of 16.
constexpr std::string_view kSqliteSearchV2 = R"sql(
DROP TABLE certificate_search;
CREATE VIRTUAL TABLE certificate_search USING fts5 (
  fingerprint UNINDEXED, search_text, issuer, tokenize = 'trigram case_sensitive 1',
  detail = none);
INSERT INTO certificate_search (fingerprint, search_text, issuer)
  SELECT fingerprint, search_text, issuer_folded FROM certificates;
)sql";

// Migration 13: the trigram table written a few hundred rows at a time. FTS5 writes a new
// segment (and merges older ones) for every transaction that adds to it, whatever the number
// of rows: written row by row from the insert trigger, it was half of the bytes and about 40%
// of the CPU of the RA's group-commit writer under REST issuance load (docs/benchmarks.md).
// A new certificate's fingerprint now goes to a backlog, and the 256th row moved into the
// backlog moves the whole backlog into the trigram table in one statement. The search stays
// exact: it also reads the backlog's rows directly (substring_candidates). A row changed or
// deleted while in the backlog is indexed from its current text, or not at all.
constexpr std::string_view kSqliteSearchBacklog = R"sql(
CREATE TABLE IF NOT EXISTS certificate_search_backlog (
  seq INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL
);
DROP TRIGGER IF EXISTS certificates_search_insert;
CREATE TRIGGER certificates_search_insert AFTER INSERT ON certificates BEGIN
  INSERT INTO certificate_search_backlog (fingerprint) VALUES (new.fingerprint);
END;
DROP TRIGGER IF EXISTS certificate_search_backlog_flush;
CREATE TRIGGER certificate_search_backlog_flush AFTER INSERT ON certificate_search_backlog
    WHEN (SELECT count(*) FROM certificate_search_backlog) >= 256 BEGIN
  INSERT INTO certificate_search (fingerprint, search_text, issuer)
    SELECT c.fingerprint, c.search_text, c.issuer_folded
    FROM certificate_search_backlog b JOIN certificates c ON c.fingerprint = b.fingerprint;
  DELETE FROM certificate_search_backlog;
END;
DROP TRIGGER IF EXISTS certificates_search_update;
CREATE TRIGGER certificates_search_update AFTER UPDATE OF search_text, issuer_folded
    ON certificates BEGIN
  DELETE FROM certificate_search WHERE fingerprint = old.fingerprint;
  INSERT INTO certificate_search (fingerprint, search_text, issuer)
    SELECT new.fingerprint, new.search_text, new.issuer_folded
    WHERE NOT EXISTS (SELECT 1 FROM certificate_search_backlog WHERE fingerprint = new.fingerprint);
END;
DROP TRIGGER IF EXISTS certificates_search_delete;
CREATE TRIGGER certificates_search_delete AFTER DELETE ON certificates BEGIN
  DELETE FROM certificate_search WHERE fingerprint = old.fingerprint;
  DELETE FROM certificate_search_backlog WHERE fingerprint = old.fingerprint;
  DELETE FROM certificate_tags WHERE fingerprint = old.fingerprint;
END;
)sql";

bool starts_code_point(char ch) { return (static_cast<unsigned char>(ch) & 0xc0) != 0x80; }

// LIKE's wildcards escaped, so that user text matches literally (with ESCAPE '\').
std::string like_pattern(std::string_view folded) {
  std::string out = "%";
  for (char ch : folded) {
    if (ch == '%' || ch == '_' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  out.push_back('%');
  return out;
}

// A GLOB pattern for `folded` as a substring: GLOB's wildcards each in a bracket class of its
// own, so that they match themselves. SQLite checks it on every row the trigram query below
// selects, which makes the answer exact (the trigram table has no positions, see
// kSqliteSearchV2).
std::string glob_pattern(std::string_view folded) {
  std::string out = "*";
  for (char ch : folded) {
    if (ch == '*' || ch == '?' || ch == '[') {
      out += '[';
      out += ch;
      out += ']';
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('*');
  return out;
}

// An FTS5 query for the rows holding every trigram of `folded` (at least three code points):
// each trigram one quoted token, quotes doubled, ANDed. Not GLOB's own trigram extraction,
// which gives up on a pattern whose literal runs are shorter than three characters (a search
// for "***" would read the whole table).
std::string fts_trigrams(std::string_view folded) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < folded.size(); ++i) {
    if (starts_code_point(folded[i])) starts.push_back(i);
  }
  starts.push_back(folded.size());
  std::set<std::string_view> seen;
  std::string out;
  for (std::size_t k = 0; k + 3 < starts.size(); ++k) {
    const std::string_view trigram = folded.substr(starts[k], starts[k + 3] - starts[k]);
    if (!seen.insert(trigram).second) continue;
    if (!out.empty()) out += " AND ";
    out.push_back('"');
    for (char ch : trigram) {
      if (ch == '"') out.push_back('"');
      out.push_back(ch);
    }
    out.push_back('"');
  }
  return out;
}

// The smallest lower-case hex string above every string starting with `prefix`; empty when
// there is none (all 'f').
std::string hex_successor(std::string prefix) {
  while (!prefix.empty()) {
    char& last = prefix.back();
    if (last == 'f') {
      prefix.pop_back();
      continue;
    }
    last = last == '9' ? 'a' : static_cast<char>(last + 1);
    return prefix;
  }
  return prefix;
}

// "<column> starts with <hex>" as an index range (a LIKE prefix would not use a btree index
// under a non-C collation on PostgreSQL).
std::string hex_prefix(std::string_view column, const std::string& hex,
                       std::vector<store::Value>& params) {
  const std::string above = hex_successor(hex);
  std::string sql = "(" + std::string(column) + " >= ?";
  params.emplace_back(hex);
  if (!above.empty()) {
    sql += " AND " + std::string(column) + " < ?";
    params.emplace_back(above);
  }
  return sql + ")";
}

// A search in folded form; `hex` is set when it reads as (colon-separated) hex digits, enough
// of them to be a fingerprint or serial prefix.
struct SearchText {
  std::string folded;
  std::string hex;
};

SearchText search_text(std::string_view search) {
  SearchText t{fold_case(search), {}};
  const bool is_hex = std::all_of(t.folded.begin(), t.folded.end(), [&](char ch) {
    if (ch != ':') t.hex.push_back(ch);
    return ch == ':' || std::isxdigit(static_cast<unsigned char>(ch));
  });
  if (!is_hex || t.hex.size() < kMinIndexedSearch) t.hex.clear();
  return t;
}

// A substring filter on a folded text column as a subquery of fingerprints: through the
// trigram index when the text has enough characters for one trigram, else by a scan with the
// same meaning.
std::string substring_candidates(store::Dialect dialect, std::string_view column,
                                 std::string_view fts_column, std::string_view folded,
                                 std::vector<store::Value>& params) {
  if (dialect == store::Dialect::kSqlite && code_points(folded) >= kMinIndexedSearch) {
    params.emplace_back(fts_trigrams(folded));
    params.emplace_back(glob_pattern(folded));
    params.emplace_back(like_pattern(folded));
    // The rows not yet in the trigram table are read from the backlog (kSqliteSearchBacklog).
    return "SELECT fingerprint FROM certificate_search WHERE certificate_search MATCH ? AND " +
           std::string(fts_column) +
           " GLOB ? UNION ALL SELECT b.fingerprint FROM certificate_search_backlog b JOIN "
           "certificates c ON c.fingerprint = b.fingerprint WHERE c." +
           std::string(column) + " LIKE ? ESCAPE '\\'";
  }
  params.emplace_back(like_pattern(folded));
  return "SELECT fingerprint FROM certificates WHERE " + std::string(column) +
         " LIKE ? ESCAPE '\\'";
}

// The rows a text filter selects, as a subquery of fingerprints through its index.
std::string candidates(TextFilter which, const Filter& f, store::Dialect dialect,
                       std::vector<store::Value>& params) {
  switch (which) {
    case TextFilter::kSearch: {
      const SearchText t = search_text(*f.search);
      std::string sql =
          substring_candidates(dialect, "search_text", "search_text", t.folded, params);
      if (!t.hex.empty()) {
        for (std::string_view column : {"fingerprint", "serial"}) {
          // UNION ALL: an IN list needs no duplicates removed, and it streams under a LIMIT.
          sql += " UNION ALL SELECT fingerprint FROM certificates WHERE " +
                 hex_prefix(column, t.hex, params);
        }
      }
      return sql;
    }
    case TextFilter::kIssuer:
      return substring_candidates(dialect, "issuer_folded", "issuer", fold_case(*f.issuer), params);
    case TextFilter::kTag:
      // Tags are stored lower-case (normalize_tags): a whole tag, whatever the case asked.
      params.emplace_back(fold_case(*f.tag));
      return "SELECT fingerprint FROM certificate_tags WHERE tag = ?";
  }
  return {};
}

// The same filter as a condition on the row. SQLite checks it on each row as it walks the
// expiry order; PostgreSQL's planner weighs it with the column statistics, and answers it
// through the trigram index when few rows match, by the walk when many do.
std::string predicate(TextFilter which, const Filter& f, std::vector<store::Value>& params) {
  switch (which) {
    case TextFilter::kSearch: {
      const SearchText t = search_text(*f.search);
      std::string sql = "(search_text LIKE ? ESCAPE '\\'";
      params.emplace_back(like_pattern(t.folded));
      if (!t.hex.empty()) {
        for (std::string_view column : {"fingerprint", "serial"})
          sql += " OR " + hex_prefix(column, t.hex, params);
      }
      return sql + ")";
    }
    case TextFilter::kIssuer:
      params.emplace_back(like_pattern(fold_case(*f.issuer)));
      return "issuer_folded LIKE ? ESCAPE '\\'";
    case TextFilter::kTag: {
      // Tags are newline-joined in the row.
      std::string pattern = like_pattern(fold_case(*f.tag));
      params.emplace_back("%\n" + pattern.substr(1, pattern.size() - 2) + "\n%");
      return "('\n' || tags || '\n') LIKE ? ESCAPE '\\'";
    }
  }
  return {};
}

bool is_set(TextFilter which, const Filter& f) {
  switch (which) {
    case TextFilter::kSearch:
      return f.search && !f.search->empty();
    case TextFilter::kIssuer:
      return f.issuer && !f.issuer->empty();
    case TextFilter::kTag:
      return f.tag.has_value();
  }
  return false;
}

constexpr TextFilter kTextFilters[] = {TextFilter::kSearch, TextFilter::kIssuer, TextFilter::kTag};

}  // namespace

std::string fold_case(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    i += len;
  }
  return true;
}

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), starts_code_point));
}

std::string search_migration(store::Dialect dialect, std::string_view trgm_schema) {
  std::string sql(kCommonDdl);
  if (dialect == store::Dialect::kSqlite) {
    sql += tag_backfill("char", "instr");
    sql += kSqliteDdl;
    return sql;
  }
  sql += tag_backfill("chr", "strpos");
  // translate(), not lower(): lower() folds non-ASCII letters by the server's locale, and the
  // rows written later are folded in C++ (ASCII only).
  sql +=
      "UPDATE certificates SET issuer_folded = translate(issuer, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
      "'abcdefghijklmnopqrstuvwxyz');\n";
  const std::string ops = "\"" + std::string(trgm_schema) + "\".gin_trgm_ops";
  sql += "CREATE INDEX certificates_search_trgm ON certificates USING gin (search_text " + ops +
         ");\n";
  sql += "CREATE INDEX certificates_issuer_trgm ON certificates USING gin (issuer_folded " + ops +
         ");\n";
  return sql;
}

std::string search_positionless_migration(store::Dialect dialect) {
  // PostgreSQL's pg_trgm indexes keep no positions: nothing to change there.
  return dialect == store::Dialect::kSqlite ? std::string(kSqliteSearchV2) : "SELECT 1;";
}

std::string search_backlog_migration(store::Dialect dialect) {
  // PostgreSQL's trigram indexes are on certificates itself: nothing to defer there.
  return dialect == store::Dialect::kSqlite ? std::string(kSqliteSearchBacklog) : "SELECT 1;";
}

Result<std::string> ensure_pg_trgm(store::Database& db) {
  constexpr std::string_view kWhere =
      "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
      "WHERE e.extname = 'pg_trgm'";
  for (int attempt = 0;; ++attempt) {
    CW_ASSIGN_OR_RETURN(auto tx, db.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(auto row, tx->query_one(kWhere));
    if (row) return row->text(0);
    // A trusted extension since PostgreSQL 13: the database owner may create it. Two replicas
    // starting at once may race here; the loser finds the winner's on its second look.
    auto created = tx->execute("CREATE EXTENSION IF NOT EXISTS pg_trgm");
    if (created) created = tx->commit();
    if (!created && attempt > 0) {
      return fail(created.error().code,
                  "cannot create the PostgreSQL extension pg_trgm (the inventory's search "
                  "index): " +
                      created.error().message +
                      "; have a superuser run CREATE EXTENSION pg_trgm in this database");
    }
  }
}

Status write_tags(store::Transaction& tx, const std::string& fingerprint, std::int64_t not_after,
                  const std::vector<std::string>& tags) {
  CW_RETURN_IF_ERROR(
      tx.execute("DELETE FROM certificate_tags WHERE fingerprint = ?", store::params(fingerprint)));
  for (const auto& tag : tags) {
    CW_RETURN_IF_ERROR(
        tx.execute("INSERT INTO certificate_tags (tag, not_after, fingerprint) VALUES (?, ?, ?) "
                   "ON CONFLICT (tag, not_after, fingerprint) DO NOTHING",
                   store::params(tag, not_after, fingerprint)));
  }
  return ok();
}

Result<std::set<TextFilter>> broad_text_filters(store::Transaction& tx, const Filter& f,
                                                store::Dialect dialect) {
  std::set<TextFilter> broad;
  // PostgreSQL's planner has statistics to judge by; an FTS5 table offers SQLite's none.
  if (dialect != store::Dialect::kSqlite) return broad;
  for (TextFilter which : kTextFilters) {
    if (!is_set(which, f)) continue;
    if (f.team || (which == TextFilter::kTag && f.tag->empty())) {
      // Within one team (every team-scoped caller's listing), the team's rows are walked: an
      // index over every team's names would cost in proportion to other teams' matches, and
      // the time of an empty answer would tell a requester how many those are.
      broad.insert(which);
      continue;
    }
    std::vector<store::Value> params;
    const std::string sql = "SELECT COUNT(*) FROM (SELECT 1 FROM (" +
                            candidates(which, f, dialect, params) + ") c LIMIT " +
                            std::to_string(kBroadMatches) + ") p";
    CW_ASSIGN_OR_RETURN(auto row, tx.query_one(sql, params));
    if (row && row->int64(0) >= kBroadMatches) broad.insert(which);
  }
  return broad;
}

void append_text_filters(const Filter& f, store::Dialect dialect, const std::set<TextFilter>& broad,
                         std::string& sql, std::vector<store::Value>& params) {
  for (TextFilter which : kTextFilters) {
    if (!is_set(which, f)) continue;
    // PostgreSQL plans the tag subquery well by itself (as a semi-join, by the walk or from
    // the tag's rows); its text filters are plain conditions, see predicate().
    // An empty tag selects the certificates without tags: no row of the tags table says so.
    const bool untagged = which == TextFilter::kTag && f.tag->empty();
    const bool subquery =
        !untagged &&
        (dialect == store::Dialect::kSqlite ? !broad.contains(which) : which == TextFilter::kTag);
    if (subquery) {
      sql += " AND fingerprint IN (" + candidates(which, f, dialect, params) + ")";
    } else {
      sql += " AND " + predicate(which, f, params);
    }
  }
}

}  // namespace certward::inventory::internal
