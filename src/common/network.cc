#include "common/network.h"

#include <arpa/inet.h>

#include <algorithm>

namespace certward {

std::optional<std::vector<std::uint8_t>> parse_ip(std::string_view text) {
  std::string s(text);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return std::vector<std::uint8_t>(buf, buf + 4);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return std::vector<std::uint8_t>(buf, buf + 16);
  return std::nullopt;
}

bool in_network(const std::vector<std::uint8_t>& addr, const std::vector<std::uint8_t>& net,
                int prefix) {
  if (addr.size() != net.size()) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    const auto byte = static_cast<std::size_t>(bit / 8);
    const int mask = 0x80 >> (bit % 8);
    if ((addr[byte] & mask) != (net[byte] & mask)) return false;
  }
  return true;
}

std::optional<std::pair<std::vector<std::uint8_t>, int>> parse_cidr(std::string_view cidr) {
  const auto slash = cidr.find('/');
  auto addr = parse_ip(cidr.substr(0, slash));
  if (!addr) return std::nullopt;
  int prefix = static_cast<int>(addr->size() * 8);
  if (slash != std::string_view::npos) {
    const std::string bits(cidr.substr(slash + 1));
    const bool digits = !bits.empty() && bits.size() <= 3 &&
                        bits.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) return std::nullopt;
    prefix = std::stoi(bits);
  }
  if (prefix > static_cast<int>(addr->size() * 8)) return std::nullopt;
  return std::make_pair(std::move(*addr), prefix);
}

Result<NetworkSet> NetworkSet::make(const std::vector<std::string>& cidrs) {
  NetworkSet out;
  for (const auto& c : cidrs) {
    auto parsed = parse_cidr(c);
    if (!parsed) return fail(ErrorCode::kInvalidArgument, "bad network '" + c + "'");
    out.ranges_.push_back(Range{std::move(parsed->first), parsed->second});
  }
  return out;
}

bool NetworkSet::contains(std::string_view address) const {
  const auto addr = parse_ip(address);
  if (!addr) return false;
  return std::ranges::any_of(
      ranges_, [&](const Range& r) { return in_network(*addr, r.address, r.prefix); });
}

}  // namespace certward
