// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: lifecycle::deploy::parse_target_spec on the bytes as JSON (a deployment
// target in a REST body, the CLI or the configuration); a spec that parses must survive the
// round trip: target_spec_json of it parses again, to a spec whose JSON is the same. Then
// check_target against a policy allowing one directory and one host, as the API does before
// storing a spec.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "lifecycle/deploy/target.h"

namespace deploy = certward::lifecycle::deploy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto spec = deploy::parse_target_spec(j);
  if (!spec) return 0;
  const nlohmann::json once = deploy::target_spec_json(*spec);
  auto again = deploy::parse_target_spec(once);
  if (!again) std::abort();  // what we write, we must read back
  if (deploy::target_spec_json(*again) != once) std::abort();
  (void)once.dump();
  deploy::Policy policy;
  policy.allowed_paths = {"/nonexistent/certward-fuzz"};
  policy.allowed_ssh_hosts = {"edge.example.com"};
  (void)deploy::check_target(*spec, policy);
  return 0;
}
