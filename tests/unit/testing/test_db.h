#pragma once
// A SQLite database in a per-test temporary directory, plus raw-SQL helpers for tests that
// inspect or tamper with rows directly.

#include <gtest/gtest.h>

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

}  // namespace certward::testing
