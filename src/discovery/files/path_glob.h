#pragma once
// The include/exclude rule of the file scanner, written down once so that the options'
// documentation, the scanner and the tests agree on it. Pure functions, thread-safe.
//
// The rule:
//   - A pattern without '/' is matched against the file's (or directory's) name alone:
//     "*.pem" matches /etc/ssl/a.pem at any depth.
//   - A pattern with '/' is matched against the absolute path, one path component per pattern
//     component, with fnmatch(3) (no flags) inside a component: '*' and '?' never cross '/'.
//     A component "**" matches any number of components, none included.
//   - A pattern with '/' that does not start with '/' may begin at any depth, as if it began
//     with "/**/": "ssl/*.key" matches /etc/ssl/a.key and /opt/x/ssl/b.key.
//   - Dots are not special: "*" matches ".hidden".
//   - Empty components (doubled or trailing slashes) are ignored on both sides.

#include <string_view>

namespace certward::discovery::files {

bool path_glob_match(std::string_view pattern, std::string_view absolute_path);

}  // namespace certward::discovery::files
