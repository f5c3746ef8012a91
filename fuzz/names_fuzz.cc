// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: x509::parse_name and parse_san (subjects and SANs given on the command line,
// in request bodies and in profile templates), with format_name/format_san round trips.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "x509/names.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto name = certward::x509::parse_name(in)) (void)certward::x509::format_name(name->get());
  if (auto san = certward::x509::parse_san(in)) (void)certward::x509::format_san(*san);
  return 0;
}
