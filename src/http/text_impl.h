#pragma once
// Private text helpers of the http module: case-insensitive comparison, percent-decoding,
// target splitting. Pure functions, thread-safe.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certward::http {

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);

// Decodes %XX escapes (and '+' as space when `plus_is_space`). nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

// Parses "a=1&b=x+y&c" into {a:1, b:"x y", c:""}. nullopt on a malformed escape.
std::optional<std::multimap<std::string, std::string>> parse_query(std::string_view query);

// Splits an origin-form target into its decoded path and the raw query. nullopt when the
// target is not origin-form, has a malformed escape, or decodes to a path with a NUL byte or
// a ".." segment.
struct SplitTarget {
  std::string path;
  std::string_view raw_query;
};
std::optional<SplitTarget> split_target(std::string_view target);

// "/a/b" -> {"a","b"}; "/" -> {""}. REQUIRES: path starts with '/'.
std::vector<std::string_view> path_segments(std::string_view path);

}  // namespace certward::http
