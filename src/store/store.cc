#include "store/store.h"

#include <chrono>

#include "store/postgres_database.h"
#include "store/schema.h"
#include "store/sql_text.h"
#include "store/sqlite_database.h"

namespace certward::store {
namespace {

template <typename T>
const T& get_checked(const Value& v) {
  const T* p = std::get_if<T>(&v);
  CW_CHECK(p != nullptr);
  return *p;
}

}  // namespace

// ---- Row ----

const Value& Row::value(std::size_t i) const {
  CW_CHECK(i < values_.size());
  return values_[i];
}

bool Row::is_null(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(value(i)); }

std::int64_t Row::int64(std::size_t i) const { return get_checked<std::int64_t>(value(i)); }

double Row::real(std::size_t i) const {
  const Value& v = value(i);
  if (const auto* n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
  return get_checked<double>(v);
}

const std::string& Row::text(std::size_t i) const { return get_checked<std::string>(value(i)); }

const Bytes& Row::blob(std::size_t i) const { return get_checked<Bytes>(value(i)); }

std::optional<std::int64_t> Row::optional_int64(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return int64(i);
}

std::optional<double> Row::optional_real(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return real(i);
}

std::optional<std::string> Row::optional_text(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return text(i);
}

std::optional<Bytes> Row::optional_blob(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return blob(i);
}

// ---- Transaction ----

Status Transaction::usable() const {
  if (finished_) return fail(ErrorCode::kInternal, "store: transaction already finished");
  if (failure_) {
    return fail_with_context(*failure_, "store: transaction aborted by an earlier error");
  }
  return ok();
}

template <typename T>
Result<T> Transaction::track(Result<T> r) {
  if (!r && !failure_) failure_ = r.error();
  return r;
}

Status Transaction::execute(std::string_view sql, std::span<const Value> params) {
  CW_RETURN_IF_ERROR(usable());
  CW_RETURN_IF_ERROR(track(do_execute(sql, params, nullptr)));
  return ok();
}

Result<std::int64_t> Transaction::execute_count(std::string_view sql,
                                                std::span<const Value> params) {
  CW_RETURN_IF_ERROR(usable());
  return track(do_execute(sql, params, nullptr));
}

Result<Rows> Transaction::query(std::string_view sql, std::span<const Value> params) {
  CW_RETURN_IF_ERROR(usable());
  Rows rows;
  CW_RETURN_IF_ERROR(track(do_execute(sql, params, &rows)));
  return rows;
}

Result<std::optional<Row>> Transaction::query_one(std::string_view sql,
                                                  std::span<const Value> params) {
  CW_ASSIGN_OR_RETURN(Rows rows, query(sql, params));
  if (rows.empty()) return std::nullopt;
  if (rows.size() > 1) {
    return track<std::optional<Row>>(fail(
        ErrorCode::kInternal,
        "store: query_one matched " + std::to_string(rows.size()) + " rows: " + std::string(sql)));
  }
  return rows[0];
}

Status Transaction::execute_script(std::string_view sql) {
  CW_RETURN_IF_ERROR(usable());
  return track(do_execute_script(sql));
}

Status Transaction::commit() {
  if (finished_) return fail(ErrorCode::kInternal, "store: transaction already finished");
  finished_ = true;
  if (failure_) {
    do_rollback();
    do_release();
    return fail_with_context(*failure_, "store: commit refused after an earlier error");
  }
  Status committed = do_commit();
  if (!committed) do_rollback();
  do_release();
  return committed;
}

// ---- Database ----

Result<std::unique_ptr<Database>> Database::open(const DatabaseConfig& config) {
  if (config.pool_size < 1)
    return fail(ErrorCode::kInvalidArgument, "store: pool_size must be >= 1");
  // Past 64 GiB the KiB count handed to SQLite would overflow an int.
  for (int mib : {config.sqlite_writer_cache_mib, config.sqlite_reader_cache_mib}) {
    if (mib < 1 || mib > 65536) {
      return fail(ErrorCode::kInvalidArgument, "store: SQLite cache sizes must be 1-65536 MiB");
    }
  }
  if (config.busy_timeout.count() < 0) {
    return fail(ErrorCode::kInvalidArgument, "store: busy_timeout must not be negative");
  }
  switch (config.driver) {
    case Driver::kSqlite:
      return internal::SqliteDatabase::open(config);
    case Driver::kPostgres:
      return internal::PostgresDatabase::open(config);
  }
  return fail(ErrorCode::kInvalidArgument, "store: unknown driver");
}

Result<std::unique_ptr<Transaction>> Database::begin(TxMode mode) { return do_begin(mode); }

Status Database::ping() {
  CW_ASSIGN_OR_RETURN(auto tx, begin(TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT 1"));
  if (!row) return fail(ErrorCode::kUnavailable, "store: the database answered nothing");
  return ok();
}

namespace {

// Any constant shared by every certward process: "cwmg".
constexpr std::int64_t kMigrationLockKey = 0x63776d67;

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " module TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL,"
    " PRIMARY KEY (module, version))";

Status validate(std::span<const Migration> migrations) {
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      return fail(ErrorCode::kInvalidArgument,
                  "store: migration versions must start at 1 and increase strictly; got " +
                      std::to_string(m.version) + " after " + std::to_string(previous));
    }
    previous = m.version;
  }
  return ok();
}

Result<std::int64_t> applied_version(Transaction& tx, std::string_view module) {
  CW_ASSIGN_OR_RETURN(
      std::optional<Row> row,
      tx.query_one("SELECT MAX(version) FROM schema_migrations WHERE module = ?", params(module)));
  return row->optional_int64(0).value_or(0);
}

Status refuse_newer(std::string_view module, std::int64_t applied, int known) {
  if (applied <= known) return ok();
  return fail(ErrorCode::kConflict, "store: the database holds " + std::string(module) +
                                        " schema version " + std::to_string(applied) +
                                        " but this build knows only up to " +
                                        std::to_string(known) + "; upgrade certward");
}

}  // namespace

Status Database::migrate(std::string_view module, std::span<const Migration> migrations) {
  CW_RETURN_IF_ERROR(validate(migrations));
  const int known = migrations.empty() ? 0 : migrations.back().version;
  // A module that registered an older newest version would let refuse_newer_schema() refuse
  // the databases this very binary writes.
  if (const int registered = known_version(module); registered != 0 && registered != known) {
    return fail(ErrorCode::kInternal,
                "store: module " + std::string(module) + " registered schema version " +
                    std::to_string(registered) + " but migrates to " + std::to_string(known));
  }
  const bool postgres = dialect() == Dialect::kPostgres;

  {  // The common case, everything applied, costs one read and no write lock: a server that
     // starts while a long write holds SQLite's lock (a bulk import) need not wait for it. A
     // database without the table yet fails the read and goes on to create it.
    auto tx = begin(TxMode::kRead);
    if (tx) {
      auto applied = applied_version(**tx, module);
      if (applied) {
        CW_RETURN_IF_ERROR(refuse_newer(module, *applied, known));
        if (*applied == known) return ok();
      }
    }
  }

  // Replicas creating the table at once would collide on PostgreSQL's catalog even with IF
  // NOT EXISTS (a unique violation in pg_type): a transaction-scoped advisory lock makes them
  // take turns. SQLite's write transactions take turns already.
  Status created = [&]() -> Status {
    CW_ASSIGN_OR_RETURN(auto tx, begin(TxMode::kWrite));
    if (postgres)
      CW_RETURN_IF_ERROR(tx->execute("SELECT pg_advisory_xact_lock(?)", params(kMigrationLockKey)));
    CW_RETURN_IF_ERROR(tx->execute(kCreateMigrationsTable));
    return tx->commit();
  }();
  if (!created) return fail_with_context(created.error(), "store: creating schema_migrations");

  {  // The common case, nothing to do, costs one read.
    CW_ASSIGN_OR_RETURN(auto tx, begin(TxMode::kRead));
    CW_ASSIGN_OR_RETURN(std::int64_t applied, applied_version(*tx, module));
    CW_RETURN_IF_ERROR(refuse_newer(module, applied, known));
    if (applied == known) return ok();
  }

  for (const Migration& m : migrations) {
    Status step = [&]() -> Status {
      CW_ASSIGN_OR_RETURN(auto tx, begin(TxMode::kWrite));
      // Serialises concurrent migrators until commit; SQLite's BEGIN IMMEDIATE already has.
      if (postgres) {
        CW_RETURN_IF_ERROR(tx->execute("LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE"));
      }
      CW_ASSIGN_OR_RETURN(std::int64_t applied, applied_version(*tx, module));
      CW_RETURN_IF_ERROR(refuse_newer(module, applied, known));
      if (m.version <= applied) return ok();  // rolled back: nothing was written
      CW_RETURN_IF_ERROR(
          tx->execute_script(postgres ? internal::postgres_ddl(m.sql) : std::string(m.sql)));
      const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      CW_RETURN_IF_ERROR(tx->execute(
          "INSERT INTO schema_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)",
          params(module, m.version, m.name, now)));
      return tx->commit();
    }();
    if (!step) {
      return fail_with_context(step.error(), "store: migration " + std::string(module) + " " +
                                                 std::to_string(m.version) + " (" +
                                                 std::string(m.name) + ")");
    }
  }
  return ok();
}

}  // namespace certward::store
