// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: x509::parse_csr (PEM or DER PKCS#10, `certward issue --csr`, POST
// /api/v1/certificates, EST/SCEP enrolment).
//
// parse_csr assembles named-curve EC requests itself instead of d2i_X509_REQ's key decoder
// (src/x509/csr.cc): every input must get the same verdict, and the same description, from the
// path that decodes everything with d2i_X509_REQ.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "x509/csr.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto csr = certward::x509::parse_csr(std::span(data, size));
  auto reference = certward::x509::internal::parse_csr_with_openssl(std::span(data, size));
  if (bool(csr) != bool(reference)) std::abort();
  if (!csr) {
    if (csr.error().code != reference.error().code) std::abort();
    return 0;
  }
  const auto& a = csr->info();
  const auto& b = reference->info();
  if (csr->der() != reference->der() || a.subject != b.subject || a.sans != b.sans ||
      a.key.name() != b.key.name() || a.challenge_password != b.challenge_password ||
      a.requests_ca != b.requests_ca || a.extended_key_usage != b.extended_key_usage) {
    std::abort();
  }
  return 0;
}
