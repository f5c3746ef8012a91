// The RA's group-commit writer under a database that holds, stalls or fails: requests that
// queue behind a held writer go in together, a failing database fails a whole batch at once
// (and the writer recovers), and a bad entry fails alone without a transaction per entry.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "ca/enrollment.h"
#include "unit/ca/fixture.h"
#include "unit/testing/faulty_database.h"

namespace certward::ca {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class EnrollmentWriterTest : public testing::CaFixture {
 public:
  // One enroll() on its own thread.
  struct Call {
    std::thread thread;
    std::optional<Result<IssuedCertificate>> result;
    Clock::time_point done;
  };

  void SetUp() override {
    CaFixture::SetUp();
    if (HasFatalFailure()) return;
    writer_ =
        std::make_unique<Enrollment>(clock_, faulty_, *authorities_, profiles_, inventory_, audit_);
  }

  void TearDown() override {
    faulty_.heal();
    faulty_.release();
    join();
  }

  // A request and, for a few, a step that refuses it inside the commit transaction (as a
  // subordinate's authority row could), so that one entry of a batch fails on its own.
  struct Entry {
    EnrollmentRequest request;
    Enrollment::InTransaction refuse;
  };

  void start(Call& call, Entry e) {
    call.thread = std::thread([this, &call, e = std::move(e)]() mutable {
      call.result = e.refuse ? writer_->TEST_enroll_with(std::move(e.request), e.refuse)
                             : writer_->enroll(std::move(e.request));
      call.done = Clock::now();
    });
  }

  // Holds the writer on one request (the plug), then queues `requests` behind it and waits
  // until all of them are signed and waiting for the writer.
  void queue_behind_plug(std::vector<Entry> requests) {
    faulty_.hold_writes();
    calls_.push_back(std::make_unique<Call>());
    start(*calls_.back(), {request({"plug.example.com"}), nullptr});
    ASSERT_TRUE(faulty_.wait_until_held(1));
    for (auto& r : requests) {
      calls_.push_back(std::make_unique<Call>());
      start(*calls_.back(), std::move(r));
    }
    const auto deadline = Clock::now() + 60s;
    while (writer_->stats().waiting < requests.size()) {
      ASSERT_LT(Clock::now(), deadline) << "requests never queued up";
      std::this_thread::sleep_for(1ms);
    }
  }

  std::vector<Entry> requests(int n) {
    std::vector<Entry> out;
    for (int i = 0; i < n; ++i) {
      out.push_back({request({"q" + std::to_string(i) + ".example.com"}), nullptr});
    }
    return out;
  }

  void release_and_join() {
    released_ = Clock::now();
    faulty_.release();
    join();
  }

  void join() {
    for (auto& c : calls_)
      if (c->thread.joinable()) c->thread.join();
  }

  // The slowest call's time from the release, and every call's error code (kOk: issued).
  Clock::duration slowest() const {
    Clock::time_point last = released_;
    for (const auto& c : calls_) last = std::max(last, c->done);
    return last - released_;
  }
  int count_failed_with(ErrorCode code) const {
    int n = 0;
    for (const auto& c : calls_) n += c->result && !*c->result && (*c->result).error().code == code;
    return n;
  }
  int count_issued() const {
    int n = 0;
    for (const auto& c : calls_) n += c->result && c->result->has_value();
    return n;
  }

  void expect_next_enrollment_succeeds() {
    auto next = writer_->enroll(request({"after.example.com"}));
    EXPECT_TRUE(next) << next.error().message;
  }

