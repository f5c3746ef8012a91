#pragma once
// The inventory at a glance, for the dashboard's overview and any script: totals by status,
// what expires within 7, 30 and 90 days and in each of the next 13 weeks, and the summary's
// counts by issuer, key, owner, team and origin — for everything, or one team.
//
// Counting walks every certificate (about six seconds for a million on SQLite), so the walk's
// result is kept: answers come from it while it is younger than `max_age`, with the time it was
// taken. One walk at a time: while one runs, callers get the last result if there is one, and
// wait for the walk only when there is none. Each walk counts every team at once, so a team's
// overview costs no walk of its own.
//
// Thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
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
  OverviewCache(const Clock& clock, const inventory::Inventory& inventory,
                std::chrono::seconds max_age = std::chrono::seconds(60));

  // The overview of `team`'s certificates (nullopt: all), as of at most max_age ago unless a
  // walk is under way. Errors: those of the inventory's listing.
  Result<Overview> get(const std::optional<std::string>& team) CW_EXCLUDES(mu_);

 private:
  struct Snapshot;
  Result<std::shared_ptr<const Snapshot>> walk() const;

  const Clock& clock_;
  const inventory::Inventory& inventory_;
  const std::chrono::seconds max_age_;
  common::Mutex mu_;
  common::CondVar walked_;
  std::shared_ptr<const Snapshot> snapshot_ CW_GUARDED_BY(mu_);
  bool walking_ CW_GUARDED_BY(mu_) = false;
};

}  // namespace certward::reports
