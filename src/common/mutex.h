#pragma once
// A mutex, its scoped lock and a condition variable that clang's thread-safety analysis can
// follow (common/thread_annotations.h): std::mutex and std::condition_variable underneath, at
// the same cost. Use these, not the std types, for every lock in src/, and mark what each lock
// protects with CW_GUARDED_BY.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "common/thread_annotations.h"

namespace certward::common {

class CondVar;

// Not recursive. Thread-safe.
class CW_CAPABILITY("mutex") Mutex {
 public:
  constexpr Mutex() noexcept = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() CW_ACQUIRE() { mu_.lock(); }
  void unlock() CW_RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex from construction to destruction. unlock() and lock() let go of it and take it
// back in between, for work that must not run under the lock.
class CW_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) CW_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() CW_RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void unlock() CW_RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void lock() CW_ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// A reader/writer mutex: many readers at once, or one writer. Not recursive. Thread-safe.
class CW_CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() CW_ACQUIRE() { mu_.lock(); }
  void unlock() CW_RELEASE() { mu_.unlock(); }
  void lock_shared() CW_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() CW_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex shared (as a reader) from construction to destruction.
class CW_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) CW_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() CW_RELEASE() {
    if (held_) mu_.unlock_shared();
  }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;
  void unlock() CW_RELEASE() {
    mu_.unlock_shared();
    held_ = false;
  }

 private:
  SharedMutex& mu_;
  bool held_ = true;
};

// Holds a SharedMutex exclusively (as the writer) from construction to destruction.
class CW_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) CW_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() CW_RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// A condition variable waited on with a common::Mutex held. A wait releases the mutex while it
// sleeps and holds it again when it returns and whenever it evaluates `pred`. Annotate the
// predicate so that the analysis checks its body as well:
//   cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
class CondVar {
 public:
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

  // Returns once pred() is true.
  // The analysis cannot see the standard library unlock and relock `mu` (it is held again
  // on return), hence CW_NO_THREAD_SAFETY_ANALYSIS on these two.
  template <typename Pred>
  void wait(Mutex& mu, Pred pred) CW_REQUIRES(mu) CW_NO_THREAD_SAFETY_ANALYSIS {
    Adopted held(mu);
    cv_.wait(held.lock, std::move(pred));
  }

  // Returns pred(): false if `timeout` passed with pred() still false.
  template <typename Rep, typename Period, typename Pred>
  bool wait_for(Mutex& mu, std::chrono::duration<Rep, Period> timeout, Pred pred)
      CW_REQUIRES(mu) CW_NO_THREAD_SAFETY_ANALYSIS {
    Adopted held(mu);
    return cv_.wait_for(held.lock, timeout, std::move(pred));
  }

 private:
  // Lends the caller's lock to std::condition_variable and hands it back, still held, on
  // every way out.
  struct Adopted {
    explicit Adopted(Mutex& mu) : lock(mu.mu_, std::adopt_lock) {}
    ~Adopted() { lock.release(); }
    Adopted(const Adopted&) = delete;
    Adopted& operator=(const Adopted&) = delete;
    std::unique_lock<std::mutex> lock;
  };

  std::condition_variable cv_;
};

}  // namespace certward::common