  certward::testing::FaultyDatabase faulty_{*db_};
  std::unique_ptr<Enrollment> writer_;  // the RA over faulty_
  std::vector<std::unique_ptr<Call>> calls_;
  Clock::time_point released_;
};

TEST_F(EnrollmentWriterTest, QueuedRequestsAreStoredInOneCommit) {
  const auto inventory_before = inventory_count();
  const auto audit_before = audit_count();
  queue_behind_plug(requests(40));
  release_and_join();

  EXPECT_EQ(count_issued(), 41);
  const Enrollment::Stats stats = writer_->stats();
  EXPECT_EQ(stats.certificates, 41u);
  EXPECT_EQ(stats.commits, 2u) << "the 40 queued requests were not committed together";
  EXPECT_EQ(stats.waiting, 0u);
  EXPECT_EQ(faulty_.write_begins(), 2);
  EXPECT_EQ(inventory_count(), inventory_before + 41);
  expect_audit_ok(audit_before + 41);
}

TEST_F(EnrollmentWriterTest, DatabaseStallFailsTheWholeBatchAtOnce) {
  constexpr auto kStall = 400ms;  // what one busy timeout costs
  const auto inventory_before = inventory_count();
  const auto audit_before = audit_count();
  queue_behind_plug(requests(50));
  faulty_.fail_begins(kStall);
  release_and_join();

  // The plug's batch and the batch of 50 each cost one timeout, not one per entry.
  EXPECT_EQ(count_failed_with(ErrorCode::kUnavailable), 51);
  EXPECT_LT(slowest(), 5 * kStall);
  EXPECT_EQ(faulty_.write_begins(), 2);
  EXPECT_EQ(writer_->stats().certificates, 0u);
  EXPECT_EQ(inventory_count(), inventory_before);
  expect_audit_ok(audit_before);

  faulty_.heal();
  expect_next_enrollment_succeeds();
  EXPECT_EQ(writer_->stats().commits, 1u);
}

TEST_F(EnrollmentWriterTest, CommitFailureFailsTheBatchAndTheWriterRecovers) {
  const auto inventory_before = inventory_count();
  const auto audit_before = audit_count();
  queue_behind_plug(requests(50));
  faulty_.fail_commits(2);  // the plug's commit and the batch's
  release_and_join();

  // None of them was told it had a certificate, and none of them was stored.
  EXPECT_EQ(count_failed_with(ErrorCode::kUnavailable), 51);
  EXPECT_EQ(faulty_.write_begins(), 2);
  EXPECT_EQ(inventory_count(), inventory_before);
  expect_audit_ok(audit_before);

  expect_next_enrollment_succeeds();
  EXPECT_EQ(inventory_count(), inventory_before + 1);
  expect_audit_ok(audit_before + 1);
}

void refuse_in_transaction(EnrollmentWriterTest::Entry& e, ErrorCode code) {
  e.refuse = [code](store::Transaction&, const x509::Certificate&,
                    const crypto::PrivateKey*) -> Status {
    return fail(code, "test: this entry is refused");
  };
}

TEST_F(EnrollmentWriterTest, ABadEntryFailsAloneAndTheRestCommitTogether) {
  const auto inventory_before = inventory_count();
  const auto audit_before = audit_count();
  auto batch = requests(20);
  refuse_in_transaction(batch[3], ErrorCode::kConflict);
  refuse_in_transaction(batch[11], ErrorCode::kConflict);
  queue_behind_plug(std::move(batch));
  release_and_join();

  EXPECT_EQ(count_failed_with(ErrorCode::kConflict), 2);
  EXPECT_EQ(count_issued(), 19);
  // The plug, then the batch: once with each bad entry in it, once without.
  EXPECT_EQ(faulty_.write_begins(), 1 + 3);
  EXPECT_EQ(writer_->stats().commits, 2u);
  EXPECT_EQ(inventory_count(), inventory_before + 19);
  expect_audit_ok(audit_before + 19);
}

TEST_F(EnrollmentWriterTest, AnEntryMeetingAnUnavailableDatabaseFailsTheBatch) {
  const auto inventory_before = inventory_count();
  auto batch = requests(20);
  refuse_in_transaction(batch[5], ErrorCode::kUnavailable);
  queue_behind_plug(std::move(batch));
  release_and_join();

  EXPECT_EQ(count_issued(), 1);  // the plug
  EXPECT_EQ(count_failed_with(ErrorCode::kUnavailable), 20);
  EXPECT_EQ(faulty_.write_begins(), 2);
  EXPECT_EQ(inventory_count(), inventory_before + 1);
}

}  // namespace
}  // namespace certward::ca
