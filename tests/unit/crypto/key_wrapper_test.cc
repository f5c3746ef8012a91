#include <gtest/gtest.h>

#include "crypto/crypto.h"

namespace certward::crypto {
namespace {

constexpr std::size_t kOverhead = 3 + 12 + 16;  // "CW1" || nonce || ... || tag

KeyWrapper wrapper_with(std::uint8_t fill) {
  SecretBytes key(KeyWrapper::kKeySize);
  std::fill(key.data(), key.data() + key.size(), fill);
  return *KeyWrapper::create(std::move(key));
}

void expect_error(const Result<SecretBytes>& r, ErrorCode code) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, code) << r.error().message;
}

TEST(KeyWrapper, RejectsKeysOfTheWrongSize) {
  for (std::size_t n : {0u, 16u, 31u, 33u}) {
    auto w = KeyWrapper::create(SecretBytes(n));
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(KeyWrapper, SealsAndOpens) {
  const KeyWrapper w = wrapper_with(0x11);
  const std::string_view secret = "-----BEGIN PRIVATE KEY----- pretend";
  auto sealed = w.seal(as_bytes(secret), "authority:1");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), secret.size() + kOverhead);
  EXPECT_EQ(as_chars(std::span<const std::uint8_t>(*sealed).first(3)), "CW1");
  EXPECT_EQ(as_chars(*sealed).find(secret), std::string_view::npos);
  auto opened = w.open(*sealed, "authority:1");
  ASSERT_TRUE(opened);
  EXPECT_EQ(as_chars(opened->span()), secret);
  // A fresh nonce each time: the same plaintext never seals to the same bytes.
  EXPECT_NE(*w.seal(as_bytes(secret), "authority:1"), *sealed);
}

TEST(KeyWrapper, SealsEmptyPlaintext) {
  const KeyWrapper w = wrapper_with(0x22);
  auto sealed = w.seal({}, "x");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), kOverhead);
  auto opened = w.open(*sealed, "x");
  ASSERT_TRUE(opened);
  EXPECT_TRUE(opened->empty());
}

TEST(KeyWrapper, WrongKeyOrAadIsBadPassword) {
  const KeyWrapper w = wrapper_with(0x33);
  auto sealed = w.seal(as_bytes("secret"), "authority:1");
  ASSERT_TRUE(sealed);
  expect_error(wrapper_with(0x34).open(*sealed, "authority:1"), ErrorCode::kBadPassword);
  expect_error(w.open(*sealed, "authority:2"), ErrorCode::kBadPassword);
  expect_error(w.open(*sealed, ""), ErrorCode::kBadPassword);
}

TEST(KeyWrapper, AnyAlteredByteIsBadPassword) {
  const KeyWrapper w = wrapper_with(0x44);
  auto sealed = w.seal(as_bytes("secret material"), "aad");
  ASSERT_TRUE(sealed);
  for (std::size_t i = 3; i < sealed->size(); ++i) {  // nonce, ciphertext and tag
    Bytes tampered = *sealed;
    tampered[i] ^= 0x80;
    expect_error(w.open(tampered, "aad"), ErrorCode::kBadPassword);
  }
}

TEST(KeyWrapper, NonBlobsAreMalformed) {
  const KeyWrapper w = wrapper_with(0x55);
  auto sealed = w.seal(as_bytes("secret"), "aad");
  ASSERT_TRUE(sealed);
  Bytes bad_magic = *sealed;
  bad_magic[0] = 'X';
  expect_error(w.open(bad_magic, "aad"), ErrorCode::kMalformed);
  expect_error(w.open(std::span<const std::uint8_t>(*sealed).first(kOverhead - 1), "aad"),
               ErrorCode::kMalformed);
  expect_error(w.open({}, "aad"), ErrorCode::kMalformed);
}

}  // namespace
}  // namespace certward::crypto
