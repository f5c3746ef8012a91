#include "common/clock.h"

#include <cstdio>

namespace certward {

std::string format_time(SysTime t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()));
  return buf;
}

namespace {

// True if `text` has exactly the shape of `pattern`, where '9' stands for any digit.
bool has_shape(std::string_view text, std::string_view pattern) {
  if (text.size() < pattern.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (pattern[i] == '9' ? !digit : text[i] != pattern[i]) return false;
  }
  return true;
}

}  // namespace

Result<SysTime> parse_time(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int consumed = 0;
  const std::string copy(text);
  if (!has_shape(text, "9999-99-99") ||
      std::sscanf(copy.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3) {
    return fail(ErrorCode::kMalformed, "not a date: '" + copy + "'");
  }
  std::string_view rest = text.substr(consumed);
  if (!rest.empty()) {
    int more = 0;
    if (!has_shape(rest, "T99:99:99") ||
        std::sscanf(copy.c_str() + consumed, "T%2d:%2d:%2d%n", &h, &mi, &s, &more) != 3) {
      return fail(ErrorCode::kMalformed, "not an RFC 3339 time: '" + copy + "'");
    }
    rest = rest.substr(more);
    if (rest != "Z" && rest != "+00:00") {
      return fail(ErrorCode::kMalformed, "time must be UTC ('Z'): '" + copy + "'");
    }
  }
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(unsigned(mo)),
                                        std::chrono::day(unsigned(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) {
    return fail(ErrorCode::kMalformed, "date out of range: '" + copy + "'");
  }
  return SysTime(std::chrono::sys_days(ymd)) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(s);
}

}  // namespace certward
