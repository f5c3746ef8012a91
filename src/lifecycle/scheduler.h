#pragma once
// Runs the durable jobs of the queue (jobs.h) whose kinds it has handlers for, on one thread
// of its own: never on an I/O thread, never one thread per waiting job.
//
// Each poll leases up to `batch` due jobs in the scheduler's name (one transaction), runs their
// handlers, `workers` at a time (default one after the other), and completes each, or fails it
// to be retried with exponential backoff until it has used its attempts; then the thread sleeps
// until the next poll, or until wake(). Jobs run side by side let the components they call
// share commits (the RA's group commit, the queue's own for completing them). Several
// schedulers (one per replica) may share one database: the lease gives each job to one of them,
// and a job whose scheduler died while running it is taken again once its lease has run out.
// A job therefore runs at least once, and may run again after such a crash: handlers must be
// idempotent.
//
// Recurring work (CRL regeneration, the serving-certificate check, scans) is one job at a time
// under the dedupe key recurring_key(kind): whenever an occurrence is done, or has failed for
// good, the next is enqueued `interval` later in the same transaction, and start() makes sure
// one exists. run_now() moves the pending occurrence to now (SIGHUP).
//
// Thread-safety: handle() and handle_recurring() before start(), from the thread that starts
// and stops; run_now() and wake() from any thread.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "lifecycle/jobs.h"

namespace certward::lifecycle {

// Runs one job. Ok: the job is done. An error: the attempt failed; the job is retried after a
// backoff until it has used its attempts. It runs on a thread of the scheduler (with
// `workers` > 1, beside other jobs of the same poll: it must be thread-safe) and may block (on
// the database, a peer), but must end well within SchedulerOptions::lease, after which another
// scheduler may take the job again. It must not call the scheduler's stop().
using JobHandler = std::function<Status(const Job& job)>;

// Runs one job of work that schedules itself (a managed certificate's next reconciliation): as
// a JobHandler, and on success it may name the job's successor, which is enqueued in the
// transaction that marks this one done. A job cannot enqueue its successor itself while it
// runs: under its own dedupe key, that would add nothing.
using ChainedJobHandler = std::function<Result<std::optional<NewJob>>(const Job& job)>;

// How a kind of work recurs.
struct Recurrence {
  // Time from the end of one occurrence (done, or failed for good) to the next. REQUIRED > 0.
  std::chrono::seconds interval{3600};
  // Where start() puts the next occurrence.
  enum class First : std::uint8_t {
    // A pending occurrence keeps its time (one that fell due while no scheduler ran runs at
    // once); if there is none, the first runs now. For work any replica may do.
    kCatchUp,
    // One interval from now, whatever was pending: for work the process has just done while
    // starting, of a kind no other process runs (the server's own certificate check).
    kAfterInterval,
  };
  First first = First::kCatchUp;
};

struct SchedulerOptions {
  // REQUIRED: the name leases are held in; unique among the schedulers sharing the database
  // at any time (make_owner_id()).
  std::string owner;
  // The longest sleep between polls; wake() and run_now() cut it short. Default 1 s.
  std::chrono::milliseconds poll_interval{1000};
  // The most jobs one poll leases and runs; after a full batch the next poll comes at once.
  // Default 4.
  int batch = 4;
  // How many of a poll's jobs run at once, each on a thread of the poll (the scheduler's own
  // and workers - 1 more, started for the poll). Default 1: one after the other.
  int workers = 1;
  // How long a leased job is the scheduler's before another may take it. Default 5 min.
  std::chrono::seconds lease{300};
  // Attempt n that failed is retried retry_base * 2^(n-1) later, at most retry_max.
  // Defaults 10 s and 1 h.
  std::chrono::seconds retry_base{10};
  std::chrono::seconds retry_max{3600};
  // The attempts each occurrence of recurring work has. Default 3.
  int recurring_max_attempts = 3;
};

// "<host name>:<process id>:<random>": an owner no other live scheduler has.
std::string make_owner_id();

class Scheduler {
 public:
  // `clock` and `queue` outlive the scheduler.
  Scheduler(const Clock& clock, const JobQueue& queue, SchedulerOptions options);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Jobs of `kind` are run by `handler`, which outlives stop().
  // Errors: kInvalidArgument (empty kind or handler), kConflict (kind already handled, or the
  // scheduler started).
  Status handle(std::string kind, JobHandler handler);
  // The same for work that names its own successor (ChainedJobHandler).
  Status handle_chained(std::string kind, ChainedJobHandler handler);
  // The same, and `kind` recurs as `recurrence` says, under recurring_key(kind).
  // Errors: as handle(), and kInvalidArgument for an interval that is not positive.
  Status handle_recurring(std::string kind, Recurrence recurrence, JobHandler handler);

  // Schedules each recurring kind's next occurrence (Recurrence::first), then starts the
  // thread, which polls at once. Errors: kConflict (started before), store errors (then
  // nothing runs).
  Status start();
  // Runs recurring work as soon as possible: its pending occurrence moves to now (never later)
  // and the thread polls at once; an occurrence running now is not run a second time.
  // Errors: kNotFound (`kind` is not recurring work of this scheduler), store errors.
  Status run_now(std::string_view kind);
  // Polls at once (e.g. after enqueueing a job that is due now).
  void wake();
  // Lets the handlers that are running finish, hands the jobs it leased and has not begun back
  // to the queue, and joins the thread: prompt unless a handler is slow. Idempotent.
  void stop();

  // Runs one poll on the calling thread, stopped or not, and returns how many jobs it leased
  // (and ran). For tests. REQUIRES: the thread is not running.
  Result<int> TEST_poll() { return poll(/*stoppable=*/false); }

  static std::string recurring_key(std::string_view kind);  // "recurring:<kind>"

 private:
  struct Entry {
    JobHandler handler;  // or
    ChainedJobHandler chained;
    std::optional<Recurrence> recurrence;
  };

  Status add_entry(std::string kind, Entry entry);
  void run();
  // Leases and runs one batch; returns how many it leased. Once stop() was called, a
  // `stoppable` poll hands back the jobs it has not begun.
  Result<int> poll(bool stoppable);
  // Runs `job`, or hands it back untried once a `stoppable` poll's stop() was called.
  void start_job(const Job& job, bool stoppable);
  void run_job(const Job& job, const Entry& entry);
  std::chrono::seconds backoff(int attempts) const;
  // The occurrence of recurring `kind` due at `at`.
  NewJob occurrence(const std::string& kind, SysTime at) const;
  bool stopping() const CW_EXCLUDES(mu_);

  const Clock& clock_;
  const JobQueue& queue_;
  const SchedulerOptions options_;

  // Written before start() only, read-only once the thread runs.
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::string> kinds_;

  mutable common::Mutex mu_;
  common::CondVar cv_;
  bool started_ CW_GUARDED_BY(mu_) = false;
  bool wake_ CW_GUARDED_BY(mu_) = false;
  bool stopping_ CW_GUARDED_BY(mu_) = false;
  bool poll_failing_ = false;  // the thread's own: whether the last poll failed
  std::thread thread_;
};

}  // namespace certward::lifecycle
