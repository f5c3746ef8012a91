// The job scheduler on SQLite, and on PostgreSQL under scripts/with-postgres.sh (ctest:
// lifecycle_postgres), where two schedulers on one database must never run one job twice.
// Job times follow a FakeClock; TEST_poll() runs one poll on the test's thread where the
// order of events matters, the scheduler's own thread where waking and stopping do.

#include "lifecycle/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "unit/testing/test_db.h"

namespace certward::lifecycle {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Real time: how long the scheduler's thread gets to do what a test waits for.
template <typename Pred>
bool eventually(Pred pred, milliseconds timeout = milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(JobQueue::migrate(*db_).has_value()); }

  SchedulerOptions options(std::string owner = "s1") {
    SchedulerOptions o;
    o.owner = std::move(owner);
    o.poll_interval = std::chrono::hours(1);  // polls only at start and when woken
    o.retry_base = seconds(10);
    o.retry_max = seconds(30);
    return o;
  }
  std::string enqueue(std::string kind, seconds in = seconds(0), int max_attempts = 5) {
    NewJob j;
    j.kind = std::move(kind);
    j.run_at = clock_.now() + in;
    j.max_attempts = max_attempts;
    auto id = queue_.enqueue(j);
    EXPECT_TRUE(id.has_value()) << id.error().message;
    return id.value_or("");
  }
  Job job(const std::string& id) {
    auto j = queue_.get(id);
    EXPECT_TRUE(j.has_value() && j->has_value());
    return j.has_value() && j->has_value() ? **j : Job{};
  }
  // The pending occurrence of recurring `kind`, if any.
  std::optional<Job> pending_occurrence(const std::string& kind) {
    auto tx = db_->begin(store::TxMode::kRead);
    EXPECT_TRUE(tx.has_value());
    auto row = (*tx)->query_one("SELECT id FROM jobs WHERE dedupe_key = ? AND state = 'pending'",
                                store::params(Scheduler::recurring_key(kind)));
    EXPECT_TRUE(row.has_value());
    if (!row || !*row) return std::nullopt;
    return job((*row)->text(0));
  }
  static JobHandler counting(std::atomic<int>& calls) {
    return [&calls](const Job&) {
      ++calls;
      return ok();
    };
  }

