#include "lifecycle/jobs.h"

#include <algorithm>

#include "crypto/crypto.h"
#include "store/schema.h"

namespace certward::lifecycle {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "jobs",
     R"sql(
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  run_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT,
  last_error TEXT NOT NULL,
  dedupe_key TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'running');
)sql"},
    // complete() removes done occurrences older than a day after every job: without an index
    // of its own that DELETE read every done row, once per completed job, holding the write lock.
    {2, "jobs_done_index",
     R"sql(
CREATE INDEX jobs_done ON jobs (kind, updated_at) WHERE state = 'done';
)sql"},
};

constexpr std::string_view kColumns =
    "id, kind, payload, state, run_at, attempts, max_attempts, lease_owner, lease_until, "
    "last_error, dedupe_key";

// The conflict clause of an enqueue: what happens to a pending (or running) job of the same
// dedupe key. A running job is never changed; the DO UPDATE's WHERE leaves it alone.
std::string_view on_conflict(OnPending on_pending) {
  switch (on_pending) {
    case OnPending::kKeep:
      return "DO NOTHING";
    case OnPending::kReschedule:
      return "DO UPDATE SET run_at = excluded.run_at, updated_at = excluded.updated_at WHERE "
             "jobs.state = 'pending'";
    case OnPending::kRunEarlier:
      break;
  }
  return "DO UPDATE SET run_at = excluded.run_at, updated_at = excluded.updated_at WHERE "
         "jobs.state = 'pending' AND excluded.run_at < jobs.run_at";
}

Result<JobState> parse_state(std::string_view s) {
  for (auto st : {JobState::kPending, JobState::kRunning, JobState::kDone, JobState::kFailed})
    if (job_state_name(st) == s) return st;
  return certward::fail(ErrorCode::kInternal, "unknown job state '" + std::string(s) + "'");
}

Result<Job> to_job(const store::Row& r) {
  Job j;
  j.id = r.text(0);
  j.kind = r.text(1);
  j.payload = nlohmann::json::parse(r.text(2), nullptr, false);
  CW_ASSIGN_OR_RETURN(j.state, parse_state(r.text(3)));
  j.run_at = from_unix(r.int64(4));
  j.attempts = static_cast<int>(r.int64(5));
  j.max_attempts = static_cast<int>(r.int64(6));
  j.lease_owner = r.optional_text(7);
  if (auto t = r.optional_int64(8)) j.lease_until = from_unix(*t);
  j.last_error = r.text(9);
  j.dedupe_key = r.optional_text(10);
  return j;
}

Status not_leased(const std::string& id, std::string_view owner) {
  return certward::fail(ErrorCode::kConflict,
                        "job " + id + " is not leased to " + std::string(owner));
}

}  // namespace

std::string_view job_state_name(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "pending";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
  }
  return "pending";
}

const store::SchemaModule kSchema{"lifecycle", kMigrations};

Status JobQueue::migrate(store::Database& db) { return db.migrate("lifecycle", kMigrations); }

Result<std::string> JobQueue::enqueue(store::Transaction& tx, const NewJob& job) const {
  if (job.kind.empty()) return certward::fail(ErrorCode::kInvalidArgument, "a job needs a kind");
  if (job.max_attempts < 1)
    return certward::fail(ErrorCode::kInvalidArgument, "max_attempts must be >= 1");
  const std::string id = to_hex(crypto::random_bytes(16));
  const std::int64_t now = to_unix(clock_.now());
  // ON CONFLICT rather than look-then-insert: two enqueuers of one key at once both get the
  // one job (on PostgreSQL the second waits for the first to commit, then finds its row).
  // RETURNING yields the new row, or the pending one the DO UPDATE moved; nothing when the
  // key's job was left as it was.
  CW_ASSIGN_OR_RETURN(
      auto row,
      tx.query_one(
          "INSERT INTO jobs (id, kind, payload, state, run_at, attempts, max_attempts, "
          "lease_owner, lease_until, last_error, dedupe_key, created_at, updated_at) VALUES (?, "
          "?, ?, 'pending', ?, 0, ?, NULL, NULL, '', ?, ?, ?) ON CONFLICT (dedupe_key) WHERE "
          "dedupe_key IS NOT NULL AND state IN ('pending', 'running') " +
              std::string(on_conflict(job.on_pending)) + " RETURNING id",
          store::params(id, job.kind, job.payload.dump(), job.run_at ? to_unix(*job.run_at) : now,
                        job.max_attempts, job.dedupe_key, now, now)));
  if (row) return row->text(0);
  CW_ASSIGN_OR_RETURN(auto existing,
                      tx.query_one("SELECT id FROM jobs WHERE dedupe_key = ? AND state IN "
                                   "('pending', 'running')",
                                   store::params(*job.dedupe_key)));
  if (!existing) return certward::fail(ErrorCode::kUnavailable, "job deduplication raced");
  return existing->text(0);
}

Result<std::string> JobQueue::enqueue(const NewJob& job) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto id, enqueue(*tx, job));
  CW_RETURN_IF_ERROR(tx->commit());
  return id;
}

