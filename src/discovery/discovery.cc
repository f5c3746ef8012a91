#include "discovery/discovery.h"

#include <array>
#include <utility>

namespace certward::discovery {

namespace {
constexpr std::array<std::pair<Severity, std::string_view>, 5> kSeverities{{
    {Severity::kInfo, "info"},
    {Severity::kLow, "low"},
    {Severity::kMedium, "medium"},
    {Severity::kHigh, "high"},
    {Severity::kCritical, "critical"},
}};
}  // namespace

std::string_view severity_name(Severity s) {
  for (const auto& [value, name] : kSeverities) {
    if (value == s) return name;
  }
  return "info";
}

Result<Severity> parse_severity(std::string_view s) {
  for (const auto& [value, name] : kSeverities) {
    if (name == s) return value;
  }
  return fail(ErrorCode::kInvalidArgument, "unknown severity '" + std::string(s) + "'");
}

}  // namespace certward::discovery
