#pragma once
// Ownership hints: rules that attribute what discovery finds to teams, by the address range an
// endpoint is in, the host name it was dialled by, or the path of a file. The first rule that
// matches wins, so specific rules go before broad ones. Immutable once built; thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "common/network.h"
#include "discovery/discovery.h"

namespace certward::discovery {

// A set of address ranges: where a scan may dial (common/network.h).
using certward::NetworkSet;

// One rule as configured: a team and exactly one of
//   cidr  "10.20.0.0/16", "2001:db8::/32"  (the endpoint's address; a file's host if it is one)
//   host  "*.payments.example.com"          (shell glob, case-insensitive; endpoint host or SNI,
//                                            a file's host)
//   path  "/etc/nginx/*"                    (shell glob over a file's absolute path, where '*'
//                                            also matches '/')

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
