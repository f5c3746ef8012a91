#pragma once
// The SSH wire encoding (RFC 4251 section 5) that OpenSSH keys, certificates and KRLs are made
// of: big-endian integers, length-prefixed strings and mpints. Reading is strict: every read is
// bounds-checked, and a reader that is not at its end when the caller is done is an error.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/error.h"

namespace certward::ssh {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void string(std::span<const std::uint8_t> s);
  void string(std::string_view s) { string(as_bytes(s)); }
  // A non-negative integer from its big-endian magnitude (leading zeros dropped, a zero byte
  // put in front when the top bit is set).
  void mpint(std::span<const std::uint8_t> magnitude);
  void raw(std::span<const std::uint8_t> s) { out_.insert(out_.end(), s.begin(), s.end()); }
  const Bytes& bytes() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  // Errors: kMalformed (truncated).
  Result<std::uint32_t> u32();
  Result<std::uint64_t> u64();
  Result<std::span<const std::uint8_t>> string();
  Result<std::string> text();  // a string that must be printable UTF-8 without controls
  bool done() const { return pos_ == in_.size(); }
  Status expect_done(std::string_view what) const;

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

}  // namespace certward::ssh
