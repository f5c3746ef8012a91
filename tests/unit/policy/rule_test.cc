#include "policy/rule.h"

#include <gtest/gtest.h>

namespace certward::policy {
namespace {

using nlohmann::json;

Result<Rule> parse(std::string_view text) { return parse_rule_text(text, Source::kApi); }

void expect_invalid(std::string_view text) {
  auto r = parse(text);
  ASSERT_FALSE(r.has_value()) << text;
  EXPECT_TRUE(r.error().code == ErrorCode::kInvalidArgument ||
              r.error().code == ErrorCode::kMalformed)
      << text;
}

TEST(ParseRule, ReadsEveryKindAndRoundTrips) {
  const std::vector<std::string> rules = {
      R"({"id":"min-rsa-2048","kind":"min_key_size","min_bits":{"rsa":2048,"ecdsa":256}})",
      R"({"id":"algs","kind":"allowed_algorithms","algorithms":["rsa","ecdsa"],"curves":["P-256"]})",
      R"({"id":"max-398","kind":"max_validity","max_days":398,"severity":"medium"})",
      R"({"id":"issuers","kind":"allowed_issuers","issuers":["CN=Root,O=X","authority:issuing"]})",
      R"({"id":"no-wild","kind":"wildcards","allowed":false,"teams":["web"]})",
      R"({"id":"san","kind":"required_san_pattern","patterns":["**.example.com"],"match":"any"})",
      R"({"id":"owner","kind":"required_owner","tags":["Prod"]})",
      R"({"id":"eku","kind":"forbidden_eku_combination","ekus":["serverAuth","clientAuth"]})",
      R"({"id":"sha1","kind":"sha1_in_chain","enabled":false,"description":"no SHA-1"})",
  };
  for (const auto& text : rules) {
    auto r = parse(text);
    ASSERT_TRUE(r.has_value()) << text << ": " << r.error().message;
    auto again = parse_rule(rule_json(*r), Source::kApi);
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_EQ(rule_json(*again), rule_json(*r));
  }
  auto owner = parse(rules[6]);
  EXPECT_EQ(owner->tags, std::vector<std::string>{"prod"});
  EXPECT_EQ(owner->severity, Severity::kHigh);
  EXPECT_TRUE(owner->enabled);
}

TEST(ParseRule, RefusesHostileInput) {
  expect_invalid("not json");
  expect_invalid("[]");
  expect_invalid(R"({"kind":"required_owner"})");                        // no id
  expect_invalid(R"({"id":"Upper","kind":"required_owner"})");           // id syntax
  expect_invalid(R"({"id":"x","kind":"no_such_kind"})");                 // unknown kind
  expect_invalid(R"({"id":"x","kind":"required_owner","min_bits":{}})");  // another kind's member
  expect_invalid(R"({"id":"x","kind":"required_owner","surprise":1})");
  expect_invalid(R"({"id":"x","kind":"min_key_size","min_bits":{"rsa":99999999999999999999}})");
  expect_invalid(R"({"id":"x","kind":"min_key_size","min_bits":{"rsa":-1}})");
  expect_invalid(R"({"id":"x","kind":"min_key_size","min_bits":{"rsa":2048.5}})");
  expect_invalid(R"({"id":"x","kind":"min_key_size","min_bits":{"rot13":2048}})");
  expect_invalid(R"({"id":"x","kind":"min_key_size"})");
  expect_invalid(R"({"id":"x","kind":"max_validity","max_days":0})");
  expect_invalid(R"({"id":"x","kind":"max_validity","max_days":"398"})");
  expect_invalid(R"({"id":"x","kind":"allowed_algorithms","algorithms":[]})");
  expect_invalid(R"({"id":"x","kind":"allowed_algorithms","algorithms":["rsa"],"curves":["brainpool"]})");
  expect_invalid(R"({"id":"x","kind":"required_san_pattern","patterns":["(a+)+$"]})");
  expect_invalid(R"({"id":"x","kind":"required_san_pattern","patterns":["a.**.com"]})");
  expect_invalid(R"({"id":"x","kind":"required_san_pattern","patterns":["a..com"]})");
  expect_invalid(R"({"id":"x","kind":"required_san_pattern","patterns":["a*b*.com"]})");
  expect_invalid(R"({"id":"x","kind":"required_san_pattern","patterns":["**"]})");
  expect_invalid(R"({"id":"x","kind":"required_san_pattern","patterns":["a.com"],"match":"some"})");
  expect_invalid(R"({"id":"x","kind":"forbidden_eku_combination","ekus":["serverAuth"]})");
  // A misspelt usage would never match; the same usage twice (by name and OID) is one.
  expect_invalid(
      R"({"id":"x","kind":"forbidden_eku_combination","ekus":["serverAuth","clientAuht"]})");
  expect_invalid(
      R"({"id":"x","kind":"forbidden_eku_combination","ekus":["serverAuth","1.3.6.1.5.5.7.3.1"]})");
  expect_invalid(R"({"id":"x","kind":"wildcards","allowed":"no"})");
  expect_invalid(R"({"id":"x","kind":"required_owner","severity":"apocalyptic"})");
  expect_invalid(R"({"id":"x","kind":"required_owner","teams":"web"})");
  expect_invalid(R"({"id":"x","kind":"required_owner","tags":["no spaces"]})");
  expect_invalid(R"({"id":"x","kind":"required_owner","description":"line\nbreak"})");
  std::string huge = R"({"id":"x","kind":"required_owner","description":")" +
                     std::string(70000, 'a') + "\"}";
  expect_invalid(huge);
  json many = {{"id", "x"}, {"kind", "allowed_issuers"}, {"issuers", json::array()}};
  for (int i = 0; i < 65; ++i) many["issuers"].push_back("CN=" + std::to_string(i));
  EXPECT_FALSE(parse_rule(many, Source::kApi).has_value());
}

TEST(NamePattern, MatchesLabelByLabel) {
  auto p = NamePattern::compile("*.Example.com");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->matches("www.example.com"));
  EXPECT_TRUE(p->matches("WWW.EXAMPLE.COM."));
  EXPECT_FALSE(p->matches("example.com"));
  EXPECT_FALSE(p->matches("a.b.example.com"));
  EXPECT_FALSE(p->matches("www.example.org"));
  auto deep = NamePattern::compile("**.example.com");
  EXPECT_TRUE(deep->matches("a.b.example.com"));
  EXPECT_FALSE(deep->matches("example.com"));
  auto web = NamePattern::compile("web-*.example.com");
  EXPECT_TRUE(web->matches("web-01.example.com"));
  EXPECT_TRUE(web->matches("web-.example.com"));
  EXPECT_FALSE(web->matches("db-01.example.com"));
  auto exact = NamePattern::compile("example.com");
  EXPECT_TRUE(exact->matches("example.com"));
  EXPECT_FALSE(exact->matches("www.example.com"));
}

}  // namespace
}  // namespace certward::policy
