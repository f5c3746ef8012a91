#include "audit/audit.h"

#include <gtest/gtest.h>

#include <set>

#include "unit/testing/test_db.h"

namespace certward::audit {
namespace {

using certward::testing::count_rows;
using certward::testing::exec_sql;
using std::chrono::seconds;

constexpr std::string_view kGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

Event make_event(int i, std::string actor = "local:root",
                 std::string action = "certificate.issue") {
  return Event{std::move(actor),
               std::move(action),
               "certificate",
               "target-" + std::to_string(i),
               {{"n", i}, {"note", "event " + std::to_string(i)}}};
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(AuditLog::migrate(*db_).has_value()); }

  void append(std::span<const Event> events) {
    auto tx = db_->begin();
    ASSERT_TRUE(tx.has_value());
    ASSERT_TRUE(log_.append(**tx, events).has_value());
    ASSERT_TRUE((*tx)->commit().has_value());
  }
  void append_n(int n, int first = 1) {
    std::vector<Event> events;
    for (int i = first; i < first + n; ++i) events.push_back(make_event(i));
    append(events);
  }
  std::vector<RecordedEvent> list(EventFilter f) {
    auto r = log_.list(f);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r ? *r : std::vector<RecordedEvent>{};
  }
  VerifyReport verify() {
    auto r = log_.verify();
    CW_CHECK(r.has_value());
    return *r;
  }
  void sql(std::string_view text, std::span<const store::Value> params = {}) {
    exec_sql(*db_, text, params);
  }

  // SQLite, or PostgreSQL under scripts/with-postgres.sh (ctest's audit_postgres).
  certward::testing::ScratchDatabase db_;
  FakeClock clock_{from_unix(1735787045)};
  AuditLog log_{clock_, *db_};
};

TEST_F(AuditTest, AppendNumbersAndChainsEvents) {
  append_n(3);
  clock_.advance(seconds(10));
  append_n(2, 4);
  EventFilter f;
  f.newest_first = false;
  const auto events = list(f);
  ASSERT_EQ(events.size(), 5u);
  std::string prev(kGenesis);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const RecordedEvent& e = events[i];
    EXPECT_EQ(e.seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(e.prev_hash, prev);
    EXPECT_EQ(e.hash.size(), 64u);
    EXPECT_EQ(e.hash, AuditLog::event_hash(e.seq, e.time, e.event, e.event.details.dump(), prev));
    EXPECT_EQ(e.event.target_id, "target-" + std::to_string(i + 1));
    EXPECT_EQ(e.event.details["n"], static_cast<int>(i + 1));
    EXPECT_EQ(e.time, i < 3 ? from_unix(1735787045) : from_unix(1735787055));
    prev = e.hash;
  }
}

TEST_F(AuditTest, AppendingNothingChangesNothing) {
  append({});
  EXPECT_EQ(count_rows(*db_, "audit_events"), 0);
  append_n(1);
  EXPECT_EQ(list({}).front().seq, 1);
}

TEST_F(AuditTest, UncommittedAppendLeavesNoTrace) {
  {
    auto tx = db_->begin();
    ASSERT_TRUE(tx.has_value());
    const Event e = make_event(1);
    ASSERT_TRUE(log_.append(**tx, e).has_value());
  }  // rolled back
  EXPECT_EQ(count_rows(*db_, "audit_events"), 0);
  append_n(1);
  const auto events = list({});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].seq, 1);
  EXPECT_EQ(events[0].prev_hash, kGenesis);
  EXPECT_TRUE(verify().ok);
}

TEST_F(AuditTest, DetailsRoundTrip) {
  Event e{"user:alice",
          "authority.create",
          "authority",
          "issuing",
          {{"kind", "issuing"}, {"list", {1, 2, 3}}, {"nested", {{"a", true}}}}};
  append(std::span<const Event>(&e, 1));
  const auto events = list({});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.actor, "user:alice");
  EXPECT_EQ(events[0].event.action, "authority.create");
  EXPECT_EQ(events[0].event.target_type, "authority");
  EXPECT_EQ(events[0].event.target_id, "issuing");
  EXPECT_EQ(events[0].event.details, e.details);
}

