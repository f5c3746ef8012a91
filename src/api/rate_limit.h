#pragma once
// Per-principal token buckets. allow() answers at once; a refusal carries how long until a
// token is available (for Retry-After). Thread-safe.

#include <chrono>
#include <string>
#include <unordered_map>

#include "common/mutex.h"

namespace certward::api {

class RateLimiter {
 public:
  using SteadyClock = std::chrono::steady_clock;
  // rate <= 0 disables limiting.
  RateLimiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}

  struct Decision {
    bool allowed = true;
    std::chrono::seconds retry_after{0};
  };
  Decision allow(const std::string& key, SteadyClock::time_point now = SteadyClock::now());

 private:
  struct Bucket {
    double tokens;
    SteadyClock::time_point updated;
  };
  const double rate_;
  const double burst_;
  common::Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ CW_GUARDED_BY(mu_);
};

}  // namespace certward::api
