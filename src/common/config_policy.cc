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
    const toml::array* list = v.as_array();
    if (!list) {
      return fail(ErrorCode::kMalformed,
                  where(v, src) + ": policy.rule must be an array of tables ([[policy.rule]])");
    }
    for (const toml::node& item : *list) {
      if (!item.is_table()) {
        return fail(ErrorCode::kMalformed, where(item, src) + ": [[policy.rule]] entry");
      }
      CW_ASSIGN_OR_RETURN(auto spec, to_json(item, src));
      p.rules.push_back({std::move(spec), where(item, src)});
    }
  }
  return ok();
}

}  // namespace certward::config_detail
