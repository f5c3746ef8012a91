#include "common/error.h"

#include <cstdio>
#include <cstdlib>

namespace certward {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kBadSignature:
      return "bad_signature";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kPolicyRejected:
      return "policy_rejected";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kBadPassword:
      return "bad_password";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
  }
  return "unknown";
}

namespace detail {
void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "certward: invariant violated: %s at %s:%d\n", expr, file, line);
  std::abort();
}
}  // namespace detail

}  // namespace certward
