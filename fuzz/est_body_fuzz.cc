// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: what an EST request carries (src/protocols/est/): the base64 PKCS#10 body of
// simpleenroll, simplereenroll and serverkeygen (x509::est::parse_csr_body, and what is read of
// a CSR that parsed: its names, the DecryptKeyIdentifier it asks its key to be encrypted to) and
// the HTTP Basic Authorization header (http::basic_credentials).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/http.h"
#include "x509/est.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto csr = certward::x509::est::parse_csr_body(text)) {
    if (auto asked = certward::x509::est::decrypt_key_request(*csr); asked && *asked)
      (void)(*asked)->key_id.size();
    (void)csr->info().sans.size();
  }
  if (auto basic = certward::http::basic_credentials(text)) (void)basic->second.size();
  return 0;
}
