#include "auth/validate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/crypto.h"

namespace certward::auth::detail {
namespace {

std::string sample_token() {
  return "cwt_0123456789abcdef_" + to_base64url(crypto::random_bytes(32));
}

TEST(CheckName, AcceptsLowerCaseNamesWithDotsDashesUnderscores) {
  for (const char* name : {"a", "alice", "ci-deployer", "team.payments", "x_1", "9lives"}) {
    EXPECT_TRUE(check_name(name, "principal")) << name;
  }
  EXPECT_TRUE(check_name(std::string(64, 'a'), "team"));
}

TEST(CheckName, RejectsBadNames) {
  for (const std::string& name : std::vector<std::string>{
           "", "Alice", "-x", ".x", "_x", "a b", "a/b", "a\nb", "é", std::string(65, 'a')}) {
    auto r = check_name(name, "team");
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << name;
  }
}

TEST(NormaliseDomain, LowerCasesAndStripsLeadingDot) {
  EXPECT_EQ(normalise_domain("Example.COM").value(), "example.com");
  EXPECT_EQ(normalise_domain(".corp.example").value(), "corp.example");
  EXPECT_EQ(normalise_domain("a-b.c9.example").value(), "a-b.c9.example");
}

TEST(NormaliseDomain, RejectsWildcardsAndNonDnsNames) {
  for (const std::string& d : std::vector<std::string>{
           "", ".", "*.example.com", "a..b", "example.com.", "-a.example", "a-.example",
           "a_b.example", "a b", "a\nb", std::string(64, 'a'), "..example"}) {
    auto r = normalise_domain(d);
    ASSERT_FALSE(r) << d;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << d;
  }
}

TEST(Base64url, HasNoPaddingAndUrlAlphabet) {
  const Bytes data = {0xfb, 0xff, 0xfe};
  EXPECT_EQ(to_base64url(data), "-__-");
  EXPECT_EQ(to_base64url(Bytes{0xff}), "_w");
  EXPECT_EQ(to_base64url(crypto::random_bytes(32)).size(), kTokenSecretLength);
}

TEST(WellFormedToken, AcceptsGeneratedShape) {
  for (int i = 0; i < 50; ++i) {
    const std::string t = sample_token();
    EXPECT_EQ(t.size(), kTokenLength);
    EXPECT_TRUE(well_formed_token(t)) << t;
  }
}

TEST(WellFormedToken, RejectsWrongPrefixLengthAndCharset) {
  const std::string good = sample_token();
  ASSERT_TRUE(well_formed_token(good));
  EXPECT_FALSE(well_formed_token(""));
  EXPECT_FALSE(well_formed_token("cwx" + good.substr(3)));
  EXPECT_FALSE(well_formed_token("CWT" + good.substr(3)));
  EXPECT_FALSE(well_formed_token(good.substr(0, good.size() - 1)));
  EXPECT_FALSE(well_formed_token(good + "A"));
  EXPECT_FALSE(well_formed_token(" " + good.substr(1)));
  std::string upper_id = good;
  upper_id[4] = 'A';  // the id is lower-case hex
  EXPECT_FALSE(well_formed_token(upper_id));
  std::string non_hex = good;
  non_hex[5] = 'g';
  EXPECT_FALSE(well_formed_token(non_hex));
  std::string no_sep = good;
  no_sep[20] = 'a';
  EXPECT_FALSE(well_formed_token(no_sep));
  std::string padded = good;
  padded.back() = '=';
  EXPECT_FALSE(well_formed_token(padded));
  std::string std_alphabet = good;
  std_alphabet[30] = '+';
  EXPECT_FALSE(well_formed_token(std_alphabet));
  std::string nul = good;
  nul[40] = '\0';
  EXPECT_FALSE(well_formed_token(nul));
}

TEST(WellFormedToken, RejectsNonCanonicalLastDigit) {
  std::string t = sample_token();
  t.back() = 'B';  // value 1: stray low bits
  EXPECT_FALSE(well_formed_token(t));
  t.back() = 'E';  // value 4
  EXPECT_TRUE(well_formed_token(t));
}

}  // namespace
}  // namespace certward::auth::detail
