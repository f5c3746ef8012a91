// [policy] and [[policy.rule]]: compliance rules declared in the configuration. Each rule is
// kept as JSON and checked by the policy service (src/policy) with the parser the API uses.

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

}  // namespace certward::config_detail
