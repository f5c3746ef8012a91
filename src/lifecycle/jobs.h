#pragma once
// Durable scheduled work (renewals, scans, CRL regeneration, notifications) stored in the
// database and leased, so that several server replicas sharing one database each take
// different jobs and a job whose worker died is taken again when its lease runs out.
// lifecycle::Scheduler (scheduler.h) is what runs them.
//
// On PostgreSQL a lease is SELECT ... FOR UPDATE SKIP LOCKED; on SQLite, where write
// transactions are serialised anyway, the same SQL runs without the row lock.
//
// Finishing a job (complete, fail, release) is a short write that every worker does once per
// job: those of concurrent workers share one transaction and one commit (store::GroupWriter),
// each still durable before it returns and each failing alone (a lease another took is that
// job's kConflict, never its neighbours').
// Thread-safe; stateless besides the injected clock, database and its writer thread.

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "store/group_writer.h"
#include "store/store.h"

namespace certward::lifecycle {

enum class JobState : std::uint8_t { kPending, kRunning, kDone, kFailed };
std::string_view job_state_name(JobState s);

struct Job {
  std::string id;
  std::string kind;  // "renew", "scan", "crl", "notify", ...
  nlohmann::json payload = nlohmann::json::object();
  JobState state = JobState::kPending;
  SysTime run_at{};
  int attempts = 0;  // leases so far, this one included
  int max_attempts = 0;
  std::optional<std::string> lease_owner;
  std::optional<SysTime> lease_until;
  std::string last_error;
  std::optional<std::string> dedupe_key;
};

// What enqueueing a job does when its dedupe_key already names a pending job.
enum class OnPending : std::uint8_t {
  kRunEarlier,  // moves the pending job to run_at if that is earlier, never later ("run now")
  kKeep,        // leaves it as it is (make sure one exists)
  kReschedule,  // moves it to run_at, earlier or later
};

struct NewJob {
  std::string kind;
  nlohmann::json payload = nlohmann::json::object();
  std::optional<SysTime> run_at;  // default: now
  // Jobs with the same key are one job while it is pending or running: enqueueing it again
  // adds nothing (e.g. "renew:<managed certificate id>"); a pending one may move, as
  // `on_pending` says; a running one is left alone.
  std::optional<std::string> dedupe_key;
  OnPending on_pending = OnPending::kRunEarlier;
  int max_attempts = 5;
};

class JobQueue {
 public:
  // `db` is the queue's own handle: callers ask the queue, never its table.
  JobQueue(const Clock& clock, store::Database& db)
      : clock_(clock), db_(db), writer_(std::make_unique<store::GroupWriter>(db)) {}

  static Status migrate(store::Database& db);

  // Inside the caller's transaction, so that a job exists only if the change that wants it
  // committed. Returns the job id, or the existing job's id for a deduplicated key.
  // Errors: kInvalidArgument (no kind, max_attempts < 1), store errors.
  Result<std::string> enqueue(store::Transaction& tx, const NewJob& job) const;
  // The same in a transaction of its own.
  Result<std::string> enqueue(const NewJob& job) const;

  // Leases up to `max` due jobs of `kinds` to `owner` for `lease`, earliest first: pending
  // ones whose time has come, and running ones whose lease expired (their worker is
  // presumed dead). Each lease counts as an attempt.
  Result<std::vector<Job>> lease(std::string_view owner, const std::vector<std::string>& kinds,
                                 int max, std::chrono::seconds lease) const;

  // How long done occurrences of recurring work are kept: complete() with a `next` removes
  // older ones of its kind.
  static constexpr std::chrono::hours kDoneRecurringKept{24};

  // Marks the job done. `next`, when given, is enqueued in the same transaction (the next
  // occurrence of recurring work, which may carry the same dedupe key), so that it exists
  // exactly when this one is done; done occurrences of its kind older than
  // kDoneRecurringKept are removed.
  // Errors: kConflict if `owner` no longer holds the lease (it expired and another took it).
  Status complete(const std::string& id, std::string_view owner,
                  const std::optional<NewJob>& next = std::nullopt) const;
  // Records the failure; the job runs again after `retry_after` unless it has used its
  // attempts, then it is kFailed for good and `next_if_final`, when given, is enqueued in
  // the same transaction. Errors: kConflict as for complete().
  Status fail(const std::string& id, std::string_view owner, std::string_view error,
              std::chrono::seconds retry_after,
              const std::optional<NewJob>& next_if_final = std::nullopt) const;
  // Hands a leased job back untried (its worker is stopping): pending again, due as before,
  // the attempt not counted. Errors: kConflict as for complete().
  Status release(const std::string& id, std::string_view owner) const;

  Result<std::optional<Job>> get(const std::string& id) const;

  // Which of `keys` (at most 1000) name a pending or running job: for a sweep that makes sure
  // work is scheduled without writing where it is.
  Result<std::set<std::string>> live_keys(std::span<const std::string> keys) const;

 private:
  const Clock& clock_;
  store::Database& db_;
  // The finishing writes' group commit; its own thread, so the queue is not copyable.
  std::unique_ptr<store::GroupWriter> writer_;
};

}  // namespace certward::lifecycle
