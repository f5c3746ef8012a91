#include "reports/overview.h"

#include <algorithm>
#include <array>

#include "common/thread_name.h"
#include "reports/walk.h"

namespace certward::reports {
namespace {

constexpr std::array kStatuses = {
    inventory::CertStatus::kValid,      inventory::CertStatus::kExpiring,
    inventory::CertStatus::kExpired,    inventory::CertStatus::kRevoked,
    inventory::CertStatus::kSuperseded, inventory::CertStatus::kNotYetValid};

// The counts of one scope (everything, or one team) as the walk goes.
struct Tally {
  explicit Tally(SysTime now) : summary(now) {}
  SummaryAggregator summary;
  std::int64_t expiring[3] = {0, 0, 0};  // 7, 30, 90 days
  std::vector<std::int64_t> weeks = std::vector<std::int64_t>(kOverviewWeeks, 0);

  void add(const inventory::CertificateRecord& r, SysTime now) {
    summary.add(r);
    const auto status = r.status(now);
    if (status == inventory::CertStatus::kRevoked || status == inventory::CertStatus::kSuperseded ||
        r.not_after < now) {
      return;
    }
    const auto left = r.not_after - now;
    constexpr std::chrono::days kWithin[3] = {std::chrono::days(7), std::chrono::days(30),
                                              std::chrono::days(90)};
    for (int i = 0; i < 3; ++i) {
      if (left < kWithin[i]) ++expiring[i];
    }
    const auto week = std::chrono::duration_cast<std::chrono::days>(left).count() / 7;
    if (week < kOverviewWeeks) ++weeks[static_cast<std::size_t>(week)];
  }

  Overview result(SysTime now) const {
    Overview o;
    o.computed_at = now;
    o.total = summary.total();
    for (auto s : kStatuses) o.status[std::string(inventory::status_name(s))] = 0;
    o.expiring_7d = expiring[0];
    o.expiring_30d = expiring[1];
    o.expiring_90d = expiring[2];
    o.weeks = weeks;
    // entries() is by dimension, largest first: keep the first kOverviewTop of each and sum the
    // rest apart. Status has its own member.
    std::string dimension;
    std::size_t kept = 0;
    for (const auto& e : summary.entries()) {
      if (e.dimension == "status") {
        o.status[e.value] = e.count;
        continue;
      }
      if (e.dimension != dimension) {
        dimension = e.dimension;
        kept = 0;
      }
      if (kept++ < kOverviewTop) {
        o.counts.push_back(e);
      } else {
        o.others[e.dimension] += e.count;
      }
    }
    return o;
  }
};

}  // namespace

struct OverviewCache::Snapshot {
  std::chrono::steady_clock::duration took{};  // how long its walk took
  Overview all;
  std::map<std::string, Overview> teams;  // by team name; certificates of no team are in `all` only
};

OverviewCache::OverviewCache(const Clock& clock, const inventory::Inventory& inventory,
                             std::chrono::seconds max_age, Refresh refresh,
                             std::chrono::milliseconds wait_below)
    : clock_(clock),
      inventory_(inventory),
      max_age_(max_age),
      refresh_(refresh),
      wait_below_(wait_below) {
  if (refresh_ == Refresh::kBackground)
    worker_ = std::thread([this] {
      common::name_this_thread("overview");
      run();
    });
}

OverviewCache::~OverviewCache() {
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool OverviewCache::stopping() const {
  common::MutexLock lock(mu_);
  return stopping_;
}

Result<std::shared_ptr<const OverviewCache::Snapshot>> OverviewCache::walk() const {
  const auto started = std::chrono::steady_clock::now();
  const SysTime now = clock_.now();
  Tally all(now);
  std::map<std::string, Tally, std::less<>> teams;
  CW_RETURN_IF_ERROR(for_each_certificate(
      inventory_, inventory::Filter{},
      // A server stopping does not wait for the rest of a million certificates.
      [this]() -> Status {
        if (stopping()) return fail(ErrorCode::kUnavailable, "the server is stopping");
        return ok();
      },
      [&](const inventory::CertificateRecord& r) {
        all.add(r, now);
        if (r.meta.team) teams.try_emplace(*r.meta.team, now).first->second.add(r, now);
      }));
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->took = std::chrono::steady_clock::now() - started;
  snapshot->all = all.result(now);
  for (const auto& [team, tally] : teams) snapshot->teams.emplace(team, tally.result(now));
  return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

Result<Overview> OverviewCache::get(const std::optional<std::string>& team) {
  std::shared_ptr<const Snapshot> snapshot;
  {
    common::MutexLock lock(mu_);
    const SysTime now = clock_.now();
    const bool fresh = snapshot_ && now - snapshot_->all.computed_at < kept_for(*snapshot_) &&
                       snapshot_->all.computed_at <= now;
    if (fresh || (walking_ && snapshot_)) {
      snapshot = snapshot_;
    } else if (walking_) {
      walked_.wait(mu_, [this]() CW_REQUIRES(mu_) { return !walking_; });
      snapshot = snapshot_;
    } else if (snapshot_ && refresh_ == Refresh::kBackground && snapshot_->took >= wait_below_) {
      snapshot = snapshot_;
      walking_ = wanted_ = true;
      wake_.notify_one();
    }
    if (!snapshot) walking_ = true;
  }
  if (!snapshot) {
    auto walked = walk();
    common::MutexLock lock(mu_);
    walking_ = false;
    walked_.notify_all();
    if (!walked) return std::unexpected(walked.error());
    snapshot_ = *walked;
    snapshot = snapshot_;
  }
  return of_team(*snapshot, team);
}

std::chrono::steady_clock::duration OverviewCache::kept_for(const Snapshot& snapshot) const {
  if (refresh_ == Refresh::kInline) return max_age_;
  return std::clamp<std::chrono::steady_clock::duration>(20 * snapshot.took,
                                                         std::chrono::seconds(1), max_age_);
}

void OverviewCache::warm() {
  if (refresh_ != Refresh::kBackground) return;
  common::MutexLock lock(mu_);
  if (walking_) return;
  walking_ = wanted_ = true;
  wake_.notify_one();
}

void OverviewCache::run() {
  for (;;) {
    {
      common::MutexLock lock(mu_);
      wake_.wait(mu_, [this]() CW_REQUIRES(mu_) { return wanted_ || stopping_; });
      if (stopping_) return;
      wanted_ = false;
    }
    auto walked = walk();
    common::MutexLock lock(mu_);
    walking_ = false;
    // A failed walk keeps the last result; the next caller that finds it old asks again.
    if (walked) snapshot_ = *walked;
    walked_.notify_all();
  }
}

Overview OverviewCache::of_team(const Snapshot& snapshot, const std::optional<std::string>& team) {
  if (!team) return snapshot.all;
  if (auto it = snapshot.teams.find(*team); it != snapshot.teams.end()) return it->second;
  // A team with no certificate: an empty overview of the same moment.
  return Tally(snapshot.all.computed_at).result(snapshot.all.computed_at);
}

}  // namespace certward::reports
