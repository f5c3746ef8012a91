// The overview: totals by status, what expires within 7, 30 and 90 days and in each week, the
// counts by dimension with the long tail summed, every team's overview from one walk, and the
// walk kept for a minute and taken again after it.

#include "reports/overview.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <thread>

#include "unit/inventory/fixture.h"

namespace certward::reports {
namespace {

using inventory::inventory_testing::InventoryTest;
using inventory::inventory_testing::kNow;
using inventory::inventory_testing::LeafSpec;
using std::chrono::days;
using std::chrono::hours;

class OverviewTest : public InventoryTest {
 protected:
  void add(std::string cn, SysTime not_after, std::optional<std::string> team = {}) {
    LeafSpec spec;
    spec.cn = std::move(cn);
    spec.not_after = not_after;
    inventory::RecordMeta meta;
    meta.team = std::move(team);
    ASSERT_TRUE(record(leaf(spec), meta));
  }
  std::int64_t count(const Overview& o, std::string_view dimension, std::string_view value) {
    for (const auto& c : o.counts) {
      if (c.dimension == dimension && c.value == value) return c.count;
    }
    return -1;
  }
  OverviewCache cache_{clock_, inventory_};
};

TEST_F(OverviewTest, CountsWhatExpiresWhenAndByStatus) {
  add("a.example.com", kNow + days(3), "web");   // week 1; within 7, 30, 90
  add("b.example.com", kNow + days(10), "web");  // week 2; within 30, 90
  add("c.example.com", kNow + days(60));         // week 9; within 90
  add("d.example.com", kNow + days(200), "db");  // later
  add("e.example.com", kNow - days(1), "db");    // expired
  auto o = cache_.get(std::nullopt);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->total, 5);
  EXPECT_EQ(o->expiring_7d, 1);
  EXPECT_EQ(o->expiring_30d, 2);
  EXPECT_EQ(o->expiring_90d, 3);
  ASSERT_EQ(o->weeks.size(), static_cast<std::size_t>(kOverviewWeeks));
  EXPECT_EQ(o->weeks[0], 1);
  EXPECT_EQ(o->weeks[1], 1);
  EXPECT_EQ(o->weeks[8], 1);
  EXPECT_EQ(std::accumulate(o->weeks.begin(), o->weeks.end(), std::int64_t{0}), 3);
  EXPECT_EQ(o->status.at("expired"), 1);
  EXPECT_EQ(o->status.at("expiring"), 2);  // within the 30-day expiring window
  EXPECT_EQ(o->status.at("valid"), 2);
  EXPECT_EQ(o->status.at("revoked"), 0);
  EXPECT_EQ(count(*o, "team", "web"), 2);
  EXPECT_EQ(count(*o, "team", "(none)"), 1);
  EXPECT_EQ(o->computed_at, kNow);

  // A team's overview comes from the same walk; a team with nothing is empty, not an error.
  auto web = cache_.get(std::string("web"));
  ASSERT_TRUE(web);
  EXPECT_EQ(web->total, 2);
  EXPECT_EQ(web->expiring_30d, 2);
  EXPECT_EQ(count(*web, "team", "db"), -1);
  auto none = cache_.get(std::string("nobody"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->total, 0);
  EXPECT_EQ(none->status.at("valid"), 0);
}

TEST_F(OverviewTest, AWalkIsKeptForAMinuteThenTakenAgain) {
  add("a.example.com", kNow + days(100));
  ASSERT_EQ(cache_.get(std::nullopt)->total, 1);
  add("b.example.com", kNow + days(100));
  clock_.advance(std::chrono::seconds(59));
  auto kept = cache_.get(std::nullopt);
  EXPECT_EQ(kept->total, 1);
  EXPECT_EQ(kept->computed_at, kNow);
  clock_.advance(std::chrono::seconds(2));
  auto again = cache_.get(std::nullopt);
  EXPECT_EQ(again->total, 2);
  EXPECT_EQ(again->computed_at, kNow + std::chrono::seconds(61));
}

// The server's way: the first walk starts before anyone asks; later, an old result is answered
// at once while the cache's thread walks, and the next answers have the new counts.
TEST_F(OverviewTest, InTheBackgroundAnOldResultIsAnsweredWhileTheWalkRuns) {
  // Every walk here is short: wait_below 0 lets none be walked by its caller.
  OverviewCache cache(clock_, inventory_, std::chrono::seconds(60),
                      OverviewCache::Refresh::kBackground, std::chrono::milliseconds(0));
  add("a.example.com", kNow + days(100));
  cache.warm();
  auto first = cache.get(std::nullopt);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->total, 1);
  add("b.example.com", kNow + days(100));
  clock_.advance(std::chrono::seconds(61));
  auto old = cache.get(std::nullopt);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->total, 1);
  EXPECT_EQ(old->computed_at, kNow);
  Result<Overview> now = old;
  for (int i = 0; i < 500 && now && now->total != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    now = cache.get(std::nullopt);
  }
  ASSERT_TRUE(now);
  EXPECT_EQ(now->total, 2);
  EXPECT_EQ(now->computed_at, kNow + std::chrono::seconds(61));
}

// A walk that took little is kept a second at least, and taken again by the caller after it.
TEST_F(OverviewTest, InTheBackgroundACheapWalkIsKeptASecondThenTakenByItsCaller) {
  OverviewCache cache(clock_, inventory_, std::chrono::seconds(60),
                      OverviewCache::Refresh::kBackground);
  add("a.example.com", kNow + days(100));
  ASSERT_EQ(cache.get(std::nullopt)->total, 1);
  add("b.example.com", kNow + days(100));
  EXPECT_EQ(cache.get(std::nullopt)->total, 1);
  clock_.advance(std::chrono::seconds(1));
  EXPECT_EQ(cache.get(std::nullopt)->total, 2);
}

TEST_F(OverviewTest, AtMostTwentyValuesADimensionTheRestSummedApart) {
  for (int i = 0; i < 25; ++i) {
    add("h" + std::to_string(i) + ".example.com", kNow + days(100), "team-" + std::to_string(i));
  }
  auto o = cache_.get(std::nullopt);
  ASSERT_TRUE(o);
  std::size_t teams = 0;
  for (const auto& c : o->counts) teams += c.dimension == "team" ? 1 : 0;
  EXPECT_EQ(teams, kOverviewTop);
  EXPECT_EQ(o->others.at("team"), 5);
  // A value that is literally "(other)" is one value among the others, never the sum.
  add("o.example.com", kNow + days(100), "(other)");
  clock_.advance(std::chrono::minutes(2));
  o = cache_.get(std::nullopt);
  ASSERT_TRUE(o);
  std::int64_t listed = 0;
  for (const auto& c : o->counts) listed += c.dimension == "team" ? c.count : 0;
  EXPECT_EQ(listed + o->others.at("team"), 26);
}

TEST_F(OverviewTest, CallersAtOnceAllGetTheSameCounts) {
  for (int i = 0; i < 20; ++i) add("h" + std::to_string(i) + ".example.com", kNow + days(100));
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto o = cache_.get(std::nullopt);
      if (o && o->total == 20) ++right;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(right.load(), 4);
}

}  // namespace
}  // namespace certward::reports
