#pragma once
// Durable scheduled work (renewals, scans, CRL regeneration, notifications) stored in the
// database and leased, so that several server replicas sharing one database each take
// different jobs and a job whose worker died is taken again when its lease runs out.
//
// On PostgreSQL a lease is SELECT ... FOR UPDATE SKIP LOCKED; on SQLite, where write
// transactions are serialised anyway, the same SQL runs without the row lock.
// Thread-safe; stateless besides the injected clock.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
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
  int attempts = 0;
  std::optional<std::string> lease_owner;
  std::optional<SysTime> lease_until;
  std::string last_error;
};

struct NewJob {
  std::string kind;
  nlohmann::json payload = nlohmann::json::object();
  std::optional<SysTime> run_at;  // default: now
  // Jobs with the same key are one job: enqueueing it again while it is pending or running
  // does nothing (e.g. "renew:<managed certificate id>").
  std::optional<std::string> dedupe_key;
  int max_attempts = 5;
};

class JobQueue {
 public:
  explicit JobQueue(const Clock& clock) : clock_(clock) {}

  static Status migrate(store::Database& db);

  // Inside the caller's transaction, so that a job exists only if the change that wants it
  // committed. Returns the job id, or the existing job's id for a deduplicated key.
  Result<std::string> enqueue(store::Transaction& tx, const NewJob& job) const;

  // Leases up to `max` due jobs of `kinds` to `owner` for `lease`: pending ones whose time
  // has come, and running ones whose lease expired (their worker is presumed dead).
  Result<std::vector<Job>> lease(store::Database& db, std::string_view owner,
                                 const std::vector<std::string>& kinds, int max,
                                 std::chrono::seconds lease) const;

  // Errors: kConflict if `owner` no longer holds the lease (it expired and another took it).
  Status complete(store::Database& db, const std::string& id, std::string_view owner) const;
  // Records the failure; the job runs again after `retry_after` unless it has used its
  // attempts, then it is kFailed for good.
  Status fail(store::Database& db, const std::string& id, std::string_view owner,
              std::string_view error, std::chrono::seconds retry_after) const;

  Result<std::optional<Job>> get(store::Database& db, const std::string& id) const;

 private:
  const Clock& clock_;
};

}  // namespace certward::lifecycle
