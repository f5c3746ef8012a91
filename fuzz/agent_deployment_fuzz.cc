// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points, on the bytes as JSON: lifecycle::parse_agent_delivery (what `certward agent`
// reads from a server, hostile to it) and, if it parses, deploy::check_agent_host against a
// host policy of one directory and one reload command, as the agent does before changing
// anything; and lifecycle::parse_agent_outcome (an agent's report, hostile to the server),
// whose result must survive the round trip through agent_outcome_json.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "lifecycle/agent_wire.h"

namespace lifecycle = certward::lifecycle;
namespace deploy = certward::lifecycle::deploy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  if (auto delivery = lifecycle::parse_agent_delivery(j)) {
    deploy::Policy policy;
    policy.allowed_paths = {"/nonexistent/certward-fuzz"};
    policy.team_reload_commands = {{"/usr/sbin/nginx", "-s", "reload"}};
    if (auto local = deploy::check_agent_host(delivery->target, policy)) {
      if (local->kind != deploy::TargetKind::kFiles || local->agent) std::abort();
    }
  }
  if (auto outcome = lifecycle::parse_agent_outcome(j)) {
    auto again = lifecycle::parse_agent_outcome(lifecycle::agent_outcome_json(*outcome));
    if (!again) std::abort();  // what the server keeps, it must read back
    if (lifecycle::agent_outcome_json(*again) != lifecycle::agent_outcome_json(*outcome)) {
      std::abort();
    }
  }
  return 0;
}
