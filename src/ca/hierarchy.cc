#include "ca/hierarchy.h"

namespace certward::ca {
namespace {

Result<std::optional<x509::NameConstraints>> name_constraints(const AuthorityRequest& r) {
  if (r.permitted.empty() && r.excluded.empty()) return std::optional<x509::NameConstraints>();
  x509::NameConstraints nc;
  for (const auto& p : r.permitted) {
    CW_ASSIGN_OR_RETURN(auto subtree, parse_name_constraint(p));
    nc.permitted.push_back(std::move(subtree));
  }
  for (const auto& e : r.excluded) {
    CW_ASSIGN_OR_RETURN(auto subtree, parse_name_constraint(e));
    nc.excluded.push_back(std::move(subtree));
  }
  return std::optional<x509::NameConstraints>(std::move(nc));
}

}  // namespace

Result<AuthorityInfo> create_authority(Enrollment& ra, AuthorityService& authorities,
                                       const AuthorityRequest& r, const Requester& requester) {
  if (r.path_length && (*r.path_length < 0 || *r.path_length > kMaxPathLength)) {
    return fail(ErrorCode::kInvalidArgument,
                "path length must be between 0 and " + std::to_string(kMaxPathLength));
  }
  if (r.validity && r.validity->count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "validity must be positive");
  }
  CW_ASSIGN_OR_RETURN(auto nc, name_constraints(r));
  if (r.kind == AuthorityKind::kRoot) {
    if (r.parent) return fail(ErrorCode::kInvalidArgument, "a root has no parent");
    RootOptions o;
    o.name = r.name;
    o.subject = r.subject;
    if (r.key_type) o.key_type = *r.key_type;
    if (r.validity) o.validity = *r.validity;
    o.path_length = r.path_length;
    o.name_constraints = std::move(nc);
    o.token_key = r.token_key;
    return authorities.create_root(o, requester.actor);
  }
  if (!r.parent) {
    return fail(
        ErrorCode::kInvalidArgument,
        "a parent is required for " + std::string(authority_kind_name(r.kind)) + " authorities");
  }
  SubordinateOptions o;
  o.name = r.name;
  o.kind = r.kind;
  o.parent = *r.parent;
  o.subject = r.subject;
  if (r.key_type) o.key_type = *r.key_type;
  o.validity = r.validity;
  o.path_length = r.path_length;
  o.name_constraints = std::move(nc);
  o.channel = r.channel;
  o.token_key = r.token_key;
  return create_subordinate(ra, authorities, o, requester);
}

}  // namespace certward::ca
