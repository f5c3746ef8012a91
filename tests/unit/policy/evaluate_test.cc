#include "policy/evaluate.h"

#include <gtest/gtest.h>

namespace certward::policy {
namespace {

using std::chrono::days;

Rule rule(std::string_view json_text) {
  auto r = parse_rule_text(json_text, Source::kApi);
  CW_CHECK(r.has_value());
  return *r;
}

inventory::CertificateRecord record() {
  inventory::CertificateRecord c;
  c.fingerprint = std::string(64, 'a');
  c.subject = "CN=www.example.com";
  c.common_name = "www.example.com";
  c.issuer = "CN=Issuing CA,O=Example";
  c.sans = {{x509::SanType::kDns, "www.example.com"}};
  c.not_before = from_unix(1'700'000'000);
  c.not_after = c.not_before + days(90);
  c.key_algorithm = "ecdsa";
  c.key_bits = 256;
  c.key_curve = "P-256";
  c.signature_algorithm = "ecdsa-with-SHA256";
  c.extended_key_usage = {"serverAuth"};
  c.meta.owner = "alice";
  c.meta.team = "web";
  return c;
}

// The ids of the rules `c` breaks.
std::vector<std::string> broken(const RuleSet& rules, const inventory::CertificateRecord& c,
                                const ChainFacts& chain = {}) {
  std::vector<Finding> out;
  evaluate(rules, c, chain, out);
  std::vector<std::string> ids;
  for (const auto& f : out) {
    ids.push_back(f.rule->id);
    EXPECT_FALSE(describe(f).empty());
  }
  return ids;
}

using Ids = std::vector<std::string>;

TEST(Evaluate, MinKeySizePerAlgorithm) {
  const RuleSet rules({rule(R"({"id":"min","kind":"min_key_size","min_bits":{"rsa":2048,"ecdsa":256}})")});
  auto c = record();
  EXPECT_EQ(broken(rules, c), Ids{});
  c.key_algorithm = "rsa";
  c.key_bits = 1024;
  c.key_curve.clear();
  EXPECT_EQ(broken(rules, c), Ids{"min"});
  std::vector<Finding> out;
  evaluate(rules, c, {}, out);
  EXPECT_EQ(describe(out.at(0)), "rsa key of 1024 bits < 2048");
  c.key_bits = 2048;
  EXPECT_EQ(broken(rules, c), Ids{});
}

TEST(Evaluate, AnRsaMinimumBindsRsaPssKeys) {
  const RuleSet rules({rule(R"({"id":"min","kind":"min_key_size","min_bits":{"rsa":3072}})")});
  auto c = record();
  c.key_algorithm = "rsa-pss";
  c.key_bits = 2048;
  c.key_curve.clear();
  EXPECT_EQ(broken(rules, c), Ids{"min"});
  c.key_bits = 3072;
  EXPECT_EQ(broken(rules, c), Ids{});
  // A minimum of RSA-PSS's own replaces the RSA one for it.
  const RuleSet own(
      {rule(R"({"id":"min","kind":"min_key_size","min_bits":{"rsa":3072,"rsa-pss":2048}})")});
  c.key_bits = 2048;
  EXPECT_EQ(broken(own, c), Ids{});
  c.key_algorithm = "rsa";
  EXPECT_EQ(broken(own, c), Ids{"min"});
}

TEST(Evaluate, AllowedAlgorithmsAndCurves) {
  const RuleSet rules({rule(R"({"id":"algs","kind":"allowed_algorithms","algorithms":["ecdsa","ed25519"],"curves":["P-256"]})")});
  auto c = record();
  EXPECT_EQ(broken(rules, c), Ids{});
  c.key_curve = "P-384";
  EXPECT_EQ(broken(rules, c), Ids{"algs"});
  c.key_algorithm = "rsa";
  EXPECT_EQ(broken(rules, c), Ids{"algs"});
  c.key_algorithm = "ed25519";
  EXPECT_EQ(broken(rules, c), Ids{});
}

TEST(Evaluate, MaxValidity) {
  const RuleSet rules({rule(R"({"id":"max","kind":"max_validity","max_days":398})")});
  auto c = record();
  EXPECT_EQ(broken(rules, c), Ids{});
  c.not_after = c.not_before + days(825);
  EXPECT_EQ(broken(rules, c), Ids{"max"});
}

TEST(Evaluate, AllowedIssuersByDnOrAuthority) {
  const RuleSet rules({rule(R"({"id":"iss","kind":"allowed_issuers","issuers":["cn=issuing ca,o=example","authority:issuing"]})")});
  auto c = record();
  EXPECT_EQ(broken(rules, c), Ids{});
  c.issuer = "CN=Somebody Else";
  EXPECT_EQ(broken(rules, c), Ids{"iss"});
  c.meta.authority = "issuing";
  EXPECT_EQ(broken(rules, c), Ids{});
}

TEST(Evaluate, Wildcards) {
  const RuleSet rules({rule(R"({"id":"wild","kind":"wildcards","allowed":false})")});
  auto c = record();
  EXPECT_EQ(broken(rules, c), Ids{});
  c.sans.push_back({x509::SanType::kDns, "*.example.com"});
  EXPECT_EQ(broken(rules, c), Ids{"wild"});
  // A partial-label wildcard, which some clients honour, is one too; so is a bare "*" CN.
  c.sans = {{x509::SanType::kDns, "w*.example.com"}};
  EXPECT_EQ(broken(rules, c), Ids{"wild"});
  c = record();
  c.common_name = "*";
  EXPECT_EQ(broken(rules, c), Ids{"wild"});
  c = record();
  c.sans.push_back({x509::SanType::kDns, "*.example.com"});
  const RuleSet allowed({rule(R"({"id":"wild","kind":"wildcards","allowed":true})")});
  EXPECT_EQ(broken(allowed, c), Ids{});
}

TEST(Evaluate, RequiredSanPatternAllAndAny) {
  const RuleSet all({rule(R"({"id":"san","kind":"required_san_pattern","patterns":["*.example.com"]})")});
  const RuleSet any({rule(R"({"id":"san","kind":"required_san_pattern","patterns":["*.example.com"],"match":"any"})")});
  auto c = record();
  EXPECT_EQ(broken(all, c), Ids{});
  c.sans.push_back({x509::SanType::kDns, "www.example.org"});
  EXPECT_EQ(broken(all, c), Ids{"san"});
  EXPECT_EQ(broken(any, c), Ids{});
  c.sans = {{x509::SanType::kDns, "www.example.org"}};
  EXPECT_EQ(broken(any, c), Ids{"san"});
  c.sans.clear();  // no DNS name at all cannot meet a required pattern
  EXPECT_EQ(broken(all, c), Ids{"san"});
}

TEST(Evaluate, RequiredOwner) {
  const RuleSet rules({rule(R"({"id":"owner","kind":"required_owner"})")});
  auto c = record();
  EXPECT_EQ(broken(rules, c), Ids{});
  c.meta.owner.reset();
  EXPECT_EQ(broken(rules, c), Ids{"owner"});
  c.meta.owner = "";
  EXPECT_EQ(broken(rules, c), Ids{"owner"});
}

TEST(Evaluate, ForbiddenEkuCombination) {
  const RuleSet rules({rule(R"({"id":"eku","kind":"forbidden_eku_combination","ekus":["serverAuth","clientAuth"]})")});
  auto c = record();
  EXPECT_EQ(broken(rules, c), Ids{});
  c.extended_key_usage = {"clientAuth", "serverAuth"};
  EXPECT_EQ(broken(rules, c), Ids{"eku"});
}

TEST(Evaluate, ForbiddenEkuCombinationByNameOrOid) {
  // Written with OIDs, in another order and case: the certificate's names still match.
  const RuleSet by_oid({rule(
      R"({"id":"eku","kind":"forbidden_eku_combination","ekus":["1.3.6.1.5.5.7.3.2","1.3.6.1.5.5.7.3.1"]})")});
  const RuleSet by_case({rule(
      R"({"id":"eku","kind":"forbidden_eku_combination","ekus":["clientauth","SERVERAUTH"]})")});
  auto c = record();
  EXPECT_EQ(broken(by_oid, c), Ids{});
  c.extended_key_usage = {"serverAuth", "clientAuth"};
  EXPECT_EQ(broken(by_oid, c), Ids{"eku"});
  EXPECT_EQ(broken(by_case, c), Ids{"eku"});
  // A profile may name its usages by OID: the RA judges those before signing.
  c.extended_key_usage = {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"};
  EXPECT_EQ(broken(by_case, c), Ids{"eku"});
  // anyExtendedKeyUsage is every usage.
  c.extended_key_usage = {"anyExtendedKeyUsage"};
  EXPECT_EQ(broken(by_case, c), Ids{"eku"});
}

TEST(Evaluate, Sha1InTheCertificateOrItsChain) {
  const RuleSet rules({rule(R"({"id":"sha1","kind":"sha1_in_chain"})")});
  auto c = record();
  EXPECT_EQ(broken(rules, c), Ids{});
  c.signature_algorithm = "sha1WithRSAEncryption";
  EXPECT_EQ(broken(rules, c), Ids{"sha1"});

  // A SHA-1-signed intermediate taints what it issues, and what the CAs below it issue.
  inventory::CertificateRecord root = record(), mid = record(), issuing = record();
  root.subject = root.issuer = "CN=Root";
  root.is_ca = mid.is_ca = issuing.is_ca = true;
  root.signature_algorithm = "sha1WithRSAEncryption";  // a root's own signature is not judged
  mid.subject = "CN=Mid";
  mid.issuer = "CN=Root";
  mid.signature_algorithm = "sha1WithRSAEncryption";
  issuing.subject = "CN=Issuing CA,O=Example";
  issuing.issuer = "CN=Mid";
  const std::vector<inventory::CertificateRecord> cas = {issuing, root, mid};
  const ChainFacts facts = chain_facts(cas);
  EXPECT_FALSE(facts.sha1_issuers.contains("CN=Root"));
  c = record();
  EXPECT_EQ(broken(rules, c, facts), Ids{"sha1"});
  EXPECT_EQ(broken(rules, root, {}), Ids{});
  root.is_ca = false;  // a self-signed leaf: its own signature is all it has
  EXPECT_EQ(broken(rules, root, {}), Ids{"sha1"});
}

TEST(Evaluate, ScopeByTeamAndTags) {
  const RuleSet rules({rule(R"({"id":"a-only","kind":"required_owner","teams":["team-a"]})"),
                       rule(R"({"id":"prod-only","kind":"required_owner","tags":["prod"]})"),
                       rule(R"({"id":"off","kind":"required_owner","enabled":false})")});
  auto c = record();
  c.meta.owner.reset();
  c.meta.team = "team-b";
  EXPECT_EQ(broken(rules, c), Ids{});  // team A's rule does not touch team B
  c.meta.team = "team-a";
  EXPECT_EQ(broken(rules, c), Ids{"a-only"});
  c.meta.tags = {"prod"};
  EXPECT_EQ(broken(rules, c), (Ids{"a-only", "prod-only"}));
  c.meta.team.reset();
  EXPECT_EQ(broken(rules, c), Ids{"prod-only"});
}

TEST(Evaluate, StagesSplitTheRulesTheRaJudgesBeforeAndAfterSigning) {
  const RuleSet rules({rule(R"({"id":"min","kind":"min_key_size","min_bits":{"ecdsa":384}})"),
                       rule(R"({"id":"iss","kind":"allowed_issuers","issuers":["CN=Other"]})")});
  const auto c = record();
  std::vector<Finding> out;
  evaluate(rules, c, {}, out, Stage::kBeforeSigning);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule->id, "min");
  out.clear();
  evaluate(rules, c, {}, out, Stage::kAfterSigning);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule->id, "iss");
}

TEST(Evaluate, SshKeys) {
  const RuleSet rules({rule(R"({"id":"min","kind":"min_key_size","min_bits":{"rsa":2048}})"),
                       rule(R"({"id":"algs","kind":"allowed_algorithms","algorithms":["rsa","ed25519","ecdsa"]})"),
                       rule(R"({"id":"tagged","kind":"min_key_size","tags":["prod"],"min_bits":{"rsa":4096}})"),
                       rule(R"({"id":"team-b","kind":"min_key_size","teams":["b"],"min_bits":{"ed25519":512}})")});
  std::vector<Finding> out;
  evaluate(rules, SshKeyView{"SHA256:x", "ssh-rsa", 1024, std::string_view("a")}, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule->id, "min");
  out.clear();
  evaluate(rules, SshKeyView{"SHA256:y", "ssh-dss", 1024, std::nullopt}, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule->id, "algs");
  out.clear();
  evaluate(rules, SshKeyView{"SHA256:z", "ssh-ed25519", 256, std::string_view("a")}, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(ssh_algorithm("ecdsa-sha2-nistp384").second, "P-384");
}

}  // namespace
}  // namespace certward::policy
