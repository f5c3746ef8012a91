// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: x509::Certificate::from_der (every stored, fetched or imported DER cert).

#include <cstddef>
#include <cstdint>
#include <span>

#include "x509/certificate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto cert = certward::x509::Certificate::from_der(std::span(data, size));
  if (cert) {
    // Touch what import and `cert show` read: the PEM round trip must not fail.
    (void)cert->pem();
    (void)cert->info().sha256_hex;
  }
  return 0;
}
