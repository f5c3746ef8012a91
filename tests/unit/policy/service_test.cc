#include "policy/service.h"

#include <gtest/gtest.h>

#include "unit/testing/pki.h"
#include "unit/testing/test_db.h"

namespace certward::policy {
namespace {

using certward::testing::exec_sql;
using certward::testing::kT0;
using nlohmann::json;

class PolicyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(audit::AuditLog::migrate(*db_).has_value());
    ASSERT_TRUE(inventory::Inventory::migrate(*db_).has_value());
    ASSERT_TRUE(PolicyService::migrate(*db_).has_value());
  }

  // A leaf of the test CA for `cn`, recorded for `team`.
  std::string record(const std::string& cn, std::optional<std::string> team) {
    x509::CertificateTemplate t = certward::testing::leaf_template(key_.get());
    t.subject = certward::testing::name("CN=" + cn);
    t.sans = {{x509::SanType::kDns, cn}};
    x509::LintRules rules;
    const auto cert = certward::testing::issue(t, &ca_, ca_key_, rules);
    auto tx = db_->begin();
    CW_CHECK(tx.has_value());
    inventory::RecordMeta meta;
    meta.origin = inventory::Origin::kDiscovered;
    meta.team = std::move(team);
    CW_CHECK(inventory_.record(**tx, cert, meta).has_value());
    CW_CHECK((*tx)->commit().has_value());
    return cert.info().sha256_hex;
  }

  std::vector<Violation> all(const ViolationFilter& f = {}, int limit = 1000) {
    auto page = service_.violations(f, limit, std::nullopt);
    EXPECT_TRUE(page.has_value()) << page.error().message;
    return page ? page->items : std::vector<Violation>{};
  }

  certward::testing::TempDir dir_;
  certward::testing::ScratchDatabase db_;
  FakeClock clock_{kT0};
  audit::AuditLog audit_{clock_, *db_};
  inventory::Inventory inventory_{clock_, *db_, audit_};
  inventory::Sightings sightings_{clock_, *db_};
  crypto::PrivateKey ca_key_ = certward::testing::make_key();
  x509::Certificate ca_ = certward::testing::self_signed_ca(ca_key_, "CN=Policy Test CA");
  crypto::PrivateKey key_ = certward::testing::make_key();
  std::vector<Rule> declared_ = [] {
    auto r = parse_rule_text(R"({"id":"declared-sha1","kind":"sha1_in_chain"})", Source::kConfig);
    CW_CHECK(r.has_value());
    return std::vector<Rule>{*r};
  }();
  PolicyService service_{clock_, *db_, audit_, inventory_, sightings_, declared_};
};

TEST_F(PolicyServiceTest, ListsWeakAndSha1CertificatesAsViolations) {
  const std::string weak = record("weak.example.com", "web");
  const std::string sha1 = record("sha1.example.com", "web");
  record("fine.example.com", "web");
  // What the inventory would hold for an RSA-1024 and a SHA-1-signed certificate found in the
  // wild (the integration test makes real ones with openssl).
  exec_sql(*db_, "UPDATE certificates SET key_algorithm = 'rsa', key_bits = 1024 WHERE fingerprint = '" + weak + "'");
  exec_sql(*db_, "UPDATE certificates SET signature_algorithm = 'sha1WithRSAEncryption' WHERE fingerprint = '" + sha1 + "'");
  ASSERT_TRUE(service_.create(json::parse(R"({"id":"min-rsa-2048","kind":"min_key_size","min_bits":{"rsa":2048}})"), "test").has_value());

  const auto v = all();
  ASSERT_EQ(v.size(), 2u);
  std::map<std::string, std::string> by_rule;
  for (const auto& x : v) by_rule[x.rule] = x.subject_id;
  EXPECT_EQ(by_rule["min-rsa-2048"], weak);
  EXPECT_EQ(by_rule["declared-sha1"], sha1);
  for (const auto& x : v) EXPECT_EQ(x.origin, "discovered");

  const auto only = all({.rule = "min-rsa-2048", .min_severity = {}, .team = {}});
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].message, "rsa key of 1024 bits < 2048");
}

TEST_F(PolicyServiceTest, TeamScopedRulesAndListings) {
  const std::string a = record("a.example.com", "team-a");
  const std::string b = record("b.example.com", "team-b");
  ASSERT_TRUE(service_.create(json::parse(R"({"id":"a-owner","kind":"required_owner","teams":["team-a"]})"), "test").has_value());
  auto v = all();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].subject_id, a);
  EXPECT_TRUE(all({.rule = {}, .min_severity = {}, .team = "team-b"}).empty());
  (void)b;
}

