#pragma once
// Key material in memory. Cleansed on destruction and on every reallocation path we control;
// move-only so no stray copies are left behind. Has no formatter on purpose: it cannot be
// logged by accident.

#include <openssl/crypto.h>

#include <cstdint>
#include <span>
#include <vector>

namespace certward::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n) : data_(n) {}
  SecretBytes(std::span<const std::uint8_t> src) : data_(src.begin(), src.end()) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& o) noexcept : data_(std::move(o.data_)) {}
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      wipe();
      data_ = std::move(o.data_);
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  std::uint8_t* data() { return data_.data(); }
  const std::uint8_t* data() const { return data_.data(); }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::span<const std::uint8_t> span() const { return data_; }
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
  std::vector<std::uint8_t> data_;
};

}  // namespace certward::crypto
