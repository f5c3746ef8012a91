// [[policy.rule]]: declarations handed on as the JSON a REST body would be (with where they
// are, for errors); the policy service parses them (tests/unit/policy).
#include <gtest/gtest.h>

#include "common/config.h"

namespace certward {
namespace {

TEST(PolicyConfig, NoRuleByDefault) {
  auto c = parse_config("", "t.toml");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->policy.rules.empty());
}

TEST(PolicyConfig, RulesAreHandedOnAsJson) {
  auto c = parse_config(R"toml(
[[policy.rule]]
id = "min-rsa-2048"
kind = "min_key_size"
min_bits = { rsa = 2048, ecdsa = 256 }

[[policy.rule]]
id = "payments-names"
kind = "required_san_pattern"
patterns = ["**.payments.example.com"]
teams = ["payments"]
)toml",
                        "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(c->policy.rules.size(), 2u);
  EXPECT_EQ(c->policy.rules[0].spec["min_bits"]["rsa"], 2048);
  EXPECT_EQ(c->policy.rules[1].spec["teams"][0], "payments");
  EXPECT_NE(c->policy.rules[1].where.find("t.toml:"), std::string::npos);
}

TEST(PolicyConfig, RefusesWhatIsNotARuleTable) {
  for (const char* text : {"[policy]\nrules = 1\n", "[policy]\nrule = 1\n",
                           "[policy]\nrule = [1]\n",
                           "[[policy.rule]]\nid = \"x\"\nwhen = 1979-05-27\n"}) {
    auto c = parse_config(text, "t.toml");
    ASSERT_FALSE(c.has_value()) << text;
    EXPECT_EQ(c.error().code, ErrorCode::kMalformed) << text;
  }
}

}  // namespace
}  // namespace certward
