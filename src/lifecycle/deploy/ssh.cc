// The SSH target.

#include "lifecycle/deploy/internal.h"

namespace certward::lifecycle::deploy::detail {

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

void deploy_ssh(const TargetSpec&, const Material&, const Policy&, Outcome& out) {
  out.error = Error{ErrorCode::kUnavailable, "ssh targets are not implemented yet"};
}

}  // namespace certward::lifecycle::deploy::detail
