// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: x509::parse_csr (PEM or DER PKCS#10, `certward issue --csr`, POST
// /api/v1/certificates, EST/SCEP enrolment).

#include <cstddef>
#include <cstdint>
#include <span>

#include "x509/csr.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto csr = certward::x509::parse_csr(std::span(data, size));
  if (csr) (void)csr->info().sans.size();
  return 0;
}
