#pragma once
// A blocking queue of bounded length between producer threads and one or more consumers: a
// producer waits while it is full, so a fast producer (a scan's I/O threads) cannot pile up
// more work than the consumer (a database writer) will take soon, and the consumer's slowness
// never runs on the producer's thread.
//
// Thread-safe.

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "common/mutex.h"

namespace certward::common {

template <typename T>
class BoundedQueue {
 public:
  // REQUIRES: capacity > 0.
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

  // Waits for room, then queues `item`. Returns false (and drops it) once close() was called.
  bool push(T item) CW_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    cv_.notify_all();
    return true;
  }

  // Waits for an item; nullopt once the queue is closed and empty.
  std::optional<T> pop() CW_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    cv_.notify_all();
    return item;
  }

  // An item if one is waiting, without waiting for one.
  std::optional<T> try_pop() CW_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    cv_.notify_all();
    return item;
  }

  // No more pushes: waiting producers return false, consumers take what is left, then nullopt.
  void close() CW_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  const std::size_t capacity_;
  Mutex mu_;
  CondVar cv_;
  std::deque<T> items_ CW_GUARDED_BY(mu_);
  bool closed_ CW_GUARDED_BY(mu_) = false;
};

}  // namespace certward::common
