#include "ssh/wire.h"

namespace certward::ssh {

void Writer::u32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
}

void Writer::u64(std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
}

void Writer::string(std::span<const std::uint8_t> s) {
  u32(static_cast<std::uint32_t>(s.size()));
  raw(s);
}

void Writer::mpint(std::span<const std::uint8_t> magnitude) {
  std::size_t skip = 0;
  while (skip < magnitude.size() && magnitude[skip] == 0) ++skip;
  magnitude = magnitude.subspan(skip);
  const bool pad = !magnitude.empty() && (magnitude[0] & 0x80) != 0;
  u32(static_cast<std::uint32_t>(magnitude.size() + (pad ? 1 : 0)));
  if (pad) u8(0);
  raw(magnitude);
}

Result<std::uint32_t> Reader::u32() {
  if (in_.size() - pos_ < 4) return fail(ErrorCode::kMalformed, "truncated SSH data");
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | in_[pos_++];
  return v;
}

Result<std::uint64_t> Reader::u64() {
  if (in_.size() - pos_ < 8) return fail(ErrorCode::kMalformed, "truncated SSH data");
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in_[pos_++];
  return v;
}

Result<std::span<const std::uint8_t>> Reader::string() {
  CW_ASSIGN_OR_RETURN(std::uint32_t n, u32());
  if (in_.size() - pos_ < n) return fail(ErrorCode::kMalformed, "truncated SSH string");
  auto s = in_.subspan(pos_, n);
  pos_ += n;
  return s;
}

Result<std::string> Reader::text() {
  CW_ASSIGN_OR_RETURN(auto s, string());
  for (std::uint8_t c : s) {
    if (c < 0x20 || c == 0x7f) return fail(ErrorCode::kMalformed, "control character in SSH text");
  }
  return std::string(as_chars(s));
}

Status Reader::expect_done(std::string_view what) const {
  if (!done()) return fail(ErrorCode::kMalformed, "trailing data after " + std::string(what));
  return ok();
}

}  // namespace certward::ssh
