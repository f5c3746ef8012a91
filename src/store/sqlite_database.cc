#include "store/sqlite_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/file.h"
#include "store/sql_text.h"

namespace certward::store::internal {
namespace {

// Caps the per-connection statement cache; callers that build SQL dynamically (IN lists of
// varying length) would otherwise grow it without bound.
constexpr std::size_t kMaxCachedStatements = 256;

ErrorCode code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return ErrorCode::kConflict;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_NOLFS:
    case SQLITE_PROTOCOL:
      return ErrorCode::kUnavailable;
    default:  // syntax errors, SQLITE_READONLY (a write in a read transaction), misuse
      return ErrorCode::kInternal;
  }
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

enum class Role { kWriter, kReader };

}  // namespace

// One sqlite3 handle and its prepared statements. Used by one transaction at a time.
class SqliteConnection {
 public:
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path, Role role,
                                                        std::chrono::milliseconds busy_timeout,
                                                        int cache_mib) {
    int flags =
        SQLITE_OPEN_NOMUTEX |
        (role == Role::kWriter ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    auto conn = std::unique_ptr<SqliteConnection>(new SqliteConnection(db));
    if (rc != SQLITE_OK) {
      return fail(ErrorCode::kUnavailable, "store: cannot open sqlite database '" + path + "': " +
                                               (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
    if (role == Role::kWriter) {
      CW_RETURN_IF_ERROR(conn->set_wal());
      CW_RETURN_IF_ERROR(conn->run("PRAGMA synchronous=FULL"));
      // The WAL grows to hold the largest transaction (a bulk import: the whole import) and
      // is reused, not shrunk: past 64 MiB it is truncated when it next restarts.
      CW_RETURN_IF_ERROR(conn->run("PRAGMA journal_size_limit=67108864"));
    }
    CW_RETURN_IF_ERROR(conn->run("PRAGMA foreign_keys=ON"));
    // A negative cache_size is in KiB.
    CW_RETURN_IF_ERROR(conn->run("PRAGMA cache_size=-" + std::to_string(cache_mib * 1024)));
    return conn;
  }

  ~SqliteConnection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // A connection left inside a transaction (a failed ROLLBACK) must not be reused.
  bool reusable() const { return sqlite3_get_autocommit(db_) != 0; }
  sqlite3* handle() const { return db_; }

  std::unexpected<Error> error(int rc, std::string_view sql) const {
    return fail(code_for(rc), std::string("store: sqlite: ") + sqlite3_errmsg(db_) + " (" +
                                  sqlite3_errstr(rc) + ") in: " + std::string(sql));
  }

  // Returns the cached statement for `sql` (keyed by the caller's text), preparing it on
  // first use. The statement is reset; the caller resets it again after use.
  Result<sqlite3_stmt*> prepare(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
    std::string_view native = strip_for_update(sql);
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, native.data(), static_cast<int>(native.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) return error(rc, sql);
    if (stmt == nullptr) return fail(ErrorCode::kInternal, "store: empty SQL statement");
    if (!is_blank(std::string_view(tail, native.data() + native.size() - tail))) {
      sqlite3_finalize(stmt);
      return fail(
          ErrorCode::kInternal,
          "store: one statement per call (use execute_script for DDL): " + std::string(sql));
    }
    if (cache_.size() >= kMaxCachedStatements) {
      for (auto& [text, cached] : cache_) sqlite3_finalize(cached);
      cache_.clear();
    }
    cache_.emplace(std::string(sql), stmt);
    return stmt;
  }

  // Runs one parameterless statement to completion.
  Status run(std::string_view sql) {
    CW_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, prepare(sql));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return error(rc, sql);
    return ok();
  }

  Status run_script(std::string_view sql) {
    std::string text(sql);  // sqlite3_exec wants NUL termination
    char* message = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return ok();
    std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return fail(code_for(rc), "store: sqlite: " + detail);
  }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  Status set_wal() {
    CW_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, prepare("PRAGMA journal_mode=WAL"));
    int rc = sqlite3_step(stmt);
    std::string mode;
    if (rc == SQLITE_ROW) {
      mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW) return error(rc, "PRAGMA journal_mode=WAL");
    // An in-memory database reports "memory"; it has no file to be durable in anyway.
    if (mode != "wal" && mode != "memory") {
      return fail(ErrorCode::kUnavailable, "store: sqlite refused WAL mode (got " + mode + ")");
    }
    return ok();
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, StringHash, std::equal_to<>> cache_;
};

namespace {

// Leaves a cached statement ready for its next use, whatever path the caller leaves by.
class StatementReset {
 public:
  explicit StatementReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementReset(const StatementReset&) = delete;
  StatementReset& operator=(const StatementReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// The parameters outlive the statement's execution (it is reset before do_execute returns),
// so SQLite need not copy them.
int bind(sqlite3_stmt* stmt, int index, const Value& value) {
  struct Binder {
    sqlite3_stmt* stmt;
    int i;
    int operator()(std::nullptr_t) const { return sqlite3_bind_null(stmt, i); }
    int operator()(std::int64_t v) const { return sqlite3_bind_int64(stmt, i, v); }
    int operator()(double v) const { return sqlite3_bind_double(stmt, i, v); }
    int operator()(const std::string& v) const {
      return sqlite3_bind_text64(stmt, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
    }
    int operator()(const Bytes& v) const {
      // A null data pointer would bind NULL, not an empty blob.
      if (v.empty()) return sqlite3_bind_zeroblob(stmt, i, 0);
      return sqlite3_bind_blob64(stmt, i, v.data(), v.size(), SQLITE_STATIC);
    }
  };
  return std::visit(Binder{stmt, index}, value);
}

Value column_value(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return std::int64_t{sqlite3_column_int64(stmt, i)};
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, i));
      return Bytes(p, p + sqlite3_column_bytes(stmt, i));
    }
    default:
      return nullptr;
  }
}

class SqliteTransaction final : public Transaction {
 public:
  using Lease = ConnectionPool<SqliteConnection>::Lease;
  explicit SqliteTransaction(Lease lease) : conn_(std::move(lease)) {}
  ~SqliteTransaction() override {
    if (!finished()) do_rollback();
  }

 private:
  Result<std::int64_t> do_execute(std::string_view sql, std::span<const Value> params,
                                  Rows* rows) override {
    CW_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, conn_->prepare(sql));
    StatementReset reset(stmt);
    if (static_cast<std::size_t>(sqlite3_bind_parameter_count(stmt)) != params.size()) {
      return fail(ErrorCode::kInternal, "store: statement wants " +
                                            std::to_string(sqlite3_bind_parameter_count(stmt)) +
                                            " parameters, got " + std::to_string(params.size()) +
                                            ": " + std::string(sql));
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      int rc = bind(stmt, static_cast<int>(i + 1), params[i]);
      if (rc != SQLITE_OK) return conn_->error(rc, sql);
    }
    const int columns = sqlite3_column_count(stmt);
    std::vector<Row> out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (rows == nullptr) continue;
      std::vector<Value> values;
      values.reserve(static_cast<std::size_t>(columns));
      for (int i = 0; i < columns; ++i) values.push_back(column_value(stmt, i));
      out.emplace_back(std::move(values));
    }
    if (rc != SQLITE_DONE) return conn_->error(rc, sql);
    if (rows != nullptr) {
      std::vector<std::string> names;
      for (int i = 0; i < columns; ++i) names.emplace_back(sqlite3_column_name(stmt, i));
      *rows = Rows(std::move(names), std::move(out));
    }
    return sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(conn_->handle());
  }

  Status do_execute_script(std::string_view sql) override { return conn_->run_script(sql); }

  Status do_commit() override { return conn_->run("COMMIT"); }

  void do_rollback() override {
    // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) roll back by themselves.
    if (sqlite3_get_autocommit(conn_->handle()) == 0) (void)conn_->run("ROLLBACK");
  }

  void do_release() override { conn_.give_back(); }

  Lease conn_;
};

}  // namespace

