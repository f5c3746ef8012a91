#pragma once
// Key material in memory. Cleansed on destruction and on every reallocation path we control;
// move-only so no stray copies are left behind, and a moved-from SecretBytes is empty. Has no
// formatter on purpose: it cannot be logged by accident.

#include <openssl/crypto.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace certward::crypto {

// Overwrites and empties a std::string that held a secret: for secrets that arrive in a
// string (a request body, a JSON value, a file read through a stream) and cannot be born
// as SecretBytes. Whatever an API copied out of the string before is beyond its reach.
inline void cleanse(std::string& s) noexcept {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n) : data_(n) {}
  SecretBytes(std::span<const std::uint8_t> src) : data_(src.begin(), src.end()) {}
  // Adopts the buffer: nothing is copied, so nothing is left behind to cleanse.
  SecretBytes(std::vector<std::uint8_t>&& owned) noexcept : data_(std::move(owned)) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& o) noexcept : data_(std::move(o.data_)) { o.release(); }
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      wipe();
      data_ = std::move(o.data_);
      o.release();
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  // A copy of `text`, which is then cleansed (see cleanse()).
  static SecretBytes take(std::string& text) {
    SecretBytes out(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    cleanse(text);
    return out;
  }
  // A copy of a secret given as text (a passphrase from a flag or a test).
  static SecretBytes copy_of(std::string_view text) {
    return SecretBytes(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }

  std::uint8_t* data() { return data_.data(); }
  const std::uint8_t* data() const { return data_.data(); }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::span<const std::uint8_t> span() const { return data_; }
  // The bytes as text, for APIs that take a passphrase or a PEM as a string_view. The view
  // must not outlive this object, nor be copied into a std::string that would not be wiped.
  std::string_view chars() const {
    return {reinterpret_cast<const char*>(data_.data()), data_.size()};
  }
  // Shrinks without reallocating, cleansing the tail.
  void truncate(std::size_t n) {
    if (n < data_.size()) {
      OPENSSL_cleanse(data_.data() + n, data_.size() - n);
      data_.resize(n);
    }
  }

 private:
  void wipe() {
    if (!data_.empty()) OPENSSL_cleanse(data_.data(), data_.size());
  }
  // After a move the source's vector is normally empty already; should an implementation
  // have left bytes in it, they are cleansed rather than trusted to be gone.
  void release() {
    wipe();
    data_.clear();
  }
  std::vector<std::uint8_t> data_;
};

}  // namespace certward::crypto
