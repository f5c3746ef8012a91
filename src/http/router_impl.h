#pragma once
// Private route-pattern matching, shared by Router::match and the server's Allow header.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace certward::http {

// Whether `pattern` matches the path split into `segments`. On a match, fills `params` (when
// not null) and `literals` (how many literal segments matched, to prefer specific routes).
bool pattern_matches(std::string_view pattern, const std::vector<std::string_view>& segments,
                     std::map<std::string, std::string>* params, int* literals);

}  // namespace certward::http
