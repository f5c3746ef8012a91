#include "crypto/passphrase.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace certward::crypto {
namespace {

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(ScryptTest, MatchesRfc7914) {
  // RFC 7914 section 12, third vector: the first 32 bytes of its 64.
  auto key = derive_key_scrypt("pleaseletmein", bytes_of("SodiumChloride"), {16384, 8, 1});
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(to_hex(key->span()),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2");
}

TEST(ScryptTest, DifferentSaltsGiveDifferentKeys) {
  auto a = derive_key_scrypt("correct horse", bytes_of("salt-one"), {1024, 8, 1});
  auto b = derive_key_scrypt("correct horse", bytes_of("salt-two"), {1024, 8, 1});
  ASSERT_TRUE(a && b);
  EXPECT_NE(to_hex(a->span()), to_hex(b->span()));
}

// The parameters come from a backup file someone else may have written: a memory bomb or a
// degenerate cost is refused before any work.
TEST(ScryptTest, RefusesParametersOutOfRange) {
  const auto salt = bytes_of("salt");
  for (const ScryptParams& p : std::initializer_list<ScryptParams>{{0, 8, 1},
                                                                   {1, 8, 1},
                                                                   {1000, 8, 1},
                                                                   {std::uint64_t{1} << 40, 8, 1},
                                                                   {std::uint64_t{1} << 22, 1, 1},
                                                                   {std::uint64_t{1} << 17, 16, 1},
                                                                   {std::uint64_t{1} << 16, 64, 1},
                                                                   {1024, 0, 1},
                                                                   {1024, 8, 0},
                                                                   {1024, 8, 16}}) {
    auto key = derive_key_scrypt("pw", salt, p);
    ASSERT_FALSE(key) << p.n << " " << p.r << " " << p.p;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace certward::crypto
