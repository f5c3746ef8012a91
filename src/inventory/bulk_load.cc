// Bulk loading on SQLite: a large import writes its rows with only the indexes that decide
// what is inserted (the fingerprint key, the unique authority serial), then builds the others
// and the search table once, from the finished table, in the same transaction.
//
// Why: every certificate lands at a random place in a dozen expiry-ordered indexes and the
// trigram table. Written row by row in batched transactions, each commit rewrites most of
// their leaf pages into the WAL; at a million rows that write traffic, not the parsing, is
// the import's cost (533 s). Building an index is one sort and one sequential write.

#include <algorithm>
#include <thread>

#include "inventory/internal.h"

namespace certward::inventory::internal {
namespace {

// The trigger that copies each new row's text into certificate_search (search.cc): set aside
// with the indexes, its work done by one INSERT ... SELECT at the end.
constexpr std::string_view kSearchInsertTrigger = "certificates_search_insert";

}  // namespace

Result<BulkLoad> BulkLoad::begin(store::Transaction& tx) {
  BulkLoad load;
  // Whatever non-unique indexes the migrations have created, present and future: the unique
  // ones stay, since they decide what a write may insert. Autoindexes (sql IS NULL) are the
  // primary key's. Partial indexes stay too: they are partial because most rows are not in
  // them (inventory migration 12), so keeping them costs the imported rows almost nothing,
  // where rebuilding each would cost a scan of the whole table.
  CW_ASSIGN_OR_RETURN(
      auto indexes,
      tx.query("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND "
               "tbl_name = 'certificates' AND sql IS NOT NULL AND "
               "upper(sql) NOT LIKE 'CREATE UNIQUE %' AND "
               "upper(replace(sql, char(10), ' ')) NOT LIKE '% WHERE %' ORDER BY name"));
  for (const auto& r : indexes) load.indexes_.push_back({r.text(0), r.text(1)});
  const store::Value trigger[] = {std::string(kSearchInsertTrigger)};
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT sql FROM sqlite_schema WHERE type = "
                                             "'trigger' AND name = ?",
                                             trigger));
  if (!row) {
    return fail(ErrorCode::kInternal, "the inventory's search trigger is missing");
  }
  load.trigger_sql_ = row->text(0);
  CW_ASSIGN_OR_RETURN(load.rowid_mark_, max_certificate_rowid(tx));
  for (const auto& index : load.indexes_) {
    CW_RETURN_IF_ERROR(tx.execute("DROP INDEX \"" + index.name + "\""));
  }
  CW_RETURN_IF_ERROR(tx.execute("DROP TRIGGER \"" + std::string(kSearchInsertTrigger) + "\""));
  return load;
}

Status BulkLoad::write_search(store::Transaction& tx) {
  // The rows inserted since the last call are exactly those past the mark: rowids only grow
  // while the write lock is held, and nothing else writes meanwhile. FTS5 buffers what each
  // statement adds and flushes by size, so a few thousand rows a statement cost no more than
  // one statement for all of them.
  const store::Value mark[] = {rowid_mark_};
  CW_RETURN_IF_ERROR(
      tx.execute("INSERT INTO certificate_search (fingerprint, search_text, issuer) "
                 "SELECT fingerprint, search_text, issuer_folded FROM certificates WHERE rowid > ?",
                 mark));
  CW_ASSIGN_OR_RETURN(rowid_mark_, max_certificate_rowid(tx));
  return ok();
}

Status BulkLoad::finish(store::Transaction& tx) {
  CW_RETURN_IF_ERROR(write_search(tx));
  CW_RETURN_IF_ERROR(tx.execute(trigger_sql_));
  // Each index build is a sort of the whole table, which SQLite can merge on worker threads;
  // the parsing threads are done by now, so the cores are free. Only for these builds: the
  // same connection serves ordinary writes afterwards.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  CW_RETURN_IF_ERROR(tx.query("PRAGMA threads = " + std::to_string(cores)));
  for (const auto& index : indexes_) {
    if (auto built = tx.execute(index.sql); !built) {
      (void)tx.query("PRAGMA threads = 0");
      return built;
    }
  }
  CW_RETURN_IF_ERROR(tx.query("PRAGMA threads = 0"));
  return ok();
}

Result<std::int64_t> max_certificate_rowid(store::Transaction& tx) {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT coalesce(max(rowid), 0) FROM certificates"));
  return row->int64(0);
}

}  // namespace certward::inventory::internal
