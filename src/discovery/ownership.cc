#include "discovery/ownership.h"

#include <arpa/inet.h>
#include <fnmatch.h>

#include <algorithm>

namespace certward::discovery {

namespace {

bool glob(const std::string& pattern, std::string_view text, int flags) {
  return !text.empty() && fnmatch(pattern.c_str(), std::string(text).c_str(), flags) == 0;
}

}  // namespace

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
  const auto addr = parse_ip(endpoint.address);
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
  const auto addr = parse_ip(host);
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