SqliteDatabase::SqliteDatabase(const DatabaseConfig& config, bool in_memory)
    : writer_(1, config.busy_timeout,
              [path = config.sqlite_path, timeout = config.busy_timeout,
               mib = config.sqlite_writer_cache_mib] {
                return SqliteConnection::open(path, Role::kWriter, timeout, mib);
              }) {
  if (!in_memory) {
    readers_ = std::make_unique<ConnectionPool<SqliteConnection>>(
        static_cast<std::size_t>(config.pool_size), config.busy_timeout,
        [path = config.sqlite_path, timeout = config.busy_timeout,
         mib = config.sqlite_reader_cache_mib] {
          return SqliteConnection::open(path, Role::kReader, timeout, mib);
        });
  }
}

SqliteDatabase::~SqliteDatabase() = default;

namespace {

// Statement journals (the undo record of one statement, so that a statement that fails inside a
// transaction is rolled back alone) stay in memory up to this size. SQLite's default, 64 KiB, is
// less than what one certificate INSERT touches with its dozen indexes and its triggers, so
// every issuance wrote its statement journal to a temporary file as well as the WAL
// (docs/benchmarks.md). Statements larger than this (bulk imports) still spill to a file.
constexpr int kStatementJournalSpillBytes = 4 << 20;

void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Only accepted before SQLite initialises itself, which its first open does: if something
    // else in the process opened a database first, SQLite's default stays.
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kStatementJournalSpillBytes);
  });
}

}  // namespace

