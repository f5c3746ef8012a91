// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: issuers::problem_of (every error answer an upstream ACME CA sends certward as
// its client) and parse_retry_after (its Retry-After header), with the invariants their
// callers rely on: a problem's text is one bounded line, a wait is at most a day.

#include <cstddef>
#include <cstdint>
#include <string>

#include "issuers/acme_client.h"

namespace issuers = certward::issuers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const auto p = issuers::problem_of(400, body, std::nullopt);
  const std::string text = p.describe();
  if (text.size() > 610) __builtin_trap();
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
  }
  if (p.subproblems.size() > 20) __builtin_trap();
  const auto wait = issuers::parse_retry_after(body.substr(0, 64));
  if (wait && (wait->count() < 0 || wait->count() > 86400)) __builtin_trap();
  return 0;
}
