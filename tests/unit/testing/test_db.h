#pragma once
// A SQLite database in a per-test temporary directory, plus raw-SQL helpers for tests that
// inspect or tamper with rows directly.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "store/store.h"
#include "unit/testing/temp_dir.h"

namespace certward::testing {

inline std::unique_ptr<store::Database> open_test_db(const TempDir& dir) {
  store::DatabaseConfig config;
  config.driver = store::Driver::kSqlite;
  config.sqlite_path = dir.file("t.db");
  auto db = store::Database::open(config);
  CW_CHECK(db.has_value());
  return std::move(*db);
}

// Runs one write statement and commits; returns the number of rows it changed.
inline std::int64_t exec_sql(store::Database& db, std::string_view sql,
                             std::span<const store::Value> params = {}) {
  auto tx = db.begin(store::TxMode::kWrite);
  CW_CHECK(tx.has_value());
  auto n = (*tx)->execute_count(sql, params);
  CW_CHECK(n.has_value());
  CW_CHECK((*tx)->commit().has_value());
  return *n;
}

inline std::int64_t count_rows(store::Database& db, std::string_view table) {
  auto tx = db.begin(store::TxMode::kRead);
  CW_CHECK(tx.has_value());
  auto row = (*tx)->query_one("SELECT COUNT(*) FROM " + std::string(table));
  CW_CHECK(row.has_value() && row->has_value());
  return (**row).int64(0);
}

// A scratch database for tests that must hold on both drivers: a SQLite file in a temporary
// directory, or, when CERTWARD_TEST_POSTGRES_URL is set (scripts/with-postgres.sh), a fresh
// PostgreSQL schema dropped again at destruction.
class ScratchDatabase {
 public:
  ScratchDatabase() {
    store::DatabaseConfig config;
    const char* pg = std::getenv("CERTWARD_TEST_POSTGRES_URL");
    if (pg != nullptr && *pg != '\0') {
      admin_url_ = pg;
      static int counter = 0;
      schema_ = "cw_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
      admin("CREATE SCHEMA " + schema_);
      config.driver = store::Driver::kPostgres;
      config.postgres_url = admin_url_ + (admin_url_.find('?') == std::string::npos ? "?" : "&") +
                            "options=-c%20search_path%3D" + schema_;
    } else {
      config.driver = store::Driver::kSqlite;
      config.sqlite_path = dir_.file("t.db");
    }
    auto db = store::Database::open(config);
    CW_CHECK(db.has_value());
    db_ = std::move(*db);
  }
  ~ScratchDatabase() {
    db_.reset();
    if (!schema_.empty()) admin("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  store::Database& operator*() { return *db_; }
  store::Database* operator->() { return db_.get(); }
  bool is_postgres() const { return !schema_.empty(); }

 private:
  void admin(const std::string& sql) {
    store::DatabaseConfig c;
    c.driver = store::Driver::kPostgres;
    c.postgres_url = admin_url_;
    c.pool_size = 1;
    auto db = store::Database::open(c);
    CW_CHECK(db.has_value());
    auto tx = (*db)->begin();
    CW_CHECK(tx.has_value());
    CW_CHECK((*tx)->execute(sql).has_value());
    CW_CHECK((*tx)->commit().has_value());
  }

  TempDir dir_;
  std::string admin_url_;
  std::string schema_;
  std::unique_ptr<store::Database> db_;
};

}  // namespace certward::testing
