// The same behavioural tests run against both drivers (value-parameterised on the dialect):
// Sqlite/StoreTest.* always, Postgres/StoreTest.* when CERTWARD_TEST_POSTGRES_URL names a
// server (scripts/with-postgres.sh starts a throwaway one). Each test gets a fresh database
// file or a fresh PostgreSQL schema.

#include "store/store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres_database.h"
#include "store/schema.h"

namespace certward::store {

// Names the dialect in gtest's failure output (found by argument-dependent lookup).
void PrintTo(Dialect d, std::ostream* os) {
  *os << (d == Dialect::kSqlite ? "sqlite" : "postgres");
}

namespace {

using namespace std::chrono_literals;

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  return std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(salt % 100000);
}

bool env_is_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

class StoreTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    if (GetParam() == Dialect::kPostgres) {
      if (!env_is_set("CERTWARD_TEST_POSTGRES_URL")) {
        const char* require = std::getenv("CERTWARD_REQUIRE_POSTGRES");
        if (require != nullptr && std::string_view(require) == "1") {
          FAIL() << "CERTWARD_REQUIRE_POSTGRES=1 but CERTWARD_TEST_POSTGRES_URL is not set";
        }
        GTEST_SKIP() << "PostgreSQL tests skipped: CERTWARD_TEST_POSTGRES_URL is not set "
                        "(scripts/with-postgres.sh <test binary> starts a server and sets it)";
      }
      base_url_ = std::getenv("CERTWARD_TEST_POSTGRES_URL");
      schema_ = "cw_test_" + unique_suffix();
      run_admin("CREATE SCHEMA " + schema_);
    } else {
      path_ = ::testing::TempDir() + "certward_store_" + unique_suffix() + ".db";
    }
    auto db = Database::open(config());
    ASSERT_TRUE(db) << db.error().message;
    db_ = *std::move(db);
  }

  void TearDown() override {
    db_.reset();
    if (!schema_.empty()) run_admin("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    if (!path_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
    }
  }

  DatabaseConfig config(int pool_size = 4, std::chrono::milliseconds timeout = 10s) const {
    DatabaseConfig c;
    c.driver = GetParam();
    c.pool_size = pool_size;
    c.busy_timeout = timeout;
    c.sqlite_path = path_;
    if (!schema_.empty()) {
      c.postgres_url = base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") +
                       "options=-c%20search_path%3D" + schema_;
    }
    return c;
  }

  void run_admin(const std::string& sql) {
    DatabaseConfig c;
    c.driver = Dialect::kPostgres;
    c.postgres_url = base_url_;
    c.pool_size = 1;
    auto admin = Database::open(c);
    ASSERT_TRUE(admin) << admin.error().message;
    auto tx = (*admin)->begin();
    ASSERT_TRUE(tx) << tx.error().message;
    ASSERT_TRUE((*tx)->execute(sql));
    ASSERT_TRUE((*tx)->commit());
  }

  // DDL goes through the migration runner, which translates BLOB for PostgreSQL.
  void create_tables(std::string_view sql) {
    const Migration m[] = {{1, "test tables", sql}};
    Status s = db_->migrate("test", m);
    ASSERT_TRUE(s) << s.error().message;
  }

  void create_items() {
    create_tables(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT UNIQUE, data BLOB, score DOUBLE "
        "PRECISION, note TEXT);"
        "CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);"
        "INSERT INTO counter (id, n) VALUES (1, 0)");
  }

  std::unique_ptr<Transaction> begin(TxMode mode = TxMode::kWrite) {
    auto tx = db_->begin(mode);
    EXPECT_TRUE(tx) << tx.error().message;
    return tx ? *std::move(tx) : nullptr;
  }

  std::int64_t count_items() {
    auto tx = begin(TxMode::kRead);
    auto row = tx->query_one("SELECT COUNT(*) FROM items");
    EXPECT_TRUE(row) << row.error().message;
    return (*row)->int64(0);
  }

  void insert_item(Transaction& tx, std::int64_t id, std::string_view name) {
    Status s = tx.execute("INSERT INTO items (id, name) VALUES (?, ?)", params(id, name));
    ASSERT_TRUE(s) << s.error().message;
  }

  std::string base_url_;
  std::string schema_;
  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_P(StoreTest, ReportsItsDialect) { EXPECT_EQ(db_->dialect(), GetParam()); }

