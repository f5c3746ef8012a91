#include "discovery/ownership.h"

#include <arpa/inet.h>
#include <fnmatch.h>

#include <algorithm>

namespace certward::discovery {

namespace {

std::optional<std::vector<std::uint8_t>> parse_address(std::string_view text) {
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

bool glob(const std::string& pattern, std::string_view text, int flags) {
  return !text.empty() && fnmatch(pattern.c_str(), std::string(text).c_str(), flags) == 0;
}

// "a.b.c.d/n", "x::y/n" or a bare address (all its bits).
std::optional<std::pair<std::vector<std::uint8_t>, int>> parse_cidr(std::string_view cidr) {
  const auto slash = cidr.find('/');
  auto addr = parse_address(cidr.substr(0, slash));
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

}  // namespace

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
  const auto addr = parse_address(address);
  if (!addr) return false;
  return std::ranges::any_of(
      ranges_, [&](const Range& r) { return in_network(*addr, r.address, r.prefix); });
}

Result<Ownership> Ownership::make(std::vector<OwnershipRule> rules) {
  Ownership out;
  for (const OwnershipRule& r : rules) {
    if (r.team.empty()) return fail(ErrorCode::kInvalidArgument, "an ownership rule needs a team");
    const int patterns = int(!r.cidr.empty()) + int(!r.host.empty()) + int(!r.path.empty());
    if (patterns != 1) {
      return fail(ErrorCode::kInvalidArgument,
                  "ownership rule for team '" + r.team + "': give exactly one of cidr, host, path");
    }
    std::optional<Network> net;
    if (!r.cidr.empty()) {
      auto parsed = parse_cidr(r.cidr);
      if (!parsed) {
        return fail(ErrorCode::kInvalidArgument, "ownership rule: bad cidr '" + r.cidr + "'");
      }
      net = Network{std::move(parsed->first), parsed->second};
    }
    out.rules_.push_back(r);
    out.networks_.push_back(std::move(net));
  }
  return out;
}

std::optional<std::string> Ownership::team_for(const Endpoint& endpoint) const {
  const auto addr = parse_address(endpoint.address);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const OwnershipRule& r = rules_[i];
    if (networks_[i] && addr && in_network(*addr, networks_[i]->address, networks_[i]->prefix)) {
      return r.team;
    }
    if (!r.host.empty() &&
        (glob(r.host, endpoint.host, FNM_CASEFOLD) || glob(r.host, endpoint.sni, FNM_CASEFOLD))) {
      return r.team;
    }
  }
  return std::nullopt;
}

std::optional<std::string> Ownership::team_for_file(std::string_view host,
                                                    std::string_view path) const {
  const auto addr = parse_address(host);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const OwnershipRule& r = rules_[i];
    if (networks_[i] && addr && in_network(*addr, networks_[i]->address, networks_[i]->prefix)) {
      return r.team;
    }
    if (!r.host.empty() && glob(r.host, host, FNM_CASEFOLD)) return r.team;
    if (!r.path.empty() && glob(r.path, path, 0)) return r.team;
  }
  return std::nullopt;
}

}  // namespace certward::discovery