Result<std::vector<Job>> JobQueue::lease(std::string_view owner,
                                         const std::vector<std::string>& kinds, int max,
                                         std::chrono::seconds lease) const {
  if (max < 1 || kinds.empty()) return std::vector<Job>();
  const std::int64_t now = to_unix(clock_.now());
  std::string in = "(";
  std::vector<store::Value> kind_params;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    in += i ? ", ?" : "?";
    kind_params.emplace_back(kinds[i]);
  }
  in += ")";
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  // The row locks (PostgreSQL) make concurrent leasers skip each other's jobs instead of
  // waiting for them; the UPDATE then claims exactly what was selected. Pending and expired
  // jobs are two queries, each read in the order of the jobs_due index and cut at `max`: one
  // query with an OR would sort every due job (a whole fleet due at once) for each lease.
  auto select_due = [&](std::string_view condition) {
    std::vector<store::Value> params = {now};
    params.insert(params.end(), kind_params.begin(), kind_params.end());
    return tx->query("SELECT id, run_at FROM jobs WHERE " + std::string(condition) +
                         " AND kind IN " + in + " ORDER BY run_at, id LIMIT " +
                         std::to_string(max) + " FOR UPDATE SKIP LOCKED",
                     params);
  };
  CW_ASSIGN_OR_RETURN(auto pending, select_due("state = 'pending' AND run_at <= ?"));
  CW_ASSIGN_OR_RETURN(auto expired, select_due("state = 'running' AND lease_until < ?"));
  // Earliest first of both, `max` at most; those left out stay locked until the commit only.
  std::vector<store::Row> due(pending.begin(), pending.end());
  due.insert(due.end(), expired.begin(), expired.end());
  std::sort(due.begin(), due.end(), [](const store::Row& a, const store::Row& b) {
    return std::pair(a.int64(1), a.text(0)) < std::pair(b.int64(1), b.text(0));
  });
  if (due.size() > static_cast<std::size_t>(max)) due.resize(static_cast<std::size_t>(max));
  std::vector<Job> out;
  for (const auto& row : due) {
    CW_ASSIGN_OR_RETURN(
        auto updated,
        tx->query_one("UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, "
                      "attempts = attempts + 1, updated_at = ? WHERE id = ? RETURNING " +
                          std::string(kColumns),
                      store::params(std::string(owner), now + lease.count(), now, row.text(0))));
    if (!updated) continue;
    CW_ASSIGN_OR_RETURN(auto job, to_job(*updated));
    out.push_back(std::move(job));
  }
  CW_RETURN_IF_ERROR(tx->commit());
  return out;
}

Status JobQueue::complete(const std::string& id, std::string_view owner,
                          const std::optional<NewJob>& next) const {
  // A unit of the group commit may run more than once (a neighbour failed and the shared
  // transaction was run again without it): it only writes, from what it captured.
  return writer_->run([&](store::Transaction& tx) -> Status {
    const std::int64_t now = to_unix(clock_.now());
    // Done first: that takes the job out of its dedupe key, which `next` may reuse.
    CW_ASSIGN_OR_RETURN(
        auto n,
        tx.execute_count("UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = "
                         "NULL, updated_at = ? WHERE id = ? AND state = 'running' AND "
                         "lease_owner = ?",
                         store::params(now, id, std::string(owner))));
    if (n != 1) return not_leased(id, owner);
    if (!next) return ok();
    CW_RETURN_IF_ERROR(enqueue(tx, *next));
    // Recurring work (CRL publication every few seconds) would otherwise pile up one done row
    // per occurrence for ever: a day of its history is kept.
    return tx.execute("DELETE FROM jobs WHERE kind = ? AND state = 'done' AND updated_at < ?",
                      store::params(next->kind, to_unix(clock_.now() - kDoneRecurringKept)));
  });
}

Status JobQueue::fail(const std::string& id, std::string_view owner, std::string_view error,
                      std::chrono::seconds retry_after,
                      const std::optional<NewJob>& next_if_final) const {
  return writer_->run([&](store::Transaction& tx) -> Status {
    const std::int64_t now = to_unix(clock_.now());
    CW_ASSIGN_OR_RETURN(
        auto row,
        tx.query_one("UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' "
                     "ELSE 'pending' END, run_at = ?, lease_owner = NULL, lease_until = NULL, "
                     "last_error = ?, updated_at = ? WHERE id = ? AND state = 'running' AND "
                     "lease_owner = ? RETURNING state",
                     store::params(now + retry_after.count(), std::string(error), now, id,
                                   std::string(owner))));
    if (!row) return not_leased(id, owner);
    if (next_if_final && row->text(0) == job_state_name(JobState::kFailed)) {
      CW_RETURN_IF_ERROR(enqueue(tx, *next_if_final));
    }
    return ok();
  });
}

Status JobQueue::release(const std::string& id, std::string_view owner) const {
  return writer_->run([&](store::Transaction& tx) -> Status {
    CW_ASSIGN_OR_RETURN(
        auto n, tx.execute_count("UPDATE jobs SET state = 'pending', attempts = attempts - 1, "
                                 "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id "
                                 "= ? AND state = 'running' AND lease_owner = ?",
                                 store::params(to_unix(clock_.now()), id, std::string(owner))));
    if (n != 1) return not_leased(id, owner);
    return ok();
  });
}

Result<std::set<std::string>> JobQueue::live_keys(std::span<const std::string> keys) const {
  std::set<std::string> out;
  if (keys.empty()) return out;
  if (keys.size() > 1000) {
    return certward::fail(ErrorCode::kInvalidArgument, "at most 1000 keys at a time");
  }
  std::string in = "(";
  std::vector<store::Value> params;
  for (const auto& k : keys) {
    in += params.empty() ? "?" : ", ?";
    params.emplace_back(k);
  }
  in += ")";
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT dedupe_key FROM jobs WHERE dedupe_key IN " + in +
                                               " AND state IN ('pending', 'running')",
                                           params));
  for (const auto& r : rows) out.insert(r.text(0));
  return out;
}

Result<std::optional<Job>> JobQueue::get(const std::string& id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row,
                      tx->query_one("SELECT " + std::string(kColumns) + " FROM jobs WHERE id = ?",
                                    store::params(id)));
  if (!row) return std::optional<Job>();
  CW_ASSIGN_OR_RETURN(auto job, to_job(*row));
  return std::optional<Job>(std::move(job));
}

}  // namespace certward::lifecycle