TEST_P(StoreTest, RoundTripsEveryValueType) {
  create_items();
  const Bytes with_zeros = {0x00, 0x01, 0x00, 0xff, 0x00};
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  {
    auto tx = begin();
    const char* sql = "INSERT INTO items (id, name, data, score, note) VALUES (?, ?, ?, ?, ?)";
    ASSERT_TRUE(tx->execute(sql, params(kMax, "grüße ✓", with_zeros, 3.25, nullptr)));
    ASSERT_TRUE(tx->execute(sql, params(kMin, "", Bytes{}, -1e300, std::string("x"))));
    ASSERT_TRUE(tx->execute(sql, params(0, std::optional<std::string>{}, std::nullopt, 0.1,
                                        std::optional<std::string>("y"))));
    ASSERT_TRUE(tx->commit());
  }
  auto tx = begin(TxMode::kRead);
  auto rows = tx->query("SELECT id, name, data, score, note FROM items ORDER BY id");
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ(rows->columns(), (std::vector<std::string>{"id", "name", "data", "score", "note"}));

  const Row& min = (*rows)[0];
  EXPECT_EQ(min.int64(0), kMin);
  EXPECT_EQ(min.text(1), "");  // empty, not NULL
  EXPECT_FALSE(min.is_null(2));
  EXPECT_EQ(min.blob(2), Bytes{});
  EXPECT_EQ(min.real(3), -1e300);
  EXPECT_EQ(min.optional_text(4), "x");

  const Row& zero = (*rows)[1];
  EXPECT_EQ(zero.int64(0), 0);
  EXPECT_TRUE(zero.is_null(1));
  EXPECT_EQ(zero.optional_blob(2), std::nullopt);
  EXPECT_EQ(zero.real(3), 0.1);

  const Row& max = (*rows)[2];
  EXPECT_EQ(max.int64(0), kMax);
  EXPECT_EQ(max.text(1), "grüße ✓");
  EXPECT_EQ(max.blob(2), with_zeros);
  EXPECT_EQ(max.optional_real(3), 3.25);
  EXPECT_EQ(max.optional_text(4), std::nullopt);
  EXPECT_EQ(max.optional_int64(0), kMax);
}

TEST_P(StoreTest, RoundTripsLargeBlob) {
  create_items();
  Bytes big(1 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  auto tx = begin();
  ASSERT_TRUE(tx->execute("INSERT INTO items (id, data) VALUES (?, ?)", params(1, big)));
  auto row = tx->query_one("SELECT data FROM items WHERE id = ?", params(1));
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->blob(0), big);
}

TEST_P(StoreTest, CommitMakesChangesVisible) {
  create_items();
  auto tx = begin();
  insert_item(*tx, 1, "a");
  ASSERT_TRUE(tx->commit());
  EXPECT_EQ(count_items(), 1);
}

TEST_P(StoreTest, DestroyingUncommittedTransactionRollsBack) {
  create_items();
  {
    auto tx = begin();
    insert_item(*tx, 1, "a");
    ASSERT_TRUE(tx->execute("UPDATE counter SET n = 42"));
  }
  EXPECT_EQ(count_items(), 0);
  auto tx = begin(TxMode::kRead);
  EXPECT_EQ((*tx->query_one("SELECT n FROM counter"))->int64(0), 0);
}

TEST_P(StoreTest, UniqueViolationIsConflictAndChangesNothing) {
  create_items();
  {
    auto tx = begin();
    insert_item(*tx, 1, "a");
    ASSERT_TRUE(tx->commit());
  }
  auto tx = begin();
  insert_item(*tx, 2, "b");
  Status dup = tx->execute("INSERT INTO items (id, name) VALUES (?, ?)", params(3, "a"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  // The transaction is finished: the first error comes back from everything that follows.
  Status later = tx->execute("UPDATE counter SET n = 1");
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, ErrorCode::kConflict);
  Status committed = tx->commit();
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().code, ErrorCode::kConflict);
  tx.reset();
  EXPECT_EQ(count_items(), 1);
}

