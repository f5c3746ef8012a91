#include "api/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace certward::api {

RateLimiter::Decision RateLimiter::allow(const std::string& key, SteadyClock::time_point now) {
  if (rate_ <= 0) return {};
  common::MutexLock lock(mu_);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
  b.updated = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return {};
  }
  const double wait = (1 - b.tokens) / rate_;
  return {false, std::chrono::seconds(static_cast<long>(std::ceil(std::max(wait, 1.0))))};
}

}  // namespace certward::api
