// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: x509::parse_pkcs7 (certs-only SignedData, DER or PEM), strict and lenient
// (the lenient one walks the DER itself).

#include <cstddef>
#include <cstdint>
#include <span>

#include "x509/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (auto parsing : {certward::x509::Parsing::kStrict, certward::x509::Parsing::kLenient}) {
    auto certs = certward::x509::parse_pkcs7(std::span(data, size), parsing);
    if (certs) {
      for (const auto& c : *certs) (void)c.info().sha256_hex;
    }
  }
  return 0;
}
