#include "lifecycle/scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>

#include "common/log.h"
#include "common/thread_name.h"
#include "crypto/crypto.h"

namespace certward::lifecycle {

std::string make_owner_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" +
         to_hex(crypto::random_bytes(4));
}

std::string Scheduler::recurring_key(std::string_view kind) {
  return "recurring:" + std::string(kind);
}

Scheduler::Scheduler(const Clock& clock, const JobQueue& queue, SchedulerOptions options)
    : clock_(clock), queue_(queue), options_(std::move(options)) {}

Scheduler::~Scheduler() { stop(); }

Status Scheduler::handle(std::string kind, JobHandler handler) {
  return add_entry(std::move(kind), Entry{std::move(handler), nullptr, std::nullopt});
}

Status Scheduler::handle_chained(std::string kind, ChainedJobHandler handler) {
  return add_entry(std::move(kind), Entry{nullptr, std::move(handler), std::nullopt});
}

Status Scheduler::handle_recurring(std::string kind, Recurrence recurrence, JobHandler handler) {
  if (recurrence.interval <= std::chrono::seconds(0))
    return fail(ErrorCode::kInvalidArgument, "a recurring job needs a positive interval");
  return add_entry(std::move(kind), Entry{std::move(handler), nullptr, recurrence});
}

Status Scheduler::add_entry(std::string kind, Entry entry) {
  if (kind.empty() || (!entry.handler && !entry.chained))
    return fail(ErrorCode::kInvalidArgument, "a job handler needs a kind and a function");
  {
    common::MutexLock lock(mu_);
    if (started_) return fail(ErrorCode::kConflict, "the scheduler has started");
  }
  if (entries_.contains(kind))
    return fail(ErrorCode::kConflict, "jobs of kind '" + kind + "' already have a handler");
  kinds_.push_back(kind);
  entries_.emplace(std::move(kind), std::move(entry));
  return ok();
}

NewJob Scheduler::occurrence(const std::string& kind, SysTime at) const {
  NewJob j;
  j.kind = kind;
  j.run_at = at;
  j.dedupe_key = recurring_key(kind);
  j.max_attempts = options_.recurring_max_attempts;
  return j;
}

Status Scheduler::start() {
  {
    common::MutexLock lock(mu_);
    if (started_ || stopping_) return fail(ErrorCode::kConflict, "the scheduler has started");
  }
  const SysTime now = clock_.now();
  for (const auto& [kind, entry] : entries_) {
    if (!entry.recurrence) continue;
    const bool catch_up = entry.recurrence->first == Recurrence::First::kCatchUp;
    NewJob first = occurrence(kind, catch_up ? now : now + entry.recurrence->interval);
    first.on_pending = catch_up ? OnPending::kKeep : OnPending::kReschedule;
    CW_RETURN_IF_ERROR(queue_.enqueue(first));
  }
  {
    common::MutexLock lock(mu_);
    started_ = true;
  }
  thread_ = std::thread([this] {
    common::name_this_thread("jobs");
    run();
  });
  log::debug("jobs_started", {{"owner", options_.owner}, {"kinds", kinds_}});
  return ok();
}

Status Scheduler::run_now(std::string_view kind) {
  auto it = entries_.find(kind);
  if (it == entries_.end() || !it->second.recurrence)
    return fail(ErrorCode::kNotFound, "no recurring job of kind '" + std::string(kind) + "'");
  NewJob now = occurrence(it->first, clock_.now());
  now.on_pending = OnPending::kRunEarlier;
  CW_RETURN_IF_ERROR(queue_.enqueue(now));
  wake();
  return ok();
}

void Scheduler::wake() {
  common::MutexLock lock(mu_);
  wake_ = true;
  cv_.notify_all();
}

