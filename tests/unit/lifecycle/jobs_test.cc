// The leased job queue on SQLite, and on PostgreSQL under scripts/with-postgres.sh
// (ctest: lifecycle_postgres), where concurrent leasers must skip each other's rows.

#include "lifecycle/jobs.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "unit/testing/test_db.h"

namespace certward::lifecycle {
namespace {

using std::chrono::seconds;

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(JobQueue::migrate(*db_).has_value()); }

  std::string enqueue(NewJob job) {
    auto tx = db_->begin();
    EXPECT_TRUE(tx.has_value());
    auto id = queue_.enqueue(**tx, job);
    EXPECT_TRUE(id.has_value()) << id.error().message;
    EXPECT_TRUE((*tx)->commit().has_value());
    return *id;
  }
  NewJob job(std::string kind, std::optional<std::string> key = std::nullopt) {
    NewJob j;
    j.kind = std::move(kind);
    j.payload = {{"n", 1}};
    j.dedupe_key = std::move(key);
    return j;
  }
  JobState state_of(const std::string& id) {
    auto j = queue_.get(id);
    EXPECT_TRUE(j.has_value() && j->has_value());
    return (*j)->state;
  }

  certward::testing::ScratchDatabase db_;
  FakeClock clock_{SysTime(std::chrono::seconds(1'800'000'000))};
  JobQueue queue_{clock_, *db_};
};

TEST_F(JobsTest, LeaseTakesDueJobsOfTheKindsAskedOnce) {
  const auto a = enqueue(job("renew"));
  enqueue(job("scan"));
  NewJob later = job("renew");
  later.run_at = clock_.now() + seconds(3600);
  const auto future = enqueue(later);

  auto got = queue_.lease("w1", {"renew"}, 10, seconds(60));
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().id, a);
  EXPECT_EQ(got->front().payload["n"], 1);
  EXPECT_EQ(got->front().attempts, 1);
  EXPECT_EQ(got->front().lease_owner, "w1");
  auto again = queue_.lease("w2", {"renew"}, 10, seconds(60));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->empty()) << "a leased job is not leased twice";
  EXPECT_EQ(state_of(future), JobState::kPending);
}

TEST_F(JobsTest, ExpiredLeaseIsTakenOverAndTheOldOwnerCannotComplete) {
  const auto id = enqueue(job("renew"));
  ASSERT_EQ(queue_.lease("w1", {"renew"}, 1, seconds(30))->size(), 1u);
  clock_.advance(seconds(31));
  auto taken = queue_.lease("w2", {"renew"}, 1, seconds(30));
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().attempts, 2);
  auto stale = queue_.complete(id, "w1");
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(queue_.complete(id, "w2").has_value());
  EXPECT_EQ(state_of(id), JobState::kDone);
}

TEST_F(JobsTest, ConcurrentCompletionsShareCommitsAndAStaleOneFailsAlone) {
  // Completions from several workers at once go through one group commit; a job whose lease
  // another owner took fails alone, and its neighbours are done with their successors.
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(enqueue(job("renew", "renew:" + std::to_string(i))));
  ASSERT_EQ(queue_.lease("w1", {"renew"}, 8, seconds(30))->size(), 8u);
  const std::string& stolen = ids[3];
  auto tx = db_->begin();
  ASSERT_TRUE(tx.has_value());
  ASSERT_TRUE(
      (*tx)->execute("UPDATE jobs SET lease_owner = 'w2' WHERE id = ?", store::params(stolen)));
  ASSERT_TRUE((*tx)->commit().has_value());

  std::vector<Status> results(ids.size());
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    workers.emplace_back([&, i] {
      NewJob next = job("renew", "renew:" + std::to_string(i));
      next.run_at = clock_.now() + seconds(3600);
      results[i] = i % 2 ? queue_.complete(ids[i], "w1", next)
                         : queue_.fail(ids[i], "w1", "down", seconds(10));
    });
  }
  for (auto& t : workers) t.join();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == stolen) {
      ASSERT_FALSE(results[i].has_value());
      EXPECT_EQ(results[i].error().code, ErrorCode::kConflict);
      EXPECT_EQ(state_of(ids[i]), JobState::kRunning);
      continue;
    }
    ASSERT_TRUE(results[i].has_value()) << results[i].error().message;
    EXPECT_EQ(state_of(ids[i]), i % 2 ? JobState::kDone : JobState::kPending);
  }
  // Each completed one has its successor; the stolen one's is not enqueued.
  auto live = queue_.live_keys(std::vector<std::string>{"renew:1", "renew:3", "renew:5"});
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(*live, (std::set<std::string>{"renew:1", "renew:3", "renew:5"}));
  auto read = db_->begin(store::TxMode::kRead);
  ASSERT_TRUE(read.has_value());
  auto pending = (*read)->query_one(
      "SELECT COUNT(*) FROM jobs WHERE dedupe_key = 'renew:3' AND state = 'pending'");
  ASSERT_TRUE(pending.has_value() && pending->has_value());
  EXPECT_EQ((**pending).int64(0), 0) << "the stale completion enqueued no successor";
}

