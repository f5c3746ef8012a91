#pragma once
// Whole-file copies of an embedded (SQLite) database, for backup and restore. PostgreSQL has
// its own tools for this (pg_dump, pg_basebackup: docs/operations.md).

#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace certward::store {

// Writes a consistent copy of the SQLite database at `source` to the new file `dest`, while
// other processes go on reading and writing it: the copy is one read transaction (VACUUM
// INTO), so it holds exactly the transactions committed before it began, WAL included, and
// never blocks a writer. `dest` is created with mode 0600, fsync'd, and is one
// self-contained file (no -wal beside it).
// Errors: kConflict (dest exists), kMalformed (source is not a SQLite database or is
// damaged), kUnavailable (cannot read source or write dest).
[[nodiscard]] Status sqlite_snapshot(const std::string& source, const std::string& dest);

// Makes the database at `path` one self-contained file again (rollback journal instead of
// WAL, nothing left in -wal) and fsyncs it, so that it can be renamed or copied alone.
// Errors: kUnavailable.
[[nodiscard]] Status sqlite_seal_file(const std::string& path);

// Visits everything a SQLite database holds, for a digest that proves a copy unaltered: every
// schema entry (tables, indexes, triggers, views: `schema(type, name, sql)`) in name order,
// then, table by table in name order, every row as one canonical byte string (`row(table,
// bytes)`: each column's type, length and value; no rowid, which a copy may renumber), and
// `table_done(table)` after its last row. Rows come in no defined order. Virtual tables are
// skipped (their content lives in shadow tables, which are visited), and so are `exclude`
// with its indexes and SQLite's statistics tables (sqlite_stat*).
// The database is opened read-only and defensively. Errors: kMalformed, kUnavailable.
struct ContentVisitor {
  std::function<void(std::string_view type, std::string_view name, std::string_view sql)> schema;
  std::function<void(std::string_view table, std::string_view row)> row;
  std::function<void(std::string_view table)> table_done;
};
[[nodiscard]] Status sqlite_visit_content(const std::string& path, std::string_view exclude,
                                          const ContentVisitor& visit);

}  // namespace certward::store
