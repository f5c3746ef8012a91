// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: x509::parse_pkcs12, once with the fixed password the seed corpus uses
// ("certward-fuzz") and once with a password taken from the input itself: the first byte is
// the password length, the following bytes the password, the rest the PKCS#12 blob.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "x509/bundle.h"

namespace {
void touch(const certward::Result<certward::x509::Pkcs12Contents>& r) {
  if (!r) return;
  if (r->key) (void)r->key->info();
  if (r->leaf) (void)r->leaf->info().sha256_hex;
  for (const auto& c : r->chain) (void)c.info().sha256_hex;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  touch(certward::x509::parse_pkcs12(in, "certward-fuzz"));
  if (size > 0) {
    std::size_t n = std::min<std::size_t>(data[0], size - 1);
    std::string_view password(reinterpret_cast<const char*>(data + 1), n);
    touch(certward::x509::parse_pkcs12(in.subspan(1 + n), password));
  }
  return 0;
}
