// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: x509::detect_format and x509::parse_certificates (PEM bundles, DER, PKCS#7 in
// PEM or DER), as used by `certward cert import`, Inventory::import_paths and POST
// /api/v1/certificates/import.

#include <cstddef>
#include <cstdint>
#include <span>

#include "x509/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  (void)certward::x509::detect_format(in);
  auto certs = certward::x509::parse_certificates(in);
  if (certs) {
    for (const auto& c : *certs) (void)c.info().serial_hex;
    (void)certward::x509::to_pem(*certs);
  }
  return 0;
}