TEST_F(AuditTest, ListFiltersByFields) {
  std::vector<Event> events = {
      make_event(1, "user:alice", "certificate.issue"),
      make_event(2, "user:bob", "certificate.issue"),
      make_event(3, "user:alice", "certificate.revoke"),
      Event{"system", "authority.create", "authority", "root", {}},
  };
  append(events);
  auto seqs = [&](EventFilter f) {
    std::vector<std::int64_t> out;
    for (const auto& e : list(f)) out.push_back(e.seq);
    return out;
  };
  EventFilter by_actor;
  by_actor.actor = "user:alice";
  EXPECT_EQ(seqs(by_actor), (std::vector<std::int64_t>{3, 1}));
  EventFilter by_action;
  by_action.action = "certificate.issue";
  EXPECT_EQ(seqs(by_action), (std::vector<std::int64_t>{2, 1}));
  EventFilter by_type;
  by_type.target_type = "authority";
  EXPECT_EQ(seqs(by_type), (std::vector<std::int64_t>{4}));
  EventFilter by_id;
  by_id.target_id = "target-2";
  EXPECT_EQ(seqs(by_id), (std::vector<std::int64_t>{2}));
  EventFilter both;
  both.actor = "user:alice";
  both.action = "certificate.revoke";
  EXPECT_EQ(seqs(both), (std::vector<std::int64_t>{3}));
  EventFilter none;
  none.actor = "user:mallory";
  EXPECT_TRUE(seqs(none).empty());
}

TEST_F(AuditTest, ListFiltersByTimeWindow) {
  for (int i = 1; i <= 5; ++i) {
    append_n(1, i);
    clock_.advance(seconds(100));
  }
  // Events at t0, t0+100, ..., t0+400.
  EventFilter f;
  f.since = from_unix(1735787045 + 100);
  f.until = from_unix(1735787045 + 300);
  f.newest_first = false;
  std::vector<std::int64_t> seqs;
  for (const auto& e : list(f)) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{2, 3}));
}

TEST_F(AuditTest, ListOrdersAndLimits) {
  append_n(10);
  EventFilter newest;
  newest.limit = 3;
  auto a = list(newest);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].seq, 10);
  EXPECT_EQ(a[2].seq, 8);
  EventFilter oldest;
  oldest.limit = 3;
  oldest.newest_first = false;
  auto b = list(oldest);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].seq, 1);
  EXPECT_EQ(b[2].seq, 3);
}

TEST_F(AuditTest, KeysetPaginationVisitsEveryEventOnceInBothDirections) {
  append_n(23);
  for (bool newest_first : {true, false}) {
    std::vector<std::int64_t> seen;
    EventFilter f;
    f.limit = 5;
    f.newest_first = newest_first;
    for (int page = 0; page < 10; ++page) {
      auto events = list(f);
      if (events.empty()) break;
      for (const auto& e : events) seen.push_back(e.seq);
      f.after_seq = events.back().seq;
    }
    ASSERT_EQ(seen.size(), 23u) << newest_first;
    EXPECT_EQ(std::set<std::int64_t>(seen.begin(), seen.end()).size(), 23u);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end(),
                               [&](auto x, auto y) { return newest_first ? x > y : x < y; }));
  }
}

TEST_F(AuditTest, ListRejectsLimitOutOfRange) {
  for (int limit : {0, -1, 1001}) {
    EventFilter f;
    f.limit = limit;
    auto r = log_.list(f);
    ASSERT_FALSE(r.has_value()) << limit;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EventFilter max;
  max.limit = 1000;
  EXPECT_TRUE(log_.list(max).has_value());
}

TEST_F(AuditTest, VerifyEmptyLog) {
  const VerifyReport r = verify();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.events_checked, 0);
  EXPECT_FALSE(r.first_bad_seq.has_value());
}

TEST_F(AuditTest, VerifyIntactLog) {
  for (int i = 0; i < 5; ++i) {
    append_n(7, i * 7 + 1);
    clock_.advance(seconds(1));
  }
  const VerifyReport r = verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.events_checked, 35);
  EXPECT_FALSE(r.first_bad_seq.has_value());
}

TEST_F(AuditTest, VerifyReadsAcrossPages) {
  append_n(5001);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.events_checked, 5001);
}

class AuditTamperTest : public AuditTest {
 protected:
  void SetUp() override {
    AuditTest::SetUp();
    append_n(10);
    ASSERT_TRUE(verify().ok);
  }
  void expect_bad_at(std::int64_t seq) {
    const VerifyReport r = verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.first_bad_seq, seq);
  }
};

