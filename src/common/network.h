#pragma once
// Address ranges: where the server may dial on someone else's say-so (a discovery scan, a
// deployment's verification endpoint). Immutable once built; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace certward {

// An IPv4 (4 bytes) or IPv6 (16 bytes) address in canonical text, "[v6]" accepted.
std::optional<std::vector<std::uint8_t>> parse_ip(std::string_view text);
// "a.b.c.d/n", "x::y/n" or a bare address (all its bits): the address and the prefix length.
std::optional<std::pair<std::vector<std::uint8_t>, int>> parse_cidr(std::string_view cidr);
// Whether `addr` is in `net`/`prefix` (of the same family).
bool in_network(const std::vector<std::uint8_t>& addr, const std::vector<std::uint8_t>& net,
                int prefix);

// A set of address ranges ("10.0.0.0/8", "::1/128", a bare address).
class NetworkSet {
 public:
  // Errors: kInvalidArgument (a range that is not an address with a prefix).
  static Result<NetworkSet> make(const std::vector<std::string>& cidrs);
  // Whether `address` (canonical text, IPv4 or IPv6) is in one of the ranges.
  bool contains(std::string_view address) const;

 private:
  struct Range {
    std::vector<std::uint8_t> address;
    int prefix = 0;
  };
  std::vector<Range> ranges_;
};

}  // namespace certward