void Scheduler::stop() {
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool Scheduler::stopping() const {
  common::MutexLock lock(mu_);
  return stopping_;
}

void Scheduler::run() {
  for (;;) {
    auto leased = poll(/*stoppable=*/true);
    if (!leased && !poll_failing_) {
      log::warn("jobs_poll_failed", {{"error", leased.error().message}});
    } else if (leased && poll_failing_) {
      log::info("jobs_poll_recovered");
    }
    poll_failing_ = !leased;
    common::MutexLock lock(mu_);
    if (stopping_) return;
    if (!leased || *leased < options_.batch) {
      cv_.wait_for(mu_, options_.poll_interval,
                   [this]() CW_REQUIRES(mu_) { return stopping_ || wake_; });
      if (stopping_) return;
    }
    wake_ = false;
  }
}

Result<int> Scheduler::poll(bool stoppable) {
  CW_ASSIGN_OR_RETURN(auto jobs,
                      queue_.lease(options_.owner, kinds_, options_.batch, options_.lease));
  const std::size_t workers =
      std::min(jobs.size(), static_cast<std::size_t>(std::max(1, options_.workers)));
  if (workers <= 1) {
    for (const Job& job : jobs) start_job(job, stoppable);
    return static_cast<int>(jobs.size());
  }
  // Each worker takes the next job not yet taken, so a slow one holds up only its own thread.
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < jobs.size(); i = next++) start_job(jobs[i], stoppable);
  };
  std::vector<std::jthread> helpers;
  helpers.reserve(workers - 1);
  for (std::size_t i = 1; i < workers; ++i) helpers.emplace_back(work);
  work();
  helpers.clear();  // joins
  return static_cast<int>(jobs.size());
}

void Scheduler::start_job(const Job& job, bool stoppable) {
  if (stoppable && stopping()) {
    // Another scheduler (or this one's next start) takes it now, not once the lease ends.
    if (auto st = queue_.release(job.id, options_.owner); !st) {
      log::warn("job_release_failed", {{"id", job.id}, {"error", st.error().message}});
    }
    return;
  }
  run_job(job, entries_.find(job.kind)->second);
}

void Scheduler::run_job(const Job& job, const Entry& entry) {
  Status st;
  std::optional<NewJob> next;
  try {
    if (entry.chained) {
      auto successor = entry.chained(job);
      if (successor) {
        next = std::move(*successor);
      } else {
        st = std::unexpected(std::move(successor).error());
      }
    } else {
      st = entry.handler(job);
    }
  } catch (const std::exception& e) {
    st = fail(ErrorCode::kInternal, std::string("the handler threw: ") + e.what());
  }
  if (entry.recurrence) {
    next = occurrence(job.kind, clock_.now() + entry.recurrence->interval);
  }
  const auto retry_after = backoff(job.attempts);
  if (!st) {
    nlohmann::json fields = {{"kind", job.kind},
                             {"id", job.id},
                             {"attempt", job.attempts},
                             {"max_attempts", job.max_attempts},
                             {"error", st.error().message}};
    if (job.attempts >= job.max_attempts) {
      log::error("job_gave_up", fields);
    } else {
      fields["retry_in_seconds"] = retry_after.count();
      log::warn("job_failed", fields);
    }
  }
  // Not recorded (the database is down, or the lease ran out and another took the job): the
  // job runs again once its lease has ended.
  const Status recorded = st ? queue_.complete(job.id, options_.owner, next)
                             : queue_.fail(job.id, options_.owner, st.error().message, retry_after,
                                           entry.recurrence ? next : std::nullopt);
  if (!recorded) {
    log::error("job_not_recorded", {{"kind", job.kind},
                                    {"id", job.id},
                                    {"outcome", st ? "done" : "failed"},
                                    {"error", recorded.error().message}});
  }
}

std::chrono::seconds Scheduler::backoff(int attempts) const {
  std::chrono::seconds delay = options_.retry_base;
  for (int i = 1; i < attempts && delay < options_.retry_max; ++i) delay *= 2;
  return std::min(delay, options_.retry_max);
}

}  // namespace certward::lifecycle
