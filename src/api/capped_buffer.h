#pragma once
// A stream buffer that keeps what is written up to a limit and refuses the rest: the stream
// then fails (its writers stop adding to it) and over() says the limit was reached. For
// responses built in memory from data of unbounded size.
//
// Thread-compatible.

#include <cstddef>
#include <streambuf>
#include <string>

namespace certward::api {

class CappedBuffer final : public std::streambuf {
 public:
  explicit CappedBuffer(std::size_t cap) : cap_(cap) {}
  bool over() const { return over_; }
  std::size_t size() const { return data_.size(); }
  std::string take() && { return std::move(data_); }

 protected:
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    const char c = traits_type::to_char_type(ch);
    return xsputn(&c, 1) == 1 ? ch : traits_type::eof();
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const auto size = static_cast<std::size_t>(n);
    if (over_ || data_.size() + size > cap_) {
      over_ = true;
      return 0;
    }
    data_.append(s, size);
    return n;
  }

 private:
  std::string data_;
  std::size_t cap_;
  bool over_ = false;
};

}  // namespace certward::api
