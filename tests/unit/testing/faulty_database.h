#pragma once
// A store::Database for tests that forwards to a real one and, on demand, holds or fails write
// transactions the way a struggling database does:
//   - hold_writes(): write begin() calls block at a gate until release(), so that a test can
//     let work queue up behind a writer and then let it go;
//   - fail_begins(stall): write begin() calls wait `stall` and then fail with kUnavailable,
//     like a database busy past its timeout;
//   - fail_commits(n): the next n commits fail with kUnavailable (the transaction is rolled
//     back), like a connection lost at COMMIT.
// Read transactions are never touched. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <thread>

#include "store/store.h"

namespace certward::testing {

class FaultyDatabase final : public store::Database {
 public:
  explicit FaultyDatabase(store::Database& inner) : inner_(inner) {}

  store::Dialect dialect() const override { return inner_.dialect(); }

  void hold_writes() {
    std::lock_guard lock(mu_);
    holding_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      holding_ = false;
    }
    cv_.notify_all();
  }
  // Waits until `n` write begin() calls are blocked at the gate. False after `timeout`.
  bool wait_until_held(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return held_ >= n; });
  }
  void fail_begins(std::chrono::milliseconds stall) {
    std::lock_guard lock(mu_);
    begin_stall_ = stall;
  }
  void fail_commits(int n) {
    std::lock_guard lock(mu_);
    commit_failures_ = n;
  }
  void heal() {
    std::lock_guard lock(mu_);
    begin_stall_.reset();
    commit_failures_ = 0;
  }
  // Write transactions asked for so far (held, failed or not).
  int write_begins() const {
    std::lock_guard lock(mu_);
    return write_begins_;
  }

 private:
  class Tx;

  Result<std::unique_ptr<store::Transaction>> do_begin(store::TxMode mode) override;

  bool take_commit_failure() {
    std::lock_guard lock(mu_);
    if (commit_failures_ == 0) return false;
    --commit_failures_;
    return true;
  }

  store::Database& inner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;                                  // guarded by mu_
  int held_ = 0;                                          // guarded by mu_
  int write_begins_ = 0;                                  // guarded by mu_
  std::optional<std::chrono::milliseconds> begin_stall_;  // guarded by mu_
  int commit_failures_ = 0;                               // guarded by mu_
};

// Forwards every call to the real transaction; commit() may be failed by the database.
class FaultyDatabase::Tx final : public store::Transaction {
 public:
  Tx(FaultyDatabase& db, std::unique_ptr<store::Transaction> inner)
      : db_(db), inner_(std::move(inner)) {}

 private:
  Result<std::int64_t> do_execute(std::string_view sql, std::span<const store::Value> params,
                                  store::Rows* rows) override {
    if (rows == nullptr) return inner_->execute_count(sql, params);
    auto r = inner_->query(sql, params);
    if (!r) return std::unexpected(std::move(r).error());
    *rows = *std::move(r);
    return 0;
  }
  Status do_execute_script(std::string_view sql) override { return inner_->execute_script(sql); }
  Status do_commit() override {
    if (db_.take_commit_failure()) {
      inner_.reset();  // rolls back
      return fail(ErrorCode::kUnavailable, "test: the connection was lost at COMMIT");
    }
    return inner_->commit();
  }
  void do_rollback() override { inner_.reset(); }
  void do_release() override { inner_.reset(); }

  FaultyDatabase& db_;
  std::unique_ptr<store::Transaction> inner_;
};

inline Result<std::unique_ptr<store::Transaction>> FaultyDatabase::do_begin(store::TxMode mode) {
  if (mode == store::TxMode::kWrite) {
    std::optional<std::chrono::milliseconds> stall;
    {
      std::unique_lock lock(mu_);
      ++write_begins_;
      ++held_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !holding_; });
      --held_;
      stall = begin_stall_;
    }
    if (stall) {
      std::this_thread::sleep_for(*stall);
      return fail(ErrorCode::kUnavailable, "test: no database connection within the timeout");
    }
  }
  CW_ASSIGN_OR_RETURN(auto tx, inner_.begin(mode));
  return std::unique_ptr<store::Transaction>(new Tx(*this, std::move(tx)));
}

}  // namespace certward::testing
