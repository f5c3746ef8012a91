#pragma once
// Reading a domain name out of a DNS message (RFC 1035 4.1.4), for every part of certward that
// reads DNS answers: the ACME server's resolver and the RFC 2136 client of upstream issuers.
// The message is hostile: every read is bounds-checked, and compression pointers must point
// back to an earlier name, so a chain of them ends on its own.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace certward::dns {

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameOctets = 255;  // RFC 1035 3.1, length octets included

// The labels of the name at `pos`, as written (case kept), the root left out: the root name
// is no labels. Moves `pos` past the name as it is written there (up to and including the
// first pointer, or the root label). Errors: kMalformed (runs past the message, a pointer
// that does not point back into the message after its header, more than 64 pointers, a
// reserved label type, over 255 octets).
Result<std::vector<std::string>> read_name_labels(std::span<const std::uint8_t> m,
                                                  std::size_t& pos);

}  // namespace certward::dns