TEST_F(AuditTamperTest, AlteredDetailsAreDetected) {
  sql("UPDATE audit_events SET details = '{\"n\":999}' WHERE seq = 4");
  expect_bad_at(4);
}

TEST_F(AuditTamperTest, AlteredActorIsDetected) {
  sql("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 7");
  expect_bad_at(7);
}

TEST_F(AuditTamperTest, AlteredFieldsAreDetected) {
  sql("UPDATE audit_events SET occurred_at = occurred_at + 1 WHERE seq = 2");
  expect_bad_at(2);
}

TEST_F(AuditTamperTest, AlteredTargetIsDetected) {
  sql("UPDATE audit_events SET target_id = 'other' WHERE seq = 1");
  expect_bad_at(1);
}

TEST_F(AuditTamperTest, AlteredActionInLastEventIsDetected) {
  sql("UPDATE audit_events SET action = 'certificate.view' WHERE seq = 10");
  expect_bad_at(10);
}

TEST_F(AuditTamperTest, DeletedMiddleEventIsDetected) {
  sql("DELETE FROM audit_events WHERE seq = 5");
  expect_bad_at(5);
}

TEST_F(AuditTamperTest, DeletedFirstEventIsDetected) {
  sql("DELETE FROM audit_events WHERE seq = 1");
  expect_bad_at(1);
}

TEST_F(AuditTamperTest, DeletedLastEventIsDetectedThroughTheHead) {
  sql("DELETE FROM audit_events WHERE seq = 10");
  expect_bad_at(10);
}

TEST_F(AuditTamperTest, DeletedNewestEventsAreDetected) {
  sql("DELETE FROM audit_events WHERE seq > 6");
  expect_bad_at(7);
}

TEST_F(AuditTamperTest, RehashedEventBreaksTheNextLink) {
  // Alter event 3 and recompute its own hash so that it is self-consistent: the link from
  // event 4 still names the old hash.
  auto events = list({.actor = {},
                      .action = {},
                      .target_type = {},
                      .target_id = "target-3",
                      .since = {},
                      .until = {},
                      .after_seq = {},
                      .limit = 1,
                      .newest_first = true});
  ASSERT_EQ(events.size(), 1u);
  RecordedEvent e = events[0];
  e.event.actor = "user:mallory";
  const std::string details = e.event.details.dump();
  const std::string hash = AuditLog::event_hash(e.seq, e.time, e.event, details, e.prev_hash);
  const store::Value params[] = {e.event.actor, hash};
  sql("UPDATE audit_events SET actor = ?, hash = ? WHERE seq = 3", params);
  expect_bad_at(4);
}

TEST_F(AuditTamperTest, RehashedLastEventIsDetectedThroughTheHead) {
  auto events = list({});
  ASSERT_EQ(events.front().seq, 10);
  RecordedEvent e = events.front();
  e.event.details = {{"n", 0}};
  const std::string details = e.event.details.dump();
  const std::string hash = AuditLog::event_hash(e.seq, e.time, e.event, details, e.prev_hash);
  const store::Value params[] = {details, hash};
  sql("UPDATE audit_events SET details = ?, hash = ? WHERE seq = 10", params);
  const VerifyReport r = verify();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq.has_value());
  EXPECT_GE(*r.first_bad_seq, 10);
}

TEST_F(AuditTamperTest, ForgedPrevHashIsDetected) {
  sql("UPDATE audit_events SET prev_hash = (SELECT hash FROM audit_events WHERE seq = 1) "
      "WHERE seq = 3");
  expect_bad_at(3);
}

TEST_F(AuditTamperTest, SwappedEventsAreDetected) {
  sql("UPDATE audit_events SET seq = 100 WHERE seq = 5");
  sql("UPDATE audit_events SET seq = 5 WHERE seq = 6");
  sql("UPDATE audit_events SET seq = 6 WHERE seq = 100");
  expect_bad_at(5);
}

TEST_F(AuditTamperTest, AppendedEventWithoutHeadUpdateIsDetected) {
  auto events = list({});
  const RecordedEvent& last = events.front();
  const Event forged = make_event(11);
  const std::string details = forged.details.dump();
  const std::string hash = AuditLog::event_hash(11, last.time, forged, details, last.hash);
  const store::Value params[] = {std::int64_t{11}, to_unix(last.time), forged.actor,
                                 forged.action,    forged.target_type, forged.target_id,
                                 details,          last.hash,          hash};
  sql("INSERT INTO audit_events (seq, occurred_at, actor, action, target_type, target_id, "
      "details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      params);
  const VerifyReport r = verify();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.first_bad_seq.has_value());
}

