#pragma once
// Time is injected: production code takes a Clock&, tests pass a FakeClock.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/error.h"

namespace certward {

using SysTime = std::chrono::sys_seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SysTime now() const = 0;
};

class SystemClock final : public Clock {
 public:
  SysTime now() const override {
    return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  }
};

// Thread-safe; time moves only when a test says so.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(SysTime start) : now_(start.time_since_epoch().count()) {}
  SysTime now() const override { return SysTime(std::chrono::seconds(now_.load())); }
  void advance(std::chrono::seconds d) { now_ += d.count(); }
  void set(SysTime t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<std::int64_t> now_;
};

// RFC 3339 in UTC with a 'Z' suffix: "2026-11-24T10:00:00Z".
std::string format_time(SysTime t);
// Accepts RFC 3339 UTC ("...Z" or "+00:00") and plain dates ("2026-11-24").
Result<SysTime> parse_time(std::string_view text);
inline std::int64_t to_unix(SysTime t) { return t.time_since_epoch().count(); }
inline SysTime from_unix(std::int64_t s) { return SysTime(std::chrono::seconds(s)); }

}  // namespace certward
