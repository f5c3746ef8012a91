#pragma once
// Private to the auth module: name rules and the token format. Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace certward::auth::detail {

// Team and principal names: 1-64 of [a-z0-9._-], starting with a letter or digit.
// Errors: kInvalidArgument naming `what`.
Status check_name(std::string_view name, std::string_view what);

// A team's allowed DNS suffix: lower-cased, one leading '.' stripped; then 1-253 chars of
// dot-separated labels (1-63 of [a-z0-9-], not starting or ending with '-'). Wildcards are
// refused: a suffix already covers every name below it. Errors: kInvalidArgument.
Result<std::string> normalise_domain(std::string_view domain);

// Tokens are "cwt_" + 16 lower-case hex digits (the public id) + "_" + 43 base64url digits
// without padding (32 random bytes, canonical: the last digit carries no stray bits).
inline constexpr std::string_view kTokenPrefix = "cwt_";
inline constexpr std::size_t kTokenIdLength = 16;
inline constexpr std::size_t kTokenSecretLength = 43;
inline constexpr std::size_t kTokenLength = 4 + kTokenIdLength + 1 + kTokenSecretLength;

// True if `token` has exactly the shape above. Looks at nothing but the characters.
bool well_formed_token(std::string_view token);

}  // namespace certward::auth::detail