TEST_F(JobsTest, FailureRetriesLaterThenGivesUp) {
  NewJob j = job("notify");
  j.max_attempts = 2;
  const auto id = enqueue(j);
  ASSERT_EQ(queue_.lease("w", {"notify"}, 1, seconds(60))->size(), 1u);
  ASSERT_TRUE(queue_.fail(id, "w", "smtp down", seconds(300)).has_value());
  EXPECT_EQ(state_of(id), JobState::kPending);
  EXPECT_TRUE(queue_.lease("w", {"notify"}, 1, seconds(60))->empty())
      << "not before the retry time";
  clock_.advance(seconds(301));
  ASSERT_EQ(queue_.lease("w", {"notify"}, 1, seconds(60))->size(), 1u);
  ASSERT_TRUE(queue_.fail(id, "w", "smtp still down", seconds(300)).has_value());
  EXPECT_EQ(state_of(id), JobState::kFailed);
  auto j2 = queue_.get(id);
  EXPECT_EQ((*j2)->last_error, "smtp still down");
}

TEST_F(JobsTest, DedupeKeyMakesOneJobWhilePendingOrRunning) {
  const auto a = enqueue(job("renew", "renew:www"));
  EXPECT_EQ(enqueue(job("renew", "renew:www")), a);
  ASSERT_EQ(queue_.lease("w", {"renew"}, 1, seconds(60))->size(), 1u);
  EXPECT_EQ(enqueue(job("renew", "renew:www")), a) << "still running";
  ASSERT_TRUE(queue_.complete(a, "w").has_value());
  EXPECT_NE(enqueue(job("renew", "renew:www")), a) << "done: a new one may start";
}

