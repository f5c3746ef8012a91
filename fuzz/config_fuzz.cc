// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: common::parse_config (the TOML configuration file) and parse_duration
// (durations in configuration, CLI flags and request bodies).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = certward::parse_config(text, "fuzz.toml");
  if (config) certward::finalize_config(*config);
  (void)certward::parse_duration(text);
  return 0;
}
