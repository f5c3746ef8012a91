// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: crypto::parse_private_key (PEM or DER; traditional, PKCS#8 plain and
// encrypted), without a passphrase and with the fixed passphrase of the seed corpus.

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/crypto.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto plain = certward::crypto::parse_private_key(in);
  if (plain) (void)plain->public_key_der();
  auto enc = certward::crypto::parse_private_key(in, "certward-fuzz");
  if (enc) (void)enc->info();
  return 0;
}