TEST_P(StoreTest, ForeignKeyViolationIsConflict) {
  create_tables(
      "CREATE TABLE parent (id BIGINT PRIMARY KEY);"
      "CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES "
      "parent(id))");
  auto tx = begin();
  Status s = tx->execute("INSERT INTO child (id, parent_id) VALUES (1, 99)");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
}

TEST_P(StoreTest, ExecuteCountReportsAffectedRows) {
  create_items();
  auto tx = begin();
  for (int i = 1; i <= 5; ++i) insert_item(*tx, i, "n" + std::to_string(i));
  auto updated = tx->execute_count("UPDATE items SET note = ? WHERE id <= ?", params("x", 3));
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(*updated, 3);
  auto deleted = tx->execute_count("DELETE FROM items WHERE id > ?", params(10));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 0);
}

TEST_P(StoreTest, QueryOneDistinguishesNoneOneAndMany) {
  create_items();
  auto tx = begin();
  insert_item(*tx, 1, "a");
  insert_item(*tx, 2, "b");
  auto none = tx->query_one("SELECT id FROM items WHERE name = ?", params("zzz"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto one = tx->query_one("SELECT id FROM items WHERE name = ?", params("b"));
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((*one)->int64(0), 2);
  auto many = tx->query_one("SELECT id FROM items");
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().code, ErrorCode::kInternal);
}

TEST_P(StoreTest, PlaceholdersInsideLiteralsAndCommentsAreNotParameters) {
  create_items();
  auto tx = begin();
  ASSERT_TRUE(
      tx->execute("INSERT INTO items (id, name, note) VALUES (?, 'what?', 'it''s ?') -- trailing ?",
                  params(1)));
  auto row =
      tx->query_one("SELECT name, note, ? FROM items /* ? */ WHERE name = 'what?' AND id = ?",
                    params("param", 1));
  ASSERT_TRUE(row) << row.error().message;
  ASSERT_TRUE(*row);
  EXPECT_EQ((*row)->text(0), "what?");
  EXPECT_EQ((*row)->text(1), "it's ?");
  EXPECT_EQ((*row)->text(2), "param");
}

TEST_P(StoreTest, WrongParameterCountIsInternal) {
  create_items();
  auto tx = begin();
  Status s = tx->execute("INSERT INTO items (id, name) VALUES (?, ?)", params(1));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
}

TEST_P(StoreTest, MalformedSqlIsInternal) {
  create_items();
  for (const char* sql :
       {"SELEC id FROM items", "SELECT id FROM no_such_table", "SELECT 1; SELECT 2"}) {
    auto tx = begin();
    auto rows = tx->query(sql);
    ASSERT_FALSE(rows) << sql;
    EXPECT_EQ(rows.error().code, ErrorCode::kInternal) << sql << ": " << rows.error().message;
  }
}

TEST_P(StoreTest, ErrorLeavesTransactionUnusableAndCommitsNothing) {
  create_items();
  auto tx = begin();
  insert_item(*tx, 1, "a");
  ASSERT_FALSE(tx->execute("SELEC nonsense"));
  Status committed = tx->commit();
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().code, ErrorCode::kInternal);
  tx.reset();
  EXPECT_EQ(count_items(), 0);
}

TEST_P(StoreTest, CommitTwiceIsInternal) {
  create_items();
  auto tx = begin();
  ASSERT_TRUE(tx->commit());
  Status again = tx->commit();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kInternal);
}

TEST_P(StoreTest, ForUpdateIsPortable) {
  create_items();
  auto tx = begin();
  auto row = tx->query_one("SELECT n FROM counter WHERE id = ? FOR UPDATE", params(1));
  ASSERT_TRUE(row) << row.error().message;
  EXPECT_EQ((*row)->int64(0), 0);
  auto skip = tx->query("SELECT n FROM counter FOR UPDATE SKIP LOCKED");
  ASSERT_TRUE(skip) << skip.error().message;
  EXPECT_EQ(skip->size(), 1u);
}

TEST_P(StoreTest, ReadTransactionRejectsWrites) {
  create_items();
  auto tx = begin(TxMode::kRead);
  Status s = tx->execute("UPDATE counter SET n = 5");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
}

