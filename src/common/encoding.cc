#include "common/encoding.h"

#include <array>

namespace certward {
namespace {
constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string to_hex(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (auto b : data) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::string to_hex_colon(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve(data.size() * 3);
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (i) out.push_back(':');
    out.push_back(kHexUpper[data[i] >> 4]);
    out.push_back(kHexUpper[data[i] & 0xf]);
  }
  return out;
}

Result<Bytes> from_hex(std::string_view hex) {
  Bytes out;
  int hi = -1;
  for (char c : hex) {
    if (c == ':') continue;
    const int v = hex_value(c);
    if (v < 0) return fail(ErrorCode::kMalformed, "invalid hex digit");
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) return fail(ErrorCode::kMalformed, "odd number of hex digits");
  return out;
}

std::string to_base64(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const std::uint32_t v = data[i] << 16 | data[i + 1] << 8 | data[i + 2];
    out.push_back(kB64[v >> 18 & 63]);
    out.push_back(kB64[v >> 12 & 63]);
    out.push_back(kB64[v >> 6 & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (i < data.size()) {
    std::uint32_t v = data[i] << 16;
    if (i + 1 < data.size()) v |= data[i + 1] << 8;
    out.push_back(kB64[v >> 18 & 63]);
    out.push_back(kB64[v >> 12 & 63]);
    out.push_back(i + 1 < data.size() ? kB64[v >> 6 & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<Bytes> from_base64(std::string_view text) {
  std::array<int, 256> table{};
  table.fill(-1);
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kB64[i])] = i;
  Bytes out;
  std::uint32_t acc = 0;
  int bits = 0, pad = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = table[static_cast<unsigned char>(c)];
    if (v < 0 || pad) return fail(ErrorCode::kMalformed, "invalid base64");
    acc = acc << 6 | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits & 0xff));
    }
  }
  if (pad > 2) return fail(ErrorCode::kMalformed, "invalid base64 padding");
  if (bits >= 6) return fail(ErrorCode::kMalformed, "truncated base64");
  return out;
}

std::string to_base64url(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (auto b : data) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64Url[acc >> bits & 63]);
    }
  }
  if (bits > 0) out.push_back(kB64Url[acc << (6 - bits) & 63]);
  return out;
}

Result<Bytes> from_base64url(std::string_view text) {
  // One leftover digit carries only 6 bits: no byte string encodes to that length.
  if (text.size() % 4 == 1) return fail(ErrorCode::kMalformed, "truncated base64url");
  Bytes out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64url_value(c);
    if (v < 0) return fail(ErrorCode::kMalformed, "invalid base64url character");
    acc = (acc << 6 | static_cast<std::uint32_t>(v)) & 0xfff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits & 0xff));
    }
  }
  // The leftover bits (2 or 4) pad the last byte; another encoder could set them, which would
  // give one value two encodings.
  if ((acc & ((1u << bits) - 1)) != 0) {
    return fail(ErrorCode::kMalformed, "non-canonical base64url (trailing bits set)");
  }
  return out;
}

std::string terminal_text(std::string_view text) {
  // C1 controls as UTF-8 (U+0080-U+009F): CSI and OSC to terminals that take 8-bit ones.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool c1 = c == 0xc2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    // Bidi controls and line separators as UTF-8 (U+061C, U+200E-F, U+2028-E, U+2066-9):
    // they reorder or break what follows on screen, so that a name can show as another.
    std::size_t bidi = 0;
    if (c == 0xd8 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x9c) {
      bidi = 2;
    } else if (c == 0xe2 && i + 2 < text.size()) {
      const auto b1 = static_cast<unsigned char>(text[i + 1]);
      const auto b2 = static_cast<unsigned char>(text[i + 2]);
      if ((b1 == 0x80 && (b2 == 0x8e || b2 == 0x8f || (b2 >= 0xa8 && b2 <= 0xae))) ||
          (b1 == 0x81 && b2 >= 0xa6 && b2 <= 0xa9)) {
        bidi = 3;
      }
    }
    if (bidi != 0) {
      const unsigned cp = bidi == 2 ? 0x061cu
                                    : ((c & 0x0fu) << 12) |
                                          ((static_cast<unsigned char>(text[i + 1]) & 0x3fu) << 6) |
                                          (static_cast<unsigned char>(text[i + 2]) & 0x3fu);
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xf];
      i += bidi - 1;
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else if (c1) {
      const auto d = static_cast<unsigned char>(text[++i]);
      out += "\\u00";
      out += kHex[d >> 4];
      out += kHex[d & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace certward
