// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: what a CMP request carries before OpenSSL's server validates it: the
// PKIMessage (x509::cmp::parse_message) and what is read of it by walking its DER — the
// header's senderKID, protection algorithm, PBM iteration count, PBMAC1 parameters and nonces,
// the extraCerts, an rr's reason code; and, under PBMAC1, the MAC check and the rewrite to
// PasswordBasedMac that a verified message gets.

#include <cstddef>
#include <cstdint>
#include <span>

#include "x509/cmp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto msg = certward::x509::cmp::parse_message(std::span<const std::uint8_t>(data, size));
  if (!msg) return 0;
  (void)certward::x509::cmp::body_type(msg->get());
  const std::span<const std::uint8_t> der(data, size);
  if (auto h = certward::x509::cmp::read_header(msg->get())) {
    (void)h->sender_kid.size();
    static constexpr std::uint8_t kSecret[] = {'s', 'e', 'c', 'r', 'e', 't'};
    if (h->pbmac1 && h->pbmac1->iterations <= 16) {  // PBKDF2's cost is the server's bound
      (void)certward::x509::cmp::pbmac1_verifies(der, *h->pbmac1, kSecret);
      (void)certward::x509::cmp::protect_pbm(der, kSecret, h->pbmac1->iterations);
    }
  }
  (void)certward::x509::cmp::extra_certs(msg->get());
  (void)certward::x509::cmp::revocation_reason(msg->get());
  return 0;
}
