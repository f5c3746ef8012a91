#pragma once
// Byte-string encodings used across modules. Pure functions, thread-safe.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace certward {

using Bytes = std::vector<std::uint8_t>;

std::string to_hex(std::span<const std::uint8_t> data);        // lower-case
std::string to_hex_colon(std::span<const std::uint8_t> data);  // "AB:CD:..." upper-case
Result<Bytes> from_hex(std::string_view hex);                  // accepts ':' separators
std::string to_base64(std::span<const std::uint8_t> data);     // standard, padded
Result<Bytes> from_base64(std::string_view text);              // ignores whitespace
// base64url (RFC 4648 section 5) without padding, as JOSE and ACME use it (RFC 7515 section 2).
std::string to_base64url(std::span<const std::uint8_t> data);
// Strict: only the URL alphabet, no padding, no whitespace, and the unused low bits of the last
// digit must be zero, so every byte string has exactly one accepted encoding. kMalformed
// otherwise.
Result<Bytes> from_base64url(std::string_view text);
inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// `text` safe to put on a terminal: control characters (C0, DEL, C1 as UTF-8) become \xNN or
// \u00NN, and bidi controls and line separators \uNNNN, so that no line is added, terminal
// state changed or text shown reordered.
std::string terminal_text(std::string_view text);

}  // namespace certward
