#pragma once
// Ownership hints: rules that attribute what discovery finds to teams, by the address range an
// endpoint is in, the host name it was dialled by, or the path of a file. The first rule that
// matches wins, so specific rules go before broad ones. Immutable once built; thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "discovery/discovery.h"

namespace certward::discovery {

// One rule as configured: a team and exactly one of
//   cidr  "10.20.0.0/16", "2001:db8::/32"  (the endpoint's address; a file's host if it is one)
//   host  "*.payments.example.com"          (shell glob, case-insensitive; endpoint host or SNI,
//                                            a file's host)
//   path  "/etc/nginx/*"                    (shell glob over a file's absolute path, where '*'
//                                            also matches '/')
// A set of address ranges ("10.0.0.0/8", "::1/128", a bare address): where a scan may dial.
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

struct OwnershipRule {
  std::string team;
  std::string cidr;
  std::string host;
  std::string path;
};

class Ownership {
 public:
  Ownership() = default;
  // Errors: kInvalidArgument (no team, not exactly one pattern, a bad CIDR).
  static Result<Ownership> make(std::vector<OwnershipRule> rules);

  std::optional<std::string> team_for(const Endpoint& endpoint) const;
  std::optional<std::string> team_for_file(std::string_view host, std::string_view path) const;

  const std::vector<OwnershipRule>& rules() const { return rules_; }

 private:
  struct Network {
    std::vector<std::uint8_t> address;  // 4 or 16 bytes
    int prefix = 0;
  };
  std::vector<OwnershipRule> rules_;
  std::vector<std::optional<Network>> networks_;  // parsed cidr of each rule
};

}  // namespace certward::discovery
