// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: issuers::dns_wire::check_answer (every UDP datagram and TCP message an RFC 2136
// update to the organisation's DNS server receives), with a fixed key (certward-fuzz.,
// hmac-sha256, secret "certward-fuzz-tsig-secret"), id 0x1234, request MAC (32 octets 0x5a) and
// clock (1767225600): the seeds are answers signed with them, so mutations start past the MAC.
// Aborts if an answer passes that is not a NOERROR response to that id.

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/encoding.h"
#include "issuers/dns_update.h"

namespace issuers = certward::issuers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const issuers::TsigKey* const key =
      new issuers::TsigKey{"certward-fuzz.", "hmac-sha256",
                           certward::crypto::SecretBytes::copy_of("certward-fuzz-tsig-secret")};
  static const certward::Bytes* const request_mac = new certward::Bytes(32, 0x5a);
  constexpr std::uint16_t kId = 0x1234;
  constexpr std::uint64_t kNow = 1767225600;

  std::span<const std::uint8_t> answer(data, size);
  if (issuers::dns_wire::check_answer(answer, kId, *request_mac, *key, kNow)) {
    if (size < 12 || data[0] != 0x12 || data[1] != 0x34 || (data[2] & 0x80) == 0 ||
        (data[3] & 0x0f) != 0) {
      __builtin_trap();
    }
  }
  return 0;
}
