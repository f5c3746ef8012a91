// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: lifecycle::parse_managed_spec on the bytes as JSON (a managed certificate in a
// REST body, the CLI or a [[managed]] table); a spec that parses must survive the round trip
// (managed_spec_json of it parses again to the same JSON, which is how it is stored), and a
// change (patch_managed_spec) with the same bytes must either be refused or give a spec that
// round-trips too. The desired-state hashes must be computable for anything that parses.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "lifecycle/managed.h"

namespace lifecycle = certward::lifecycle;

namespace {

void round_trip(const lifecycle::ManagedSpec& spec) {
  const nlohmann::json once = lifecycle::managed_spec_json(spec);
  auto again = lifecycle::parse_managed_spec(once);
  if (!again) std::abort();  // what we store, we must read back
  if (lifecycle::managed_spec_json(*again) != once) std::abort();
  if (lifecycle::desired_hash(*again) != lifecycle::desired_hash(spec)) std::abort();
  (void)lifecycle::targets_hash(spec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto spec = lifecycle::parse_managed_spec(j);
  // An adopting spec gets its names from the adopted certificate before it is stored.
  if (spec && !spec->sans.empty()) round_trip(*spec);
  lifecycle::ManagedSpec base;
  base.name = "fuzz";
  base.common_name = "www.example.com";
  base.sans = {{certward::x509::SanType::kDns, "www.example.com"}};
  auto patched = lifecycle::patch_managed_spec(base, j);
  if (patched) round_trip(*patched);
  return 0;
}
