#pragma once
// Group commit for any module's short write transactions: callers hand over a unit of work,
// one writer thread runs the units that are waiting in one transaction, commits it once and
// releases all their callers. Under concurrency one fsync serves many requests; alone, a
// caller waits no longer than for a transaction of its own.
//
// A unit that fails (its own SQL, or an error it returns on purpose to refuse something) fails
// alone: the shared transaction is rolled back whole and run again without it, so nothing it
// wrote survives and its neighbours are not affected. A unit may therefore run more than once
// before it is committed: it must only work on the transaction and on what it captured, with
// its side effects (messages, callbacks) left for after run() returned. A failure of the
// database itself (no connection, a failed COMMIT) fails every unit of the batch with
// kUnavailable-like errors at once.
//
// Thread-safe: call run() from any number of threads.

#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "common/mutex.h"
#include "store/store.h"

namespace certward::store {

class GroupWriter {
 public:
  using Work = std::function<Status(Transaction&)>;

  explicit GroupWriter(Database& db, std::size_t max_batch = 256);
  ~GroupWriter();  // runs what is queued, then stops the writer
  GroupWriter(const GroupWriter&) = delete;
  GroupWriter& operator=(const GroupWriter&) = delete;

  // Runs `work` in a shared write transaction and returns once that transaction is committed
  // (durable) or `work` failed. Errors: what `work` returned, the database's errors, or
  // kUnavailable when the writer is stopping.
  Status run(Work work) CW_EXCLUDES(mu_);

  struct Stats {
    std::uint64_t commits = 0;  // transactions committed
    std::uint64_t units = 0;    // units they carried
  };
  Stats stats() const CW_EXCLUDES(mu_);

 private:
  struct Unit {
    Work work;
    std::promise<Status> done;
  };
  void loop() CW_EXCLUDES(mu_);
  void commit(std::vector<std::shared_ptr<Unit>> batch) CW_EXCLUDES(mu_);

  Database& db_;
  const std::size_t max_batch_;
  mutable common::Mutex mu_;
  common::CondVar cv_;
  std::deque<std::shared_ptr<Unit>> queue_ CW_GUARDED_BY(mu_);
  bool stopping_ CW_GUARDED_BY(mu_) = false;
  Stats stats_ CW_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace certward::store
