#pragma once
// The inventory at a glance, for the dashboard's overview and any script: totals by status,
// what expires within 7, 30 and 90 days and in each of the next 13 weeks, and the summary's
// counts by issuer, key, owner, team and origin — for everything, or one team.
//
// Counting walks every certificate (about eight seconds for a million on SQLite), so the walk's
// result is kept: answers come from it while it is younger than `max_age`, with the time it was
// taken. One walk at a time: while one runs, callers get the last result if there is one, and
// wait for the walk only when there is none. Each walk counts every team at once, so a team's
// overview costs no walk of its own.
//
// With Refresh::kBackground (the server's), a result is kept for twenty times as long as its
// walk took, between a second and `max_age` (a small inventory is counted almost live, a
// million certificates once a minute); an older one is still answered at once while a thread
// of the cache's own walks again, unless the last walk took less than `wait_below` (then the
// caller walks: cheaper than a stale answer). warm() starts the first walk before anyone asks.
//
// Thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "inventory/inventory.h"
#include "reports/aggregate.h"

namespace certward::reports {

inline constexpr int kOverviewWeeks = 13;

struct Overview {
  SysTime computed_at{};
  std::int64_t total = 0;
  // Each status inventory::status_name names, with 0 for those none has.
  std::map<std::string, std::int64_t> status;
  // Certificates in force (not revoked or superseded) that expire within 7, 30 and 90 days.
  std::int64_t expiring_7d = 0;
  std::int64_t expiring_30d = 0;
  std::int64_t expiring_90d = 0;
  // Of those, how many expire in week i from computed_at (i = 0 the next 7 days).
  std::vector<std::int64_t> weeks = std::vector<std::int64_t>(kOverviewWeeks, 0);
  // By dimension ("issuer", "algorithm", "owner", "team", "origin"; largest count first); at
  // most kOverviewTop values each.
  std::vector<SummaryAggregator::Entry> counts;
  // Per dimension, the certificates of the values past the first kOverviewTop (kept apart, so
  // that no real value, "(other)" included, is mistaken for the sum).
  std::map<std::string, std::int64_t> others;
};
inline constexpr std::size_t kOverviewTop = 20;

class OverviewCache {
 public:
  enum class Refresh {
    kInline,      // a caller that finds the result too old walks, and waits for it
    kBackground,  // it gets the old result, and the cache's thread walks
  };
  OverviewCache(const Clock& clock, const inventory::Inventory& inventory,
                std::chrono::seconds max_age = std::chrono::seconds(60),
                Refresh refresh = Refresh::kInline,
                std::chrono::milliseconds wait_below = std::chrono::milliseconds(250));
  // Stops the thread: a walk under way ends at its next page.
  ~OverviewCache();
  OverviewCache(const OverviewCache&) = delete;
  OverviewCache& operator=(const OverviewCache&) = delete;

  // The overview of `team`'s certificates (nullopt: all), as of at most max_age ago unless a
  // walk is under way (or, kBackground, was just asked for). Errors: those of the inventory's
  // listing.
  Result<Overview> get(const std::optional<std::string>& team) CW_EXCLUDES(mu_);

  // kBackground: walks now on the cache's thread, unless a walk is under way.
  void warm() CW_EXCLUDES(mu_);

 private:
  struct Snapshot;
  Result<std::shared_ptr<const Snapshot>> walk() const CW_EXCLUDES(mu_);
  void run() CW_EXCLUDES(mu_);
  bool stopping() const CW_EXCLUDES(mu_);
  static Overview of_team(const Snapshot& snapshot, const std::optional<std::string>& team);
  std::chrono::steady_clock::duration kept_for(const Snapshot& snapshot) const;

  const Clock& clock_;
  const inventory::Inventory& inventory_;
  const std::chrono::seconds max_age_;
  const Refresh refresh_;
  const std::chrono::milliseconds wait_below_;
  mutable common::Mutex mu_;
  common::CondVar walked_;
  common::CondVar wake_;
  std::shared_ptr<const Snapshot> snapshot_ CW_GUARDED_BY(mu_);
  bool walking_ CW_GUARDED_BY(mu_) = false;
  bool wanted_ CW_GUARDED_BY(mu_) = false;  // the thread is asked to walk
  bool stopping_ CW_GUARDED_BY(mu_) = false;
  std::thread worker_;  // kBackground only; last, so that it starts after the rest exists
};

}  // namespace certward::reports
