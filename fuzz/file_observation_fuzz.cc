// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: discovery::parse_file_observation, on each observation of an agent's report
// (POST /api/v1/discovery/agent-reports), with the invariants the recorder relies on: what it
// accepts is within the documented bounds, every SSH key was parsed by the server itself, and
// encoding it again decodes to the same observation.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "discovery/ssh_key.h"
#include "discovery/wire.h"

namespace discovery = certward::discovery;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  auto obs = discovery::parse_file_observation(j);
  if (!obs) return 0;
  if (obs->path.empty() || obs->path.size() > discovery::kMaxWirePath) __builtin_trap();
  if (obs->certificates.size() > discovery::kMaxWireCertificates) __builtin_trap();
  for (const auto& der : obs->certificates) {
    if (der.empty() || der.size() > discovery::kMaxWireCertificateBytes) __builtin_trap();
  }
  for (const auto& key : obs->ssh_keys) {
    if (key.fingerprint != discovery::ssh_fingerprint(key.blob)) __builtin_trap();
  }
  auto again = discovery::parse_file_observation(discovery::file_observation_json(*obs));
  if (!again || again->path != obs->path || again->certificates != obs->certificates ||
      again->ssh_keys.size() != obs->ssh_keys.size() ||
      again->findings.size() != obs->findings.size()) {
    __builtin_trap();
  }
  return 0;
}
