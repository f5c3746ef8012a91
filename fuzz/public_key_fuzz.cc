// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: crypto::parse_public_key (SubjectPublicKeyInfo, PEM or DER).

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/crypto.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto key = certward::crypto::parse_public_key(std::span(data, size));
  if (key) (void)certward::crypto::describe_key(key->get());
  return 0;
}
