// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: lifecycle::parse_campaign_request on the bytes as JSON (a replacement campaign
// in a REST body or built by the CLI); a request that parses must survive the round trip
// (campaign_request_json of it parses again to the same JSON, which is how it is stored) and
// never have an empty selector.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "lifecycle/campaign.h"

namespace lifecycle = certward::lifecycle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto request = lifecycle::parse_campaign_request(j);
  if (!request) return 0;
  if (lifecycle::selector_empty(request->selector)) std::abort();  // "everything" is refused
  const nlohmann::json once = lifecycle::campaign_request_json(*request);
  auto again = lifecycle::parse_campaign_request(once);
  if (!again) std::abort();  // what we store, we must read back
  if (lifecycle::campaign_request_json(*again) != once) std::abort();
  return 0;
}
