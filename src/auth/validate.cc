#include "auth/validate.h"

#include <algorithm>

#include "common/encoding.h"
#include "x509/names.h"

namespace certward::auth::detail {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

Status check_name(std::string_view name, std::string_view what) {
  const bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return is_lower_alnum(c) || c == '.' || c == '_' || c == '-';
  });
  if (name.empty() || name.size() > 64 || !ok_chars || !is_lower_alnum(name.front())) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) +
                    " names are 1-64 characters of [a-z0-9._-] starting with a letter or digit");
  }
  return ok();
}

Result<std::string> normalise_domain(std::string_view domain) {
  std::string_view d = domain;
  if (!d.empty() && d.front() == '.') d.remove_prefix(1);
  // The one name parser, as for every requested name: a grant that no name could ever
  // match (an address, a bad A-label) is refused rather than silently useless.
  auto name = x509::parse_san("dns:" + std::string(d));
  if (!name || name->value.starts_with("*")) {
    return fail(ErrorCode::kInvalidArgument,
                "allowed domain '" + x509::escape_name_text(domain) +
                    "' is not a DNS name (host-name labels, IDNA A-labels, no wildcard)");
  }
  return name->value;
}

bool well_formed_token(std::string_view token) {
  if (token.size() != kTokenLength || !token.starts_with(kTokenPrefix)) return false;
  const std::string_view id = token.substr(kTokenPrefix.size(), kTokenIdLength);
  if (!std::all_of(id.begin(), id.end(), is_lower_hex)) return false;
  if (token[kTokenPrefix.size() + kTokenIdLength] != '_') return false;
  const std::string_view secret = token.substr(kTokenPrefix.size() + kTokenIdLength + 1);
  // Exactly 32 bytes, in the one canonical spelling (the unused low bits of the last digit zero).
  auto bytes = from_base64url(secret);
  return bytes && bytes->size() == 32;
}

}  // namespace certward::auth::detail