TEST_F(PolicyServiceTest, PagesFollowCursorsToTheEnd) {
  for (int i = 0; i < 7; ++i) record("h" + std::to_string(i) + ".example.com", std::nullopt);
  ASSERT_TRUE(service_.create(json::parse(R"({"id":"owner","kind":"required_owner"})"), "test").has_value());
  std::set<std::string> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    auto page = service_.violations({}, 3, cursor);
    ASSERT_TRUE(page.has_value()) << page.error().message;
    for (const auto& x : page->items) EXPECT_TRUE(seen.insert(x.subject_id).second);
    cursor = page->next_cursor;
    ASSERT_LT(++pages, 10);
  } while (cursor);
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_FALSE(service_.violations({}, 3, std::string("garbage")).has_value());
  EXPECT_FALSE(service_.violations({}, 0, std::nullopt).has_value());
}

TEST_F(PolicyServiceTest, SshKeysFoundByDiscovery) {
  auto tx = db_->begin();
  ASSERT_TRUE(tx.has_value());
  inventory::SshKeyRecord k{.fingerprint = "SHA256:weak", .type = "ssh-rsa", .bits = 1024,
                            .blob = {1, 2, 3}, .certificate = nullptr, .first_seen = kT0};
  auto recorded = sightings_.record_ssh_key(**tx, k);
  ASSERT_TRUE(recorded.has_value()) << recorded.error().message;
  ASSERT_TRUE(sightings_.seen(**tx, "ssh", "10.0.0.1:22", k.fingerprint, json::object(), "ops").has_value());
  ASSERT_TRUE((*tx)->commit().has_value());
  ASSERT_TRUE(service_.create(json::parse(R"({"id":"min-rsa","kind":"min_key_size","min_bits":{"rsa":2048}})"), "test").has_value());
  const auto v = all();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].subject_type, "ssh_key");
  EXPECT_EQ(v[0].team, std::optional<std::string>("ops"));
  EXPECT_TRUE(all({.rule = {}, .min_severity = {}, .team = "web"}).empty());
}

TEST_F(PolicyServiceTest, RuleChangesAreAuditedAndBadOnesStoreNothing) {
  const auto events = certward::testing::count_rows(*db_, "audit_events");
  EXPECT_EQ(service_.create(json::parse(R"({"id":"x","kind":"nope"})"), "test").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(service_.create(json::parse(R"({"id":"x","kind":"required_san_pattern","patterns":["[a-z]+"]})"), "test").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(certward::testing::count_rows(*db_, "policy_rules"), 0);
  EXPECT_EQ(certward::testing::count_rows(*db_, "audit_events"), events);

  ASSERT_TRUE(service_.create(json::parse(R"({"id":"x","kind":"required_owner"})"), "test").has_value());
  EXPECT_EQ(service_.create(json::parse(R"({"id":"x","kind":"required_owner"})"), "test").error().code,
            ErrorCode::kConflict);
  auto replaced = service_.replace("x", json::parse(R"({"kind":"max_validity","max_days":90})"), "test");
  ASSERT_TRUE(replaced.has_value()) << replaced.error().message;
  EXPECT_EQ(service_.get("x")->kind, Kind::kMaxValidity);
  ASSERT_TRUE(service_.remove("x", "test").has_value());
  EXPECT_EQ(service_.get("x").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(certward::testing::count_rows(*db_, "audit_events"), events + 3);

  // Declared rules are read-only through the service.
  EXPECT_EQ(service_.remove("declared-sha1", "test").error().code, ErrorCode::kConflict);
  EXPECT_EQ(service_.create(json::parse(R"({"id":"declared-sha1","kind":"required_owner"})"), "test").error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(service_.list()->front().source, Source::kConfig);
}

TEST_F(PolicyServiceTest, IssuanceCheckNamesTheRule) {
  ASSERT_TRUE(service_.create(json::parse(R"({"id":"min-rsa-2048","kind":"min_key_size","min_bits":{"rsa":2048}})"), "test").has_value());
  inventory::CertificateRecord c;
  c.key_algorithm = "rsa";
  c.key_bits = 1024;
  const Status s = service_.check_issuance(c, Stage::kBeforeSigning);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kPolicyRejected);
  EXPECT_EQ(s.error().message, "refused by policy rule 'min-rsa-2048': rsa key of 1024 bits < 2048");
  c.key_bits = 2048;
  EXPECT_TRUE(service_.check_issuance(c, Stage::kBeforeSigning).has_value());
}

TEST(ParseDeclared, RefusesDuplicatesAndNamesWhere) {
  const std::vector<json> specs = {json::parse(R"({"id":"a","kind":"required_owner"})"),
                                   json::parse(R"({"id":"a","kind":"required_owner"})")};
  const std::vector<std::string> where = {"c.toml:1", "c.toml:5"};
  auto r = PolicyService::parse_declared(specs, where);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("c.toml:5"), std::string::npos);
}

}  // namespace
}  // namespace certward::policy