TEST_P(StoreTest, ReaderSeesOnlyCommittedData) {
  create_items();
  auto writer = begin();
  insert_item(*writer, 1, "a");
  auto early = begin(TxMode::kRead);
  EXPECT_EQ((*early->query_one("SELECT COUNT(*) FROM items"))->int64(0), 0);
  ASSERT_TRUE(writer->commit());
  // A read transaction keeps the snapshot of its first read.
  EXPECT_EQ((*early->query_one("SELECT COUNT(*) FROM items"))->int64(0), 0);
  EXPECT_EQ(count_items(), 1);
}

TEST_P(StoreTest, ConcurrentWritersAllCount) {
  create_items();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto tx = db_->begin();
        bool good = tx && (*tx)->execute("UPDATE counter SET n = n + 1 WHERE id = 1") &&
                    (*tx)->execute("INSERT INTO items (id, name) VALUES (?, ?)",
                                   params(t * 1000 + i, "t" + std::to_string(t * 1000 + i))) &&
                    (*tx)->commit();
        if (!good) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count_items(), kThreads * kPerThread);
  auto tx = begin(TxMode::kRead);
  EXPECT_EQ((*tx->query_one("SELECT n FROM counter"))->int64(0), kThreads * kPerThread);
}

TEST_P(StoreTest, BusyWriterTimesOutAsUnavailable) {
  db_.reset();
  auto db = Database::open(config(1, 200ms));
  ASSERT_TRUE(db) << db.error().message;
  db_ = *std::move(db);
  auto holder = begin();
  auto waiter = db_->begin();
  ASSERT_FALSE(waiter);
  EXPECT_EQ(waiter.error().code, ErrorCode::kUnavailable);
  holder.reset();
  EXPECT_TRUE(db_->begin());
}

// Work done after a commit while the committed object is still in scope (telling observers,
// reading back) must not hold the only writer: a write it starts would wait for itself.
TEST_P(StoreTest, CommitReturnsTheConnectionAtOnce) {
  create_items();
  db_.reset();
  auto db = Database::open(config(1, 200ms));
  ASSERT_TRUE(db) << db.error().message;
  db_ = *std::move(db);
  auto committed = begin();
  insert_item(*committed, 1, "a");
  ASSERT_TRUE(committed->commit());
  auto next = db_->begin();
  ASSERT_TRUE(next) << next.error().message;
  insert_item(**next, 2, "b");
  ASSERT_TRUE((*next)->commit());

  // So does a commit refused after an earlier error (it rolls back).
  auto failed = begin();
  ASSERT_FALSE(failed->execute("SELEC nonsense"));
  ASSERT_FALSE(failed->commit());
  auto after = db_->begin();
  ASSERT_TRUE(after) << after.error().message;
  ASSERT_TRUE((*after)->commit());
  EXPECT_EQ(count_items(), 2);
}

// ---- migrations ----

constexpr Migration kV1 = {1, "create widgets",
                           "CREATE TABLE widgets (id BIGINT PRIMARY KEY, "
                           "body BLOB NOT NULL)"};
constexpr Migration kV2 = {2, "widget tags",
                           "CREATE TABLE tags (widget_id BIGINT NOT NULL REFERENCES widgets(id), "
                           "tag TEXT NOT NULL);\n"
                           "-- a comment; with a semicolon\n"
                           "INSERT INTO widgets (id, body) VALUES (7, X'00ff');\n"
                           "INSERT INTO tags (widget_id, tag) VALUES (7, 'seed;tag');"};
constexpr Migration kV3 = {3, "widget names", "ALTER TABLE widgets ADD COLUMN name TEXT"};