Result<std::unique_ptr<Database>> SqliteDatabase::open(const DatabaseConfig& config) {
  configure_sqlite_once();
  if (config.sqlite_path.empty()) {
    return fail(ErrorCode::kInvalidArgument, "store: sqlite_path is required");
  }
  const bool in_memory = config.sqlite_path == ":memory:";
  if (!in_memory) {
    // SQLite would create the file world-readable (0644); the -wal and -shm files copy the
    // database file's mode, so creating it 0600 first covers all three.
    int fd = ::open(config.sqlite_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      return fail(ErrorCode::kUnavailable,
                  "store: cannot create '" + config.sqlite_path + "': " + std::strerror(errno));
    }
    // The database holds sealed CA keys, token hashes and the audit trail: one that another
    // user made (say in a shared directory) or can read is refused, and so are its journals.
    Status owned = check_private_file(fd, "store: database " + config.sqlite_path);
    ::close(fd);
    CW_RETURN_IF_ERROR(owned);
    for (const char* suffix : {"-wal", "-shm"}) {
      const std::string journal = config.sqlite_path + suffix;
      const int jfd = ::open(journal.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (jfd < 0) {
        if (errno == ENOENT) continue;
        return fail(ErrorCode::kPolicyRejected,
                    "store: cannot open '" + journal + "': " + std::strerror(errno));
      }
      Status journal_owned = check_private_file(jfd, "store: " + journal);
      ::close(jfd);
      CW_RETURN_IF_ERROR(journal_owned);
    }
  }
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(config, in_memory));
  // The writer first: it switches the file to WAL, which the read-only readers cannot.
  CW_RETURN_IF_ERROR(db->writer_.warm_up());
  if (db->readers_) CW_RETURN_IF_ERROR(db->readers_->warm_up());
  return std::unique_ptr<Database>(std::move(db));
}

Result<std::unique_ptr<Transaction>> SqliteDatabase::do_begin(TxMode mode) {
  ConnectionPool<SqliteConnection>& pool =
      (mode == TxMode::kRead && readers_) ? *readers_ : writer_;
  CW_ASSIGN_OR_RETURN(auto lease, pool.acquire());
  // IMMEDIATE takes the write lock now, so a write transaction never fails half-way with
  // SQLITE_BUSY; DEFERRED lets a reader take its WAL snapshot at its first read.
  CW_RETURN_IF_ERROR(lease->run(mode == TxMode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
  return std::unique_ptr<Transaction>(new SqliteTransaction(std::move(lease)));
}

}  // namespace certward::store::internal