  certward::testing::ScratchDatabase db_;
  FakeClock clock_{SysTime(seconds(1'800'000'000))};
  JobQueue queue_{clock_, *db_};
};

TEST_F(SchedulerTest, RunsDueJobsOfItsKindsOnce) {
  std::vector<std::string> ran;
  Scheduler s(clock_, queue_, options());
  ASSERT_TRUE(s.handle("mail", [&ran](const Job& j) {
                 ran.push_back(j.id);
                 return ok();
               }).has_value());
  const auto due = enqueue("mail");
  const auto later = enqueue("mail", seconds(60));
  const auto other = enqueue("scan");

  EXPECT_EQ(s.TEST_poll(), 1);
  EXPECT_EQ(ran, std::vector<std::string>{due});
  EXPECT_EQ(job(due).state, JobState::kDone);
  EXPECT_EQ(s.TEST_poll(), 0) << "done is done";
  EXPECT_EQ(job(later).state, JobState::kPending);
  EXPECT_EQ(job(other).state, JobState::kPending) << "a kind without a handler here is left";
  clock_.advance(seconds(60));
  EXPECT_EQ(s.TEST_poll(), 1);
  EXPECT_EQ(ran, (std::vector<std::string>{due, later}));
}

TEST_F(SchedulerTest, RetriesFailuresWithBackoffThenGivesUp) {
  int calls = 0;
  Scheduler s(clock_, queue_, options());
  ASSERT_TRUE(s.handle("mail", [&calls](const Job&) -> Status {
                 ++calls;
                 return fail(ErrorCode::kUnavailable, "smtp down");
               }).has_value());
  const auto id = enqueue("mail", seconds(0), /*max_attempts=*/4);

  ASSERT_EQ(s.TEST_poll(), 1);
  EXPECT_EQ(job(id).state, JobState::kPending);
  EXPECT_EQ(job(id).run_at, clock_.now() + seconds(10)) << "first retry after retry_base";
  EXPECT_EQ(job(id).last_error, "smtp down");
  clock_.advance(seconds(9));
  EXPECT_EQ(s.TEST_poll(), 0) << "not before the backoff";
  clock_.advance(seconds(1));
  ASSERT_EQ(s.TEST_poll(), 1);
  EXPECT_EQ(job(id).run_at, clock_.now() + seconds(20)) << "doubled";
  clock_.advance(seconds(20));
  ASSERT_EQ(s.TEST_poll(), 1);
  EXPECT_EQ(job(id).run_at, clock_.now() + seconds(30)) << "capped at retry_max";
  clock_.advance(seconds(30));
  ASSERT_EQ(s.TEST_poll(), 1);
  EXPECT_EQ(job(id).state, JobState::kFailed) << "four attempts used";
  clock_.advance(std::chrono::days(1));
  EXPECT_EQ(s.TEST_poll(), 0);
  EXPECT_EQ(calls, 4);
}

TEST_F(SchedulerTest, WorkersRunAPollsJobsSideBySideAndAFailureStaysItsOwn) {
  // Every handler waits until all four are running: only side by side can they finish.
  SchedulerOptions o = options();
  o.batch = 4;
  o.workers = 4;
  Scheduler s(clock_, queue_, o);
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  std::string failing;
  ASSERT_TRUE(s.handle("mail", [&](const Job& j) -> Status {
                 std::unique_lock lock(mu);
                 ++inside;
                 cv.notify_all();
                 if (!cv.wait_for(lock, seconds(10), [&] { return inside == 4; }))
                   return fail(ErrorCode::kUnavailable, "ran one after the other");
                 if (j.id == failing) return fail(ErrorCode::kUnavailable, "smtp down");
                 return ok();
               }).has_value());
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(enqueue("mail"));
  failing = ids[2];

  ASSERT_EQ(s.TEST_poll().value_or(-1), 4);
  for (const auto& id : ids) {
    const Job j = job(id);
    if (id == failing) {
      EXPECT_EQ(j.state, JobState::kPending);
      EXPECT_EQ(j.last_error, "smtp down");
      EXPECT_EQ(j.run_at, clock_.now() + seconds(10));
    } else {
      EXPECT_EQ(j.state, JobState::kDone) << j.last_error;
    }
  }
}

TEST_F(SchedulerTest, AJobWhoseWorkerDiedIsTakenAgainOnceItsLeaseEnds) {
  std::atomic<int> calls = 0;
  Scheduler s(clock_, queue_, options());
  ASSERT_TRUE(s.handle("mail", counting(calls)).has_value());
  const auto id = enqueue("mail");
  ASSERT_EQ(queue_.lease("dead-replica", {"mail"}, 1, seconds(300))->size(), 1u);
  EXPECT_EQ(s.TEST_poll(), 0) << "leased to another";
  clock_.advance(seconds(301));
  EXPECT_EQ(s.TEST_poll(), 1);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(job(id).state, JobState::kDone);
  EXPECT_EQ(job(id).attempts, 2);
}

TEST_F(SchedulerTest, RecurringWorkEnqueuesItsNextOccurrenceAfterEachRun) {
  std::atomic<int> calls = 0;
  Scheduler s(clock_, queue_, options());
  Recurrence every_minute{seconds(60), Recurrence::First::kAfterInterval};
  ASSERT_TRUE(s.handle_recurring("crl", every_minute, counting(calls)).has_value());
  ASSERT_TRUE(s.start().has_value());
  s.stop();  // its thread found nothing due; the polls below run on this thread
  EXPECT_EQ(calls, 0);
  for (int round = 1; round <= 3; ++round) {
    clock_.advance(seconds(59));
    EXPECT_EQ(s.TEST_poll(), 0) << "round " << round;
    clock_.advance(seconds(1));
    EXPECT_EQ(s.TEST_poll(), 1) << "round " << round;
    EXPECT_EQ(calls, round);
  }
  auto next = pending_occurrence("crl");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->run_at, clock_.now() + seconds(60));
}

TEST_F(SchedulerTest, RecurringWorkGoesOnAfterAnOccurrenceGaveUp) {
  Scheduler s(clock_, queue_, [this] {
    SchedulerOptions o = options();
    o.recurring_max_attempts = 2;
    return o;
  }());
  Recurrence hourly{seconds(3600), Recurrence::First::kAfterInterval};
  ASSERT_TRUE(s.handle_recurring("crl", hourly, [](const Job&) -> Status {
                 return fail(ErrorCode::kUnavailable, "disk full");
               }).has_value());
  ASSERT_TRUE(s.start().has_value());
  s.stop();
  clock_.advance(seconds(3600));
  ASSERT_EQ(s.TEST_poll(), 1);
  clock_.advance(seconds(10));
  ASSERT_EQ(s.TEST_poll(), 1);  // second and last attempt
  auto next = pending_occurrence("crl");
  ASSERT_TRUE(next.has_value()) << "the next occurrence follows the one that gave up";
  EXPECT_EQ(next->run_at, clock_.now() + seconds(3600));
  EXPECT_EQ(next->attempts, 0);
}

TEST_F(SchedulerTest, StartCatchesUpSharedWorkAndRestartsTheIntervalOfOwnWork) {
  // Left pending by an earlier run: an overdue "crl", a far-off "own-check".
  for (auto [kind, in] : {std::pair<std::string, seconds>{"crl", seconds(-600)},
                          std::pair<std::string, seconds>{"own-check", seconds(86'400)}}) {
    NewJob j;
    j.kind = kind;
    j.run_at = clock_.now() + in;
    j.dedupe_key = Scheduler::recurring_key(kind);
    ASSERT_TRUE(queue_.enqueue(j).has_value());
  }
  std::atomic<int> crl = 0, own = 0, scan = 0;
  Scheduler s(clock_, queue_, options());
  ASSERT_TRUE(s.handle_recurring("crl", {seconds(3600), Recurrence::First::kCatchUp}, counting(crl))
                  .has_value());
  ASSERT_TRUE(s.handle_recurring("own-check", {seconds(60), Recurrence::First::kAfterInterval},
                                 counting(own))
                  .has_value());
  ASSERT_TRUE(
      s.handle_recurring("scan", {seconds(3600), Recurrence::First::kCatchUp}, counting(scan))
          .has_value());
  ASSERT_TRUE(s.start().has_value());
  EXPECT_TRUE(eventually([&] { return crl == 1 && scan == 1; }))
      << "the overdue occurrence, and the first of work never scheduled, run at start";
  s.stop();
  EXPECT_EQ(own, 0);
  auto next_own = pending_occurrence("own-check");
  ASSERT_TRUE(next_own.has_value());
  EXPECT_EQ(next_own->run_at, clock_.now() + seconds(60)) << "one interval from the start";
  auto next_crl = pending_occurrence("crl");
  ASSERT_TRUE(next_crl.has_value());
  EXPECT_EQ(next_crl->run_at, clock_.now() + seconds(3600));
}

TEST_F(SchedulerTest, RunNowRunsThePendingOccurrenceAtOnceAndOnlyOnce) {
  std::atomic<int> calls = 0;
  Scheduler s(clock_, queue_, options());
  ASSERT_TRUE(s.handle_recurring("own-check", {seconds(3600), Recurrence::First::kAfterInterval},
                                 counting(calls))
                  .has_value());
  auto unknown = s.run_now("crl");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(s.start().has_value());
  ASSERT_TRUE(s.run_now("own-check").has_value());
  EXPECT_TRUE(eventually([&] { return calls == 1; })) << "woken although the poll is hourly";
  // Done, and the next occurrence an hour on: a run_now while it ran would have been that run.
  EXPECT_TRUE(eventually([&] {
    auto next = pending_occurrence("own-check");
    return next && next->run_at == clock_.now() + seconds(3600);
  }));
  ASSERT_TRUE(s.run_now("own-check").has_value());
  EXPECT_TRUE(eventually([&] { return calls == 2; }));
  s.stop();
  auto next = pending_occurrence("own-check");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->run_at, clock_.now() + seconds(3600)) << "one occurrence, an interval on";
}

TEST_F(SchedulerTest, WakePollsAtOnce) {
  std::atomic<int> calls = 0;
  Scheduler s(clock_, queue_, options());
  ASSERT_TRUE(s.handle("mail", counting(calls)).has_value());
  ASSERT_TRUE(s.start().has_value());
  enqueue("mail");
  s.wake();
  EXPECT_TRUE(eventually([&] { return calls == 1; }));
}

TEST_F(SchedulerTest, HandlersAreRegisteredBeforeStartOnly) {
  std::atomic<int> calls = 0;
  Scheduler s(clock_, queue_, options());
  EXPECT_EQ(s.handle("", counting(calls)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.handle("mail", nullptr).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.handle_recurring("crl", {seconds(0)}, counting(calls)).error().code,
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(s.handle("mail", counting(calls)).has_value());
  EXPECT_EQ(s.handle("mail", counting(calls)).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(s.start().has_value());
  EXPECT_EQ(s.handle("scan", counting(calls)).error().code, ErrorCode::kConflict);
  EXPECT_EQ(s.start().error().code, ErrorCode::kConflict);
}

TEST_F(SchedulerTest, StopIsPromptAndHandsBackTheJobsNotBegun) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  Scheduler s(clock_, queue_, options());
  ASSERT_TRUE(s.handle("mail", [&](const Job&) {
                 std::unique_lock lock(mu);
                 entered = true;
                 cv.notify_all();
                 cv.wait(lock, [&] { return release; });
                 return ok();
               }).has_value());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(enqueue("mail", seconds(i)));
  clock_.advance(seconds(2));
  ASSERT_TRUE(s.start().has_value());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(10), [&] { return entered; }));
  }
  std::thread stopper([&s] { s.stop(); });
  std::this_thread::sleep_for(milliseconds(50));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  const auto before = std::chrono::steady_clock::now();
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - before, seconds(2)) << "the hourly poll is no wait";
  EXPECT_EQ(job(ids[0]).state, JobState::kDone) << "the running handler finished";
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(job(ids[i]).state, JobState::kPending) << i;
    EXPECT_EQ(job(ids[i]).attempts, 0) << i;
  }

  // An idle scheduler stops at once.
  Scheduler idle(clock_, queue_, options("s2"));
  ASSERT_TRUE(idle.start().has_value());
  std::this_thread::sleep_for(milliseconds(20));
  const auto t0 = std::chrono::steady_clock::now();
  idle.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(1));
}