TEST_F(JobsTest, BadJobsAreRefusedAndNothingIsWritten) {
  NewJob bad;
  auto tx = db_->begin();
  auto r = queue_.enqueue(**tx, bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(JobsTest, ConcurrentLeasersNeverShareAJob) {
  for (int i = 0; i < 200; ++i) enqueue(job("scan"));
  std::mutex mu;
  std::multiset<std::string> seen;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      for (;;) {
        auto got = queue_.lease("w" + std::to_string(w), {"scan"}, 7, seconds(60));
        ASSERT_TRUE(got.has_value()) << got.error().message;
        if (got->empty()) return;
        std::lock_guard lock(mu);
        for (const auto& j : *got) seen.insert(j.id);
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 200u) << "a job leased twice";
}

TEST_F(JobsTest, EnqueueOfAPendingKeyMovesItEarlierNeverLater) {
  NewJob j = job("crl", "crl:issuing");
  j.run_at = clock_.now() + seconds(3600);
  const auto id = enqueue(j);
  j.run_at = clock_.now() + seconds(7200);
  EXPECT_EQ(enqueue(j), id);
  EXPECT_EQ(queue_.get(id)->value().run_at, clock_.now() + seconds(3600)) << "never later";
  j.run_at = std::nullopt;  // now: "run it now"
  EXPECT_EQ(enqueue(j), id);
  EXPECT_EQ(queue_.get(id)->value().run_at, clock_.now());
  auto got = queue_.lease("w", {"crl"}, 10, seconds(60));
  ASSERT_EQ(got->size(), 1u) << "the one job, due now";
  EXPECT_EQ(got->front().id, id);
}

TEST_F(JobsTest, EnqueueLeavesARunningJobOfTheKeyAlone) {
  const auto id = enqueue(job("crl", "crl:issuing"));
  ASSERT_EQ(queue_.lease("w", {"crl"}, 1, seconds(60))->size(), 1u);
  NewJob j = job("crl", "crl:issuing");
  j.on_pending = OnPending::kReschedule;
  j.run_at = clock_.now() + seconds(600);
  EXPECT_EQ(enqueue(j), id);
  auto running = queue_.get(id);
  EXPECT_EQ((*running)->state, JobState::kRunning);
  EXPECT_EQ((*running)->run_at, clock_.now());
  EXPECT_EQ((*running)->lease_owner, "w");
}

TEST_F(JobsTest, KeepAndRescheduleTreatAPendingJobAsAsked) {
  NewJob j = job("crl", "crl:issuing");
  j.run_at = clock_.now() + seconds(3600);
  const auto id = enqueue(j);
  j.on_pending = OnPending::kKeep;
  j.run_at = clock_.now();
  EXPECT_EQ(enqueue(j), id);
  EXPECT_EQ(queue_.get(id)->value().run_at, clock_.now() + seconds(3600)) << "kept";
  j.on_pending = OnPending::kReschedule;
  j.run_at = clock_.now() + seconds(7200);
  EXPECT_EQ(enqueue(j), id);
  EXPECT_EQ(queue_.get(id)->value().run_at, clock_.now() + seconds(7200)) << "moved later";
}

TEST_F(JobsTest, CompleteEnqueuesTheNextOccurrenceUnderTheSameKey) {
  const auto id = enqueue(job("crl", "crl:issuing"));
  ASSERT_EQ(queue_.lease("w", {"crl"}, 1, seconds(60))->size(), 1u);
  NewJob next = job("crl", "crl:issuing");
  next.run_at = clock_.now() + seconds(3600);
  ASSERT_TRUE(queue_.complete(id, "w", next).has_value());
  EXPECT_EQ(state_of(id), JobState::kDone);
  const auto again = enqueue(job("crl", "crl:issuing"));
  EXPECT_NE(again, id);
  auto pending = queue_.get(again);
  EXPECT_EQ((*pending)->state, JobState::kPending);
  EXPECT_EQ((*pending)->run_at, clock_.now()) << "the next occurrence, moved to now";
}

TEST_F(JobsTest, NextOccurrenceFollowsOnlyAFinalFailure) {
  NewJob j = job("crl", "crl:issuing");
  j.max_attempts = 2;
  const auto id = enqueue(j);
  NewJob next = job("crl", "crl:issuing");
  next.run_at = clock_.now() + seconds(3600);
  ASSERT_EQ(queue_.lease("w", {"crl"}, 1, seconds(60))->size(), 1u);
  ASSERT_TRUE(queue_.fail(id, "w", "disk full", seconds(0), next).has_value());
  EXPECT_EQ(enqueue(job("crl", "crl:issuing")), id) << "a retry is pending, no next yet";
  ASSERT_EQ(queue_.lease("w", {"crl"}, 1, seconds(60))->size(), 1u);
  ASSERT_TRUE(queue_.fail(id, "w", "disk full", seconds(0), next).has_value());
  EXPECT_EQ(state_of(id), JobState::kFailed);
  NewJob probe = job("crl", "crl:issuing");
  probe.on_pending = OnPending::kKeep;
  const auto following = enqueue(probe);
  EXPECT_NE(following, id);
  EXPECT_EQ(queue_.get(following)->value().run_at, clock_.now() + seconds(3600));
}

TEST_F(JobsTest, ReleasedJobIsPendingAgainWithoutCountingTheAttempt) {
  const auto id = enqueue(job("scan"));
  ASSERT_EQ(queue_.lease("w1", {"scan"}, 1, seconds(60))->size(), 1u);
  auto foreign = queue_.release(id, "w2");
  ASSERT_FALSE(foreign.has_value());
  EXPECT_EQ(foreign.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(queue_.release(id, "w1").has_value());
  auto again = queue_.lease("w2", {"scan"}, 1, seconds(60));
  ASSERT_EQ(again->size(), 1u) << "due at once, as before";
  EXPECT_EQ(again->front().attempts, 1);
}

// Enqueuers of one key at once all get the one job, none an error (look-then-insert gave the
// loser kConflict from the unique index on PostgreSQL).
TEST_F(JobsTest, ConcurrentEnqueuesOfOneKeyShareTheJob) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  int errors = 0;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto tx = db_->begin();
      if (!tx) {
        std::lock_guard lock(mu);
        ++errors;
        return;
      }
      auto id = queue_.enqueue(**tx, job("renew", "renew:shared"));
      const bool committed = id && (*tx)->commit();
      std::lock_guard lock(mu);
      if (committed)
        ids.insert(*id);
      else
        ++errors;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(ids.size(), 1u);
}

TEST_F(JobsTest, RecurringWorkKeepsADayOfDoneOccurrences) {
  enqueue(job("crl.publish", "recurring:crl.publish"));
  std::vector<std::string> done;
  for (int i = 0; i < 5; ++i) {
    auto got = queue_.lease("w", {"crl.publish"}, 1, seconds(60));
    ASSERT_TRUE(got.has_value() && got->size() == 1u);
    ASSERT_TRUE(queue_.complete(got->front().id, "w", job("crl.publish", "recurring:crl.publish"))
                    .has_value());
    done.push_back(got->front().id);
    clock_.advance(std::chrono::hours(10));
  }
  // Done at 0 h, 10 h, 20 h, 30 h, 40 h; the last completion (40 h) removed those before 16 h.
  auto gone = queue_.get(done[0]);
  ASSERT_TRUE(gone.has_value());
  EXPECT_FALSE(gone->has_value());
  EXPECT_FALSE(queue_.get(done[1])->has_value());
  EXPECT_EQ(state_of(done[2]), JobState::kDone);
  EXPECT_EQ(state_of(done[4]), JobState::kDone);
  // Other kinds' history stays.
  std::string other = enqueue(job("renew"));
  ASSERT_EQ(queue_.lease("w", {"renew"}, 1, seconds(60))->size(), 1u);
  ASSERT_TRUE(queue_.complete(other, "w").has_value());
  clock_.advance(std::chrono::hours(48));
  auto got = queue_.lease("w", {"crl.publish"}, 1, seconds(60));
  ASSERT_TRUE(got.has_value() && got->size() == 1u);
  ASSERT_TRUE(queue_.complete(got->front().id, "w", job("crl.publish", "recurring:crl.publish"))
                  .has_value());
  EXPECT_EQ(state_of(other), JobState::kDone);
}

}  // namespace
}  // namespace certward::lifecycle

namespace certward::lifecycle {
namespace {

TEST_F(JobsTest, LiveKeysAreThoseOfPendingAndRunningJobs) {
  NewJob later = job("renew", "pending");
  later.run_at = clock_.now() + seconds(3600);
  enqueue(later);
  enqueue(job("renew", "running"));
  const auto done = enqueue(job("scan", "done"));
  ASSERT_TRUE(queue_.lease("w1", {"renew", "scan"}, 10, seconds(60)).has_value());
  ASSERT_TRUE(queue_.complete(done, "w1").has_value());
  const std::vector<std::string> keys = {"pending", "running", "done", "never"};
  auto live = queue_.live_keys(keys);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(*live, (std::set<std::string>{"pending", "running"}));
  EXPECT_TRUE(queue_.live_keys({}).value().empty());
  EXPECT_EQ(queue_.live_keys(std::vector<std::string>(1001, "k")).error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace certward::lifecycle
