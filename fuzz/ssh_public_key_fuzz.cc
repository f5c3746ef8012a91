// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: ssh::parse_public_key, the key line of every SSH certificate request (REST,
// CLI). Invariants: an accepted key's line parses back to the same type and blob, and its
// type has a certificate form (sign_certificate would take it).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ssh/ssh.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto key = certward::ssh::parse_public_key(text);
  if (!key) return 0;
  auto again = certward::ssh::parse_public_key(key->line());
  if (!again || again->type != key->type || again->blob != key->blob) __builtin_trap();
  if (key->fingerprint().size() != 7 + 43) __builtin_trap();
  return 0;
}