// Two replicas on one database: every job runs, none twice. Meant for PostgreSQL, where the
// two schedulers' leases really run at once; on SQLite they take turns.
TEST_F(SchedulerTest, TwoSchedulersOnOneDatabaseNeverRunAJobTwice) {
  constexpr int kJobs = 120;
  for (int i = 0; i < kJobs; ++i) enqueue("scan");
  std::mutex mu;
  std::multiset<std::string> ran;
  std::map<std::string, std::string> by;
  auto handler = [&](std::string owner) {
    return [&, owner](const Job& j) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard lock(mu);
      ran.insert(j.id);
      by[j.id] = owner;
      return ok();
    };
  };
  auto fast = [this](std::string owner) {
    SchedulerOptions o = options(std::move(owner));
    o.poll_interval = milliseconds(5);
    o.batch = 3;
    return o;
  };
  Scheduler a(clock_, queue_, fast("a"));
  Scheduler b(clock_, queue_, fast("b"));
  ASSERT_TRUE(a.handle("scan", handler("a")).has_value());
  ASSERT_TRUE(b.handle("scan", handler("b")).has_value());
  ASSERT_TRUE(a.start().has_value());
  ASSERT_TRUE(b.start().has_value());
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return ran.size() >= kJobs;
  }));
  a.stop();
  b.stop();
  EXPECT_EQ(ran.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(ran.begin(), ran.end()).size(), ran.size()) << "a job ran twice";
  int by_a = 0;
  for (const auto& [id, owner] : by) by_a += owner == "a";
  if (db_.is_postgres()) {
    EXPECT_GT(by_a, 0);
    EXPECT_LT(by_a, kJobs) << "both schedulers took jobs";
  }
}

}  // namespace
}  // namespace certward::lifecycle