TEST_F(AuditTamperTest, MissingHeadIsDetected) {
  sql("DELETE FROM audit_head");
  EXPECT_FALSE(verify().ok);
}

TEST_F(AuditTamperTest, AppendAfterTamperingStillChainsFromTheHead) {
  // The head, not the table, is what append() links to.
  sql("DELETE FROM audit_events WHERE seq = 10");
  append_n(1, 11);
  const auto events = list({});
  EXPECT_EQ(events.front().seq, 11);
  expect_bad_at(10);
}

// An attacker with write access to the database can rewrite the chain from some event on and
// recompute every later hash and the head: the chain verifies on its own. Only a checkpoint
// kept elsewhere tells.
class AuditCheckpointTest : public AuditTamperTest {
 protected:
  void rewrite_from(std::int64_t seq, std::string_view new_actor) {
    EventFilter f;
    f.newest_first = false;
    auto events = list(f);
    std::string prev = seq == 1 ? std::string(kGenesis) : events[seq - 2].hash;
    for (RecordedEvent& e : events) {
      if (e.seq < seq) continue;
      if (e.seq == seq) e.event.actor = std::string(new_actor);
      const std::string details = e.event.details.dump();
      const std::string hash = AuditLog::event_hash(e.seq, e.time, e.event, details, prev);
      const store::Value params[] = {e.event.actor, prev, hash, e.seq};
      sql("UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?", params);
      prev = hash;
    }
    const store::Value head[] = {prev};
    sql("UPDATE audit_head SET hash = ? WHERE id = 1", head);
  }
  VerifyReport verify_at(const Checkpoint& c) {
    auto r = log_.verify(c);
    CW_CHECK(r.has_value());
    return *r;
  }
};

TEST_F(AuditCheckpointTest, IntactChainHoldsItsCheckpointAndReportsTheHead) {
  const VerifyReport first = verify();
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(first.head.seq, 10);
  EXPECT_EQ(first.head.hash, list({}).front().hash);
  const Checkpoint at10 = first.head;
  append_n(5, 11);
  const VerifyReport later = verify_at(at10);
  EXPECT_TRUE(later.ok) << later.problem;
  EXPECT_TRUE(later.checkpoint_matched);
  EXPECT_EQ(later.head.seq, 15);
  EXPECT_EQ(later.events_checked, 15);
}

TEST_F(AuditCheckpointTest, RewrittenChainVerifiesAloneButNotAgainstTheCheckpoint) {
  const Checkpoint at10 = verify().head;
  rewrite_from(4, "user:mallory");
  EXPECT_TRUE(verify().ok);  // self-consistent: this is what the checkpoint is for
  const VerifyReport r = verify_at(at10);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 10);
  EXPECT_NE(r.problem.find("rewritten"), std::string::npos) << r.problem;
}

TEST_F(AuditCheckpointTest, ChainCutBelowTheCheckpointIsDetected) {
  const Checkpoint at10 = verify().head;
  // Drop events 8-10 and point the head at event 7: consistent on its own.
  const auto events = list({});
  sql("DELETE FROM audit_events WHERE seq > 7");
  const store::Value head[] = {std::int64_t{7}, events[3].hash};
  sql("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", head);
  EXPECT_TRUE(verify().ok);
  const VerifyReport r = verify_at(at10);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("before the checkpoint"), std::string::npos) << r.problem;
}

TEST(ParseCheckpoint, AcceptsSeqColonHashAndNothingElse) {
  const std::string hash(64, 'a');
  auto ok = parse_checkpoint("12:" + hash);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->seq, 12);
  EXPECT_EQ(ok->hash, hash);
  for (const std::string& bad :
       {std::string(""), std::string("12"), "12:" + hash.substr(1), "0:" + hash, "-1:" + hash,
        ":" + hash, "12:" + std::string(64, 'A'), "12:" + std::string(63, 'a') + "g", "1x:" + hash,
        "12:" + hash + "0", "99999999999999999999:" + hash}) {
    auto r = parse_checkpoint(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformed);
  }
}

}  // namespace
}  // namespace certward::audit
