#pragma once
// The embedded driver (private to src/store; use Database::open).
//
// Threading model: one writer connection, leased by one write transaction at a time (begin()
// callers queue for it), and a pool of read-only connections for read transactions. In WAL
// mode readers see the last committed state and never wait for the writer. Durability:
// synchronous=FULL, so commit() returns after the WAL is fsync'd.

#include <memory>

#include "store/pool.h"
#include "store/store.h"

namespace certward::store::internal {

class SqliteConnection;

class SqliteDatabase final : public Database {
 public:
  // Errors: kInvalidArgument (empty path), kUnavailable (cannot create or open the file).
  static Result<std::unique_ptr<Database>> open(const DatabaseConfig& config);
  ~SqliteDatabase() override;

  Dialect dialect() const override { return Dialect::kSqlite; }

 private:
  SqliteDatabase(const DatabaseConfig& config, bool in_memory);
  Result<std::unique_ptr<Transaction>> do_begin(TxMode mode) override;

  // Constant after construction; each pool is thread-safe.
  ConnectionPool<SqliteConnection> writer_;
  std::unique_ptr<ConnectionPool<SqliteConnection>> readers_;  // null for ":memory:"
};

}  // namespace certward::store::internal
