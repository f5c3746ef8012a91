// [policy] and [[policy.rule]]: compliance rules declared in the configuration; [approvals]. Each
// rule is kept as JSON and checked by the policy service (src/policy) with the parser the API uses.

#include "common/config_toml.h"

namespace certward::config_detail {

Status parse_policy(const toml::table& t, PolicySettings& p, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key != "rule") {
      CW_RETURN_IF_ERROR(unknown_key(v, "policy", key, src));
      continue;
    }
    CW_RETURN_IF_ERROR(parse_declarations(v, "policy.rule", p.rules, src));
  }
  return ok();
}

Status parse_approvals(const toml::table& t, ApprovalSettings& a, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "ttl") {
      CW_ASSIGN_OR_RETURN(a.ttl, get_duration(v, key, src));
    } else {
      CW_RETURN_IF_ERROR(unknown_key(v, "approvals", key, src));
    }
  }
  return ok();
}

Status validate_approvals(const ApprovalSettings& a) {
  // Longer than 90 days lets a request be approved against a world (owners, names, keys) that
  // has long moved on.
  if (a.ttl < std::chrono::seconds(1) || a.ttl > std::chrono::hours(24 * 90)) {
    return fail(ErrorCode::kMalformed, "approvals.ttl must be between 1s and 90d");
  }
  return ok();
}

}  // namespace certward::config_detail
