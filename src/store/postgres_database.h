#pragma once
// The PostgreSQL driver over libpq (private to src/store; use Database::open).
//
// Threading model: a pool of up to pool_size connections opened on demand; each transaction
// leases one. Write transactions run at READ COMMITTED (PostgreSQL's default: use
// FOR UPDATE, ON CONFLICT or conditional UPDATEs for concurrency); read transactions are
// READ ONLY at REPEATABLE READ, so that every query in them sees one snapshot, as on SQLite.
// Statements are prepared once per connection and parameter-type signature.

#include <memory>
#include <string_view>

#include "store/pool.h"
#include "store/store.h"

namespace certward::store::internal {

class PgConnection;

class PostgresDatabase final : public Database {
 public:
  // Opens one connection right away. Errors: kInvalidArgument (empty URL), kUnavailable.
  static Result<std::unique_ptr<Database>> open(const DatabaseConfig& config);
  ~PostgresDatabase() override;

  Dialect dialect() const override { return Dialect::kPostgres; }

 private:
  explicit PostgresDatabase(const DatabaseConfig& config);
  Result<std::unique_ptr<Transaction>> do_begin(TxMode mode) override;

  ConnectionPool<PgConnection> pool_;  // thread-safe
};

// Test hook: runs `sql` inside `tx`, a transaction of this driver, and ignores its outcome,
// as a failed statement that the Transaction never saw would be. Tests only.
void TEST_execute_unchecked(Transaction& tx, std::string_view sql);

}  // namespace certward::store::internal
