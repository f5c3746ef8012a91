#pragma once
// Creating authorities the one way every front-end does it: REST, the CLI and later the
// dashboard hand the operator's request to create_authority, which checks it and makes a root
// (self-signed) or a subordinate (issued through the RA).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ca/authority.h"
#include "ca/enrollment.h"

namespace certward::ca {

// The deepest path length certward sets: far more CA levels than any real hierarchy has, and
// small enough that a typo (1000) is caught.
inline constexpr int kMaxPathLength = 16;

// An operator's request for a new authority.
struct AuthorityRequest {
  std::string name;
  AuthorityKind kind = AuthorityKind::kIssuing;
  std::optional<std::string> parent;        // REQUIRED for intermediate and issuing; none for roots
  std::string subject;                      // "CN=Example Issuing CA,O=Example"
  std::optional<crypto::KeyType> key_type;  // default: ec-p384 roots, ec-p256 otherwise
  std::optional<std::chrono::seconds> validity;  // default: 20 years roots, the profile's else
  std::optional<int> path_length;                // 0..kMaxPathLength
  std::vector<std::string> permitted;  // name-constraint subtrees: "dns:x", "ip:CIDR", ...
  std::vector<std::string> excluded;
  Channel channel = Channel::kCli;  // the front-end it came through, recorded on a subordinate
  std::optional<TokenKeyRequest> token_key;  // none: a software key, sealed at rest
};

// Errors: kInvalidArgument (a root with a parent, a subordinate without one, a path length
// out of range, a bad subtree), then those of AuthorityService::create_root and
// create_subordinate.
Result<AuthorityInfo> create_authority(Enrollment& ra, AuthorityService& authorities,
                                       const AuthorityRequest& request, const Requester& requester);

}  // namespace certward::ca