TEST_P(StoreTest, MigrationsApplyInOrderOnceAndAreRecorded) {
  const Migration first[] = {kV1};
  ASSERT_TRUE(db_->migrate("widgets", first));
  const Migration all[] = {kV1, kV2, kV3};
  Status s = db_->migrate("widgets", all);
  ASSERT_TRUE(s) << s.error().message;
  s = db_->migrate("widgets", all);  // idempotent: re-running CREATE TABLE would fail
  ASSERT_TRUE(s) << s.error().message;

  auto tx = begin(TxMode::kRead);
  auto rows = tx->query(
      "SELECT version, name, applied_at FROM schema_migrations WHERE module = ? ORDER BY version",
      params("widgets"));
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*rows)[i].int64(0), all[i].version);
    EXPECT_EQ((*rows)[i].text(1), all[i].name);
    EXPECT_GT((*rows)[i].int64(2), 1'600'000'000);
  }
  auto tag = tx->query_one(
      "SELECT w.body, t.tag, w.name FROM widgets w JOIN tags t ON "
      "t.widget_id = w.id");
  ASSERT_TRUE(tag && *tag) << (tag ? "no row" : tag.error().message);
  EXPECT_EQ((*tag)->blob(0), (Bytes{0x00, 0xff}));
  EXPECT_EQ((*tag)->text(1), "seed;tag");
  EXPECT_TRUE((*tag)->is_null(2));
}

// Registered as a module of this binary would be, at version 2.
const SchemaModule kProbeSchema{"schema_probe", std::span<const Migration>(std::array{kV1, kV2})};

