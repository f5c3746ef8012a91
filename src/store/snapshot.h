#pragma once
// Whole-file copies of an embedded (SQLite) database, for backup and restore. PostgreSQL has
// its own tools for this (pg_dump, pg_basebackup: docs/operations.md).

#include <string>

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

}  // namespace certward::store
