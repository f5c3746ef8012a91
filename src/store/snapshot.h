#pragma once
// Whole-file copies of an embedded (SQLite) database, for backup and restore. PostgreSQL has
// its own tools for this (pg_dump, pg_basebackup: docs/operations.md).

#include <functional>
#include <map>
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

// As sqlite_snapshot, for a file that came from elsewhere (a backup being restored): opened
// as immutable, so that nothing planted beside it (a -wal, a -journal) is read or replayed,
// and refused when such a file is there at all (kConflict), since a backup is one file.
[[nodiscard]] Status sqlite_copy_foreign(const std::string& source, const std::string& dest);

// Makes a copy of a foreign database safe to digest: every index rebuilt from its table
// (REINDEX), so that an index altered in the file cannot disagree with the rows the digest
// covers, then SQLite's full integrity check. Errors: kMalformed, kUnavailable.
[[nodiscard]] Status sqlite_rebuild_and_check(const std::string& path);

// The rows of a two-column text table (`SELECT name, value FROM table`) read through a
// read-only, defensive connection: only if the table is declared exactly as `required_sql`
// (so that reading it evaluates nothing), at most `max_rows` rows, each value at most
// `max_value` bytes. Errors: kNotFound (no such table), kMalformed (declared otherwise, more
// rows, longer values, not text).
[[nodiscard]] Result<std::map<std::string, std::string>> sqlite_read_pairs(
    const std::string& path, std::string_view table, std::string_view required_sql,
    std::size_t max_rows, std::size_t max_value);

// Makes the database at `path` one self-contained file again (rollback journal instead of
// WAL, nothing left in -wal) and fsyncs it, so that it can be renamed or copied alone.
// Errors: kUnavailable.
[[nodiscard]] Status sqlite_seal_file(const std::string& path);

// Visits everything a SQLite database holds, for a digest that proves a copy unaltered: every
// schema entry (tables, indexes, triggers, views: `schema(type, name, sql)`) in name order,
// then, table by table in name order, every row as one canonical byte string (`row(table,
// bytes)`: each column's type, length and value; no rowid, which a copy may renumber), and
// `table_done(table)` after its last row. Rows come in no defined order. Virtual tables are
// skipped (their content lives in shadow tables, which are visited), and so is `exclude`
// with its indexes.
// The database is opened read-only and defensively. Without a `row` callback only the schema
// is visited, and nothing it declares (a generated column, an expression index) is
// evaluated. Errors: kMalformed, kUnavailable.
struct ContentVisitor {
  std::function<void(std::string_view type, std::string_view name, std::string_view sql)> schema;
  std::function<void(std::string_view table, std::string_view row)> row;
  std::function<void(std::string_view table)> table_done;
};
[[nodiscard]] Status sqlite_visit_content(const std::string& path, std::string_view exclude,
                                          const ContentVisitor& visit);

}  // namespace certward::store
