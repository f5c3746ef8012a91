// Glob matching over whole paths: fnmatch(3) knows no "**", and FNM_PATHNAME alone cannot say
// "any depth", so components are matched one by one and "**" is handled here.

#include "discovery/files/path_glob.h"

#include <fnmatch.h>

#include <string>
#include <vector>

namespace certward::discovery::files {

namespace {

std::vector<std::string> components(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= s.size()) {
    const std::size_t j = std::min(s.find('/', i), s.size());
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Dynamic programming rather than backtracking, so that patterns with several "**" stay
// linear in (pattern components x path components) on hostile patterns.
bool match_components(const std::vector<std::string>& pat, const std::vector<std::string>& path) {
  const std::size_t np = pat.size();
  const std::size_t ns = path.size();
  // ok[i][j]: pat[i..] matches path[j..].
  std::vector<std::vector<char>> ok(np + 1, std::vector<char>(ns + 1, 0));
  ok[np][ns] = 1;
  for (std::size_t i = np; i-- > 0;) {
    for (std::size_t j = ns + 1; j-- > 0;) {
      if (pat[i] == "**") {
        ok[i][j] = ok[i + 1][j] || (j < ns && ok[i][j + 1]);
      } else {
        ok[i][j] = j < ns && ok[i + 1][j + 1] && fnmatch(pat[i].c_str(), path[j].c_str(), 0) == 0;
      }
    }
  }
  return ok[0][0] != 0;
}

}  // namespace

bool path_glob_match(std::string_view pattern, std::string_view absolute_path) {
  if (pattern.empty()) return false;
  std::vector<std::string> path = components(absolute_path);
  if (pattern.find('/') == std::string_view::npos) {
    if (path.empty()) return false;
    return fnmatch(std::string(pattern).c_str(), path.back().c_str(), 0) == 0;
  }
  std::vector<std::string> pat = components(pattern);
  if (pattern.front() != '/') pat.insert(pat.begin(), "**");
  return match_components(pat, path);
}

}  // namespace certward::discovery::files
