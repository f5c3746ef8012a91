#pragma once
// Prometheus metrics: request counts and latencies by route and status, issuance counts by
// profile, and inventory gauges (certificates by status, days to expiry) asked of the
// inventory at scrape time and cached briefly. Thread-safe; recording is lock-light.

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "http/http.h"
#include "inventory/inventory.h"

namespace certward::api {

class Metrics {
 public:
  explicit Metrics(const Clock& clock) : clock_(clock) {}

  void observe(const http::Exchange& e);
  void count_issued(std::string_view profile, std::string_view authority);
  void count_rate_limited();

  // Prometheus text exposition format 0.0.4.
  std::string render(const inventory::Inventory& inventory);

 private:
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  struct Histogram {
    std::array<std::uint64_t, kLatencyBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct InventoryGauges {
    std::map<std::string, std::int64_t> by_status;
    std::map<std::string, std::int64_t> expiry_buckets;  // le -> cumulative count
    std::int64_t expiry_count = 0;
    SysTime computed_at{};
  };
  std::string inventory_section(const inventory::Inventory& inventory);

  const Clock& clock_;
  common::Mutex mu_;
  // key: listener|method|route|status
  std::map<std::string, std::uint64_t> requests_ CW_GUARDED_BY(mu_);
  std::map<std::string, Histogram> latencies_ CW_GUARDED_BY(mu_);   // key listener|method|route
  std::map<std::string, std::uint64_t> issued_ CW_GUARDED_BY(mu_);  // key profile|authority
  std::uint64_t rate_limited_ CW_GUARDED_BY(mu_) = 0;
  InventoryGauges gauges_ CW_GUARDED_BY(mu_);
};

}  // namespace certward::api
