#pragma once
// A bounded pool of database connections (private to src/store), shared by both drivers.
//
// Thread-safe. Connections are created on demand by a factory, up to `capacity`; acquire()
// waits for one to come back, up to a timeout. A Lease returns its connection on destruction
// (or give_back()), unless the connection says it is no longer reusable (broken, or still inside a
// transaction), in which case it is closed and a fresh one will be made when needed.
// Conn REQUIRES `bool reusable() const`. The pool must outlive every Lease.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/mutex.h"

namespace certward::store::internal {

template <typename Conn>
class ConnectionPool {
 public:
  using Factory = std::function<Result<std::unique_ptr<Conn>>()>;

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() { give_back(); }
    // Returns the connection to the pool now; the lease is empty afterwards. Idempotent.
    void give_back() {
      if (conn_ != nullptr) pool_->release(std::move(conn_));
    }
    Conn& operator*() const { return *conn_; }
    Conn* operator->() const { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  ConnectionPool(std::size_t capacity, std::chrono::milliseconds timeout, Factory factory)
      : capacity_(capacity), timeout_(timeout), factory_(std::move(factory)) {}

  // Opens one connection now so that a bad configuration fails at startup, not later.
  Status warm_up() {
    auto lease = acquire();
    if (!lease) return std::unexpected(std::move(lease).error());
    return ok();
  }

  // Errors: kUnavailable (no connection within the timeout, or the factory's error).
  Result<Lease> acquire() {
    common::MutexLock lock(mutex_);
    const bool ready = available_.wait_for(mutex_, timeout_, [this]() CW_REQUIRES(mutex_) {
      return !idle_.empty() || open_count_ < capacity_;
    });
    if (!ready) {
      return fail(ErrorCode::kUnavailable, "store: no database connection free within the timeout");
    }
    if (!idle_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_count_;  // reserve the slot, then connect without holding the lock
    lock.unlock();
    Result<std::unique_ptr<Conn>> conn = factory_();
    if (!conn) {
      lock.lock();
      --open_count_;
      available_.notify_one();
      return std::unexpected(std::move(conn).error());
    }
    return Lease(this, *std::move(conn));
  }

 private:
  void release(std::unique_ptr<Conn> conn) {
    bool keep = conn->reusable();
    if (!keep) conn.reset();  // close outside the lock
    common::MutexLock lock(mutex_);
    if (keep) {
      idle_.push_back(std::move(conn));
    } else {
      --open_count_;
    }
    available_.notify_one();
  }

  // Constant after construction.
  const std::size_t capacity_;
  const std::chrono::milliseconds timeout_;
  const Factory factory_;

  common::Mutex mutex_;
  common::CondVar available_;
  std::vector<std::unique_ptr<Conn>> idle_ CW_GUARDED_BY(mutex_);
  std::size_t open_count_ CW_GUARDED_BY(mutex_) = 0;  // idle + leased
};

}  // namespace certward::store::internal
