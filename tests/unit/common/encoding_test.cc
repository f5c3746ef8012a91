#include "common/encoding.h"

#include <gtest/gtest.h>

#include <random>

namespace certward {
namespace {

Bytes pseudo_random(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(gen());
  return out;
}

TEST(Hex, EncodesLowerAndColonUpper) {
  const Bytes b = {0x00, 0xab, 0x7f, 0xff};
  EXPECT_EQ(to_hex(b), "00ab7fff");
  EXPECT_EQ(to_hex_colon(b), "00:AB:7F:FF");
  EXPECT_EQ(to_hex(Bytes{}), "");
  EXPECT_EQ(to_hex_colon(Bytes{}), "");
  EXPECT_EQ(to_hex_colon(Bytes{0x0a}), "0A");
}

TEST(Hex, DecodesEitherCaseAndColons) {
  EXPECT_EQ(from_hex("00ab7fff"), (Bytes{0x00, 0xab, 0x7f, 0xff}));
  EXPECT_EQ(from_hex("00AB7FFF"), (Bytes{0x00, 0xab, 0x7f, 0xff}));
  EXPECT_EQ(from_hex("00:AB:7f:FF"), (Bytes{0x00, 0xab, 0x7f, 0xff}));
  EXPECT_EQ(from_hex(""), Bytes{});
}

TEST(Hex, RoundTripsEveryLength) {
  for (std::size_t n = 0; n < 70; ++n) {
    const Bytes data = pseudo_random(n, static_cast<unsigned>(n));
    EXPECT_EQ(from_hex(to_hex(data)), data) << n;
    EXPECT_EQ(from_hex(to_hex_colon(data)), data) << n;
  }
}

TEST(Hex, RejectsBadDigitsAndOddLength) {
  for (const char* s : {"0", "abc", "0g", "zz", "00 11", "0x00", "-1", "12:3"}) {
    auto r = from_hex(s);
    ASSERT_FALSE(r.has_value()) << s;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << s;
  }
}

TEST(Base64, KnownVectors) {
  // RFC 4648 section 10.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(to_base64(as_bytes(plain)), encoded);
    auto decoded = from_base64(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(as_chars(*decoded), plain);
  }
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  for (std::size_t n = 0; n < 100; ++n) {
    const Bytes data = pseudo_random(n, static_cast<unsigned>(n) + 1000);
    EXPECT_EQ(from_base64(to_base64(data)), data) << n;
  }
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(from_base64(to_base64(all)), all);
}

TEST(Base64, IgnoresWhitespace) {
  EXPECT_EQ(from_base64(" Zm9v\nYmFy\r\n\t"), (Bytes{'f', 'o', 'o', 'b', 'a', 'r'}));
}

TEST(Base64, RejectsBadInput) {
  for (const char* s : {"Zm9v!", "Zm-v", "Zm_v", "Zg==Zg==", "Zg=a", "Zg===", "Zm9vY", "Z"}) {
    auto r = from_base64(s);
    ASSERT_FALSE(r.has_value()) << s;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << s;
  }
}

TEST(Base64url, KnownVectors) {
  // RFC 4648 section 10 vectors, without padding, and the two digits that differ from base64.
  EXPECT_EQ(to_base64url(as_bytes("")), "");
  EXPECT_EQ(to_base64url(as_bytes("f")), "Zg");
  EXPECT_EQ(to_base64url(as_bytes("fo")), "Zm8");
  EXPECT_EQ(to_base64url(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(to_base64url(as_bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(to_base64url(Bytes{0xfb, 0xff, 0xbf}), "-_-_");
  EXPECT_EQ(from_base64url("-_-_"), (Bytes{0xfb, 0xff, 0xbf}));
  EXPECT_EQ(from_base64url("Zm8"), (Bytes{'f', 'o'}));
  EXPECT_EQ(from_base64url(""), Bytes{});
}

TEST(Base64url, RoundTripsEveryLength) {
  for (std::size_t n = 0; n < 70; ++n) {
    const Bytes data = pseudo_random(n, static_cast<unsigned>(n) + 2000);
    EXPECT_EQ(from_base64url(to_base64url(data)), data) << n;
  }
}

TEST(Base64url, RejectsPaddingOtherAlphabetsAndNonCanonicalEncodings) {
  // "Zh" and "Zm9" + "w" end in digits whose unused low bits are set: "Zg" and "Zm8" are the
  // only encodings of those bytes.
  for (const char* s :
       {"Zg==", "Zg=", "Zm+v", "Zm/v", "Zm9v Zg", "Zm9v\n", "Z", "Zm9vY", "Zh", "Zm9", "Zm8="}) {
    auto r = from_base64url(s);
    ASSERT_FALSE(r.has_value()) << s;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << s;
  }
}

TEST(AsBytes, ViewsTheSameMemory) {
  const std::string s = "abc";
  auto b = as_bytes(s);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0], 'a');
  EXPECT_EQ(as_chars(b), "abc");
}

}  // namespace
}  // namespace certward