TEST_P(StoreTest, RefusesADatabaseWrittenByANewerCertward) {
  EXPECT_TRUE(refuse_newer_schema(*db_)) << "a new database has nothing to refuse";
  const Migration all[] = {kV1, kV2};
  ASSERT_TRUE(db_->migrate("schema_probe", all));
  Status s = refuse_newer_schema(*db_);
  EXPECT_TRUE(s) << s.error().message;
  EXPECT_EQ(known_version("schema_probe"), 2);
  EXPECT_GE(schema_version(), 2);

  auto write = [&](std::string_view sql) {
    auto tx = begin();
    ASSERT_TRUE(tx->execute(sql));
    ASSERT_TRUE(tx->commit());
  };
  write("INSERT INTO schema_migrations VALUES ('schema_probe', 3, 'from the future', 0)");
  s = refuse_newer_schema(*db_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_NE(s.error().message.find("schema_probe schema version 3"), std::string::npos)
      << s.error().message;
  // migrate() refuses it too, and writes nothing.
  s = db_->migrate("schema_probe", all);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);

  write("DELETE FROM schema_migrations WHERE version = 3");
  write("INSERT INTO schema_migrations VALUES ('a_module_from_the_future', 1, 'new', 0)");
  s = refuse_newer_schema(*db_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_NE(s.error().message.find("'a_module_from_the_future'"), std::string::npos)
      << s.error().message;
}

// A module whose registration lags its migrations would have this very binary refuse the
// databases it writes: caught at the first migrate.
TEST_P(StoreTest, MigrateChecksTheModulesRegisteredVersion) {
  const Migration only_first[] = {kV1};
  Status s = db_->migrate("schema_probe", only_first);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
}

// A server starting while another process holds the write lock for long (a bulk import)
// must not wait for it when its schema is current.
TEST_P(StoreTest, MigrateWithNothingPendingTakesNoWriteLock) {
  const Migration all[] = {kV1, kV2};
  ASSERT_TRUE(db_->migrate("widgets", all));
  auto holder = Database::open(config(1));
  ASSERT_TRUE(holder) << holder.error().message;
  auto held = (*holder)->begin(TxMode::kWrite);
  ASSERT_TRUE(held) << held.error().message;
  ASSERT_TRUE(
      (*held)->execute("INSERT INTO widgets (id, body) VALUES (?, ?)", params(8, Bytes{0x01})));

  auto starting = Database::open(config(1, 300ms));
  ASSERT_TRUE(starting) << starting.error().message;
  Status s = (*starting)->migrate("widgets", all);
  EXPECT_TRUE(s) << s.error().message;
  // With a migration pending it must write, and waits its busy timeout on SQLite.
  if (GetParam() == Dialect::kSqlite) {
    const Migration more[] = {kV1, kV2, kV3};
    Status pending = (*starting)->migrate("widgets", more);
    ASSERT_FALSE(pending);
    EXPECT_EQ(pending.error().code, ErrorCode::kUnavailable);
  }
}

TEST_P(StoreTest, MigrationsAreKeptPerModule) {
  const Migration a[] = {{1, "a1", "CREATE TABLE a_things (id BIGINT)"}};
  const Migration b[] = {{1, "b1", "CREATE TABLE b_things (id BIGINT)"},
                         {2, "b2", "CREATE TABLE b_more (id BIGINT)"}};
  ASSERT_TRUE(db_->migrate("a", a));
  ASSERT_TRUE(db_->migrate("b", b));
  ASSERT_TRUE(db_->migrate("a", a));
  auto tx = begin(TxMode::kRead);
  auto row = tx->query_one("SELECT COUNT(*) FROM schema_migrations");
  EXPECT_EQ((*row)->int64(0), 3);
}

TEST_P(StoreTest, MigrateRefusesDatabaseNewerThanCode) {
  const Migration all[] = {kV1, kV2};
  ASSERT_TRUE(db_->migrate("widgets", all));
  const Migration older[] = {kV1};
  Status s = db_->migrate("widgets", older);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  s = db_->migrate("widgets", {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
}

TEST_P(StoreTest, FailedMigrationKeepsEarlierOnesAndStops) {
  const Migration all[] = {kV1, {2, "broken", "CREATE TABLE tags (oops"}, kV3};
  Status s = db_->migrate("widgets", all);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
  auto tx = begin(TxMode::kRead);
  auto row = tx->query_one("SELECT MAX(version) FROM schema_migrations WHERE module = 'widgets'");
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)->int64(0), 1);
  // v3 did not run either.
  EXPECT_FALSE(tx->query("SELECT name FROM widgets"));
}

TEST_P(StoreTest, MigrateRejectsUnorderedVersions) {
  const Migration unordered[] = {kV2, kV1};
  Status s = db_->migrate("widgets", unordered);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  const Migration zero[] = {{0, "zero", "SELECT 1"}};
  EXPECT_EQ(db_->migrate("widgets", zero).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreTest, ConcurrentMigratorsApplyOnce) {
  const Migration all[] = {kV1, kV2, kV3};
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      if (!db_->migrate("widgets", all)) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto tx = begin(TxMode::kRead);
  EXPECT_EQ((*tx->query_one("SELECT COUNT(*) FROM schema_migrations"))->int64(0), 3);
}

std::string dialect_name(const ::testing::TestParamInfo<Dialect>& info) {
  return info.param == Dialect::kSqlite ? "sqlite" : "postgres";
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest, ::testing::Values(Dialect::kSqlite), dialect_name);
INSTANTIATE_TEST_SUITE_P(Postgres, StoreTest, ::testing::Values(Dialect::kPostgres), dialect_name);

// ---- PostgreSQL durability (Postgres/PostgresDurabilityTest.*, run by store_postgres) ----

// One raw libpq session, outside certward's driver: for what the driver must not do itself
// (ALTER SYSTEM runs outside a transaction) and to see the server's own defaults.
class RawSession {
 public:
  explicit RawSession(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    CW_CHECK(PQstatus(conn_) == CONNECTION_OK);
  }
  ~RawSession() { PQfinish(conn_); }
  RawSession(const RawSession&) = delete;
  RawSession& operator=(const RawSession&) = delete;

  // Runs `sql` and returns the first column of its first row ("" when it returns none).
  std::string run(const std::string& sql) {
    PGresult* res = PQexec(conn_, sql.c_str());
    const ExecStatusType st = PQresultStatus(res);
    EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(res);
    std::string out = st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "";
    PQclear(res);
    return out;
  }

 private:
  PGconn* conn_;
};

class PostgresDurabilityTest : public StoreTest {
 public:
  std::string setting_in(Database& db, TxMode mode, const char* name) {
    auto tx = db.begin(mode);
    EXPECT_TRUE(tx) << tx.error().message;
    if (!tx) return "";
    auto row = (*tx)->query_one(std::string("SELECT current_setting('") + name + "')");
    EXPECT_TRUE(row && *row);
    return row && *row ? (**row).text(0) : "";
  }

  // Changes a server-wide setting (ALTER SYSTEM + reload; "DEFAULT" resets it) and waits
  // until new sessions see `expect`.
  void set_server_setting(const char* name, const char* value, const char* expect) {
    RawSession admin(base_url_);
    admin.run(std::string("ALTER SYSTEM SET ") + name + " = " + value);
    admin.run("SELECT pg_reload_conf()");
    for (int i = 0; i < 500; ++i) {
      if (RawSession(base_url_).run(std::string("SHOW ") + name) == expect) return;
      std::this_thread::sleep_for(10ms);
    }
    FAIL() << "the server never applied " << name << " = " << value;
  }
};

TEST_P(PostgresDurabilityTest, SessionsCommitSynchronouslyWhateverTheDefaults) {
  // The test server already runs with synchronous_commit = off; a role default and a
  // connection option say "off" too.
  RawSession admin(base_url_);
  admin.run("ALTER ROLE CURRENT_USER IN DATABASE " + admin.run("SELECT current_database()") +
            " SET synchronous_commit = off");
  struct Reset {
    std::string url;
    ~Reset() {
      RawSession(url).run("ALTER ROLE CURRENT_USER IN DATABASE " +
                          RawSession(url).run("SELECT current_database()") +
                          " RESET synchronous_commit");
    }
  } reset{base_url_};
  EXPECT_EQ(RawSession(base_url_).run("SHOW synchronous_commit"), "off");

  for (const char* extra : {"", "%20-c%20synchronous_commit%3Doff"}) {
    DatabaseConfig c = config();
    c.postgres_url += extra;
    auto db = Database::open(c);
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_EQ(setting_in(**db, TxMode::kWrite, "synchronous_commit"), "on") << extra;
    EXPECT_EQ(setting_in(**db, TxMode::kRead, "synchronous_commit"), "on") << extra;
  }
}

TEST_P(PostgresDurabilityTest, StrongerRemoteApplyIsKept) {
  DatabaseConfig c = config();
  c.postgres_url += "%20-c%20synchronous_commit%3Dremote_apply";
  auto db = Database::open(c);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(setting_in(**db, TxMode::kWrite, "synchronous_commit"), "remote_apply");
}

TEST_P(PostgresDurabilityTest, ServerWithoutFsyncIsRefused) {
  ASSERT_EQ(RawSession(base_url_).run("SHOW fsync"), "on")
      << "the durability tests need a server with fsync = on (scripts/pg-test-server.sh)";
  set_server_setting("fsync", "off", "off");
  struct Reset {
    PostgresDurabilityTest* test;
    ~Reset() { test->set_server_setting("fsync", "DEFAULT", "on"); }
  } reset{this};
  auto db = Database::open(config());
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
}

TEST_P(PostgresDurabilityTest, CommitOfAnAbortedTransactionFails) {
  create_items();
  auto tx = begin();
  insert_item(*tx, 1, "a");
  // The server aborts the transaction; the Transaction object never sees the error.
  internal::TEST_execute_unchecked(*tx, "SELECT 1 / 0");
  Status committed = tx->commit();
  ASSERT_FALSE(committed) << "COMMIT answered ROLLBACK and was taken for a commit";
  EXPECT_EQ(committed.error().code, ErrorCode::kUnavailable);
  tx.reset();
  EXPECT_EQ(count_items(), 0);
  // The connection is usable again.
  auto next = begin();
  insert_item(*next, 2, "b");
  ASSERT_TRUE(next->commit());
  EXPECT_EQ(count_items(), 1);
}

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresDurabilityTest, ::testing::Values(Dialect::kPostgres),
                         dialect_name);

// ---- driver-specific behaviour ----

TEST(SqliteDatabase, CreatesTheFileOwnerOnly) {
  DatabaseConfig c;
  c.sqlite_path = ::testing::TempDir() + "certward_store_mode_" + unique_suffix() + ".db";
  auto db = Database::open(c);
  ASSERT_TRUE(db) << db.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(c.sqlite_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  db->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((c.sqlite_path + suffix).c_str());
}

// What the durability guarantee rests on: every commit on the writer connection is appended
// to the WAL and fsync'd before COMMIT returns (synchronous=FULL; NORMAL would sync only at
// checkpoints, and a crash could lose acknowledged certificates).
TEST(SqliteDatabase, WriterRunsWalWithFullSynchronous) {
  DatabaseConfig c;
  c.sqlite_path = ::testing::TempDir() + "certward_store_sync_" + unique_suffix() + ".db";
  auto db = Database::open(c);
  ASSERT_TRUE(db) << db.error().message;
  {
    auto writer = (*db)->begin(TxMode::kWrite);
    ASSERT_TRUE(writer) << writer.error().message;
    auto mode = (*writer)->query_one("PRAGMA journal_mode");
    ASSERT_TRUE(mode && *mode) << (mode ? "no row" : mode.error().message);
    EXPECT_EQ((**mode).text(0), "wal");
    auto sync = (*writer)->query_one("PRAGMA synchronous");
    ASSERT_TRUE(sync && *sync) << (sync ? "no row" : sync.error().message);
    EXPECT_EQ((**sync).int64(0), 2) << "synchronous is not FULL";
    auto fk = (*writer)->query_one("PRAGMA foreign_keys");
    ASSERT_TRUE(fk && *fk);
    EXPECT_EQ((**fk).int64(0), 1);
    // A bulk import's WAL (the size of the whole import) does not stay on disk.
    auto limit = (*writer)->query_one("PRAGMA journal_size_limit");
    ASSERT_TRUE(limit && *limit);
    EXPECT_EQ((**limit).int64(0), 64 << 20);
  }
  db->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((c.sqlite_path + suffix).c_str());
}

TEST(SqliteDatabase, UnopenablePathIsUnavailable) {
  DatabaseConfig c;
  c.sqlite_path = "/nonexistent-dir/certward.db";
  auto db = Database::open(c);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
}

TEST(SqliteDatabase, InMemoryWorks) {
  DatabaseConfig c;
  c.sqlite_path = ":memory:";
  auto db = Database::open(c);
  ASSERT_TRUE(db) << db.error().message;
  auto tx = (*db)->begin(TxMode::kRead);
  ASSERT_TRUE(tx);
  auto row = (*tx)->query_one("SELECT 1 + ?", params(2));
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((**row).int64(0), 3);
}

TEST(PostgresDatabase, UnreachableServerIsUnavailable) {
  DatabaseConfig c;
  c.driver = Driver::kPostgres;
  c.postgres_url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2";
  auto db = Database::open(c);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
}

TEST(DatabaseConfig, RejectsBadSettings) {
  DatabaseConfig c;
  EXPECT_EQ(Database::open(c).error().code, ErrorCode::kInvalidArgument);  // no path
  c.sqlite_path = ":memory:";
  c.pool_size = 0;
  EXPECT_EQ(Database::open(c).error().code, ErrorCode::kInvalidArgument);
  c.pool_size = 1;
  for (int mib : {0, -1, 65537}) {
    DatabaseConfig writer = c;
    writer.sqlite_writer_cache_mib = mib;
    EXPECT_EQ(Database::open(writer).error().code, ErrorCode::kInvalidArgument) << mib;
    DatabaseConfig reader = c;
    reader.sqlite_reader_cache_mib = mib;
    EXPECT_EQ(Database::open(reader).error().code, ErrorCode::kInvalidArgument) << mib;
  }
  DatabaseConfig pg;
  pg.driver = Driver::kPostgres;
  EXPECT_EQ(Database::open(pg).error().code, ErrorCode::kInvalidArgument);  // no URL
}

TEST(Row, TypeMismatchIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Row row({Value(std::int64_t{1})});
  EXPECT_EQ(row.real(0), 1.0);
  EXPECT_DEATH((void)row.text(0), "invariant");
  EXPECT_DEATH((void)row.value(1), "invariant");
}

TEST(Params, ConvertsCommonTypes) {
  std::optional<int> none;
  const std::uint8_t raw[] = {1, 2};
  auto p = params(true, 7u, std::string_view("sv"), none, std::span<const std::uint8_t>(raw), 1.5f);
  EXPECT_EQ(std::get<std::int64_t>(p[0]), 1);
  EXPECT_EQ(std::get<std::int64_t>(p[1]), 7);
  EXPECT_EQ(std::get<std::string>(p[2]), "sv");
  EXPECT_TRUE(std::holds_alternative<std::nullptr_t>(p[3]));
  EXPECT_EQ(std::get<Bytes>(p[4]), (Bytes{1, 2}));
  EXPECT_EQ(std::get<double>(p[5]), 1.5);
}

}  // namespace
}  // namespace certward::store
