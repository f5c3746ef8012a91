#include "crypto/secret_bytes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace certward::crypto {
namespace {

bool all_zero(const char* p, std::size_t n) {
  return std::all_of(p, p + n, [](char c) { return c == 0; });
}

TEST(SecretBytes, MovedFromIsEmpty) {
  SecretBytes a = SecretBytes::copy_of("correct horse");
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the documented state
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.chars(), "correct horse");

  SecretBytes c = SecretBytes::copy_of("battery staple");
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.chars(), "correct horse");

  // Self-move keeps the value. Through a reference, because clang rejects the literal
  // `c = std::move(c)` (-Wself-move) while a self-move by alias is what real code can do.
  SecretBytes& alias = c;
  c = std::move(alias);
  EXPECT_EQ(c.chars(), "correct horse");
}

TEST(SecretBytes, AdoptsAVectorWithoutCopying) {
  std::vector<std::uint8_t> raw(64, 0x5a);
  const std::uint8_t* buffer = raw.data();
  SecretBytes s(std::move(raw));
  EXPECT_EQ(s.data(), buffer);
  EXPECT_EQ(s.size(), 64u);
  EXPECT_TRUE(raw.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytes, TakeCopiesAndCleansesTheString) {
  std::string pem(300, 'k');  // on the heap
  const char* buffer = pem.data();
  const std::size_t n = pem.size();
  SecretBytes s = SecretBytes::take(pem);
  EXPECT_EQ(s.chars(), std::string(300, 'k'));
  EXPECT_TRUE(pem.empty());
  ASSERT_GE(pem.capacity(), n);  // clear() keeps the buffer, so it can be looked at
  EXPECT_TRUE(all_zero(buffer, n));
}

TEST(Cleanse, WipesShortStringsInPlace) {
  std::string pw = "hunter2";  // in the small-string buffer
  const char* buffer = pw.data();
  cleanse(pw);
  EXPECT_TRUE(pw.empty());
  EXPECT_TRUE(all_zero(buffer, 7));
  std::string empty;
  cleanse(empty);
  EXPECT_TRUE(empty.empty());
}

TEST(SecretBytes, TruncateCleansesTheTail) {
  SecretBytes s = SecretBytes::copy_of("abcdef\n\n");
  const char* buffer = reinterpret_cast<const char*>(s.data());
  s.truncate(6);
  EXPECT_EQ(s.chars(), "abcdef");
  EXPECT_EQ(s.data(), reinterpret_cast<const std::uint8_t*>(buffer)) << "no reallocation";
  EXPECT_TRUE(all_zero(buffer + 6, 2));
  s.truncate(10);  // never grows
  EXPECT_EQ(s.size(), 6u);
}

}  // namespace
}  // namespace certward::crypto
