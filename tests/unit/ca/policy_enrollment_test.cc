// The RA holds every enrollment to the compliance rules (policy::PolicyService), whatever the
// channel: a request that breaks one is refused naming the rule, and nothing is stored.

#include <gtest/gtest.h>

#include "ca/enrollment.h"
#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using nlohmann::json;

class PolicyEnrollmentTest : public testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    ASSERT_TRUE(policy::PolicyService::migrate(*db_).has_value());
    ra_->set_policy(&policy_);
  }
  void TearDown() override { ra_->set_policy(nullptr); }

  void add(std::string_view rule) {
    auto r = policy_.create(json::parse(rule), "test");
    ASSERT_TRUE(r.has_value()) << r.error().message;
  }

  inventory::Sightings sightings_{clock_, *db_};
  policy::PolicyService policy_{clock_, *db_, audit_, inventory_, sightings_, {}};
};

TEST_F(PolicyEnrollmentTest, RefusesACsrThatBreaksARuleNamingIt) {
  add(R"({"id":"min-rsa-3072","kind":"min_key_size","min_bits":{"rsa":3072}})");
  const auto inv = inventory_count(), events = audit_count();
  EnrollmentRequest r = request({"www.example.com"});
  r.csr = csr({"www.example.com"}, crypto::KeyType::kRsa2048);
  auto issued = ra_->enroll(r);
  expect_refused(issued, ErrorCode::kPolicyRejected, inv, events);
  EXPECT_NE(issued.error().message.find("refused by policy rule 'min-rsa-3072'"), std::string::npos)
      << issued.error().message;
  // check(), which managed certificates are held to when they are made, says the same.
  EXPECT_EQ(ra_->check(r).error().code, ErrorCode::kPolicyRejected);

  // A server-side key is refused before it is generated.
  EnrollmentRequest s = request({"www.example.com"});
  s.csr.reset();
  s.server_key = crypto::KeyType::kRsa2048;
  expect_refused(ra_->enroll(s), ErrorCode::kPolicyRejected, inv, events);

  r.csr = csr({"www.example.com"}, crypto::KeyType::kEcP256);
  EXPECT_TRUE(ra_->enroll(r).has_value());
}

TEST_F(PolicyEnrollmentTest, ATeamRuleDoesNotTouchAnotherTeam) {
  add(R"({"id":"a-owner","kind":"required_owner","teams":["team-a"]})");
  EnrollmentRequest r = request({"www.example.com"});
  r.team = "team-b";
  EXPECT_TRUE(ra_->enroll(r).has_value());
  r = request({"api.example.com"});
  r.team = "team-a";
  auto refused = ra_->enroll(r);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPolicyRejected);
  r.owner = "alice";
  EXPECT_TRUE(ra_->enroll(r).has_value());
}

TEST_F(PolicyEnrollmentTest, IssuerRulesAreJudgedBeforeTheCertificateIsStored) {
  add(R"({"id":"other-issuer","kind":"allowed_issuers","issuers":["CN=Somebody Else"]})");
  const auto inv = inventory_count(), events = audit_count();
  auto issued = ra_->enroll(request({"www.example.com"}));
  expect_refused(issued, ErrorCode::kPolicyRejected, inv, events);
  EXPECT_NE(issued.error().message.find("'other-issuer'"), std::string::npos);
}

TEST_F(PolicyEnrollmentTest, NamesAndValidityRules) {
  add(R"({"id":"no-wild","kind":"wildcards","allowed":false})");
  add(R"({"id":"max-30","kind":"max_validity","max_days":30})");
  EnrollmentRequest w = request({"*.example.com"});
  w.validity = std::chrono::days(30);
  auto wild = ra_->enroll(w);
  ASSERT_FALSE(wild.has_value());
  EXPECT_NE(wild.error().message.find("'no-wild'"), std::string::npos) << wild.error().message;
  EnrollmentRequest r = request({"www.example.com"});
  auto long_lived = ra_->enroll(r);  // the profile's default validity is above 30 days
  ASSERT_FALSE(long_lived.has_value());
  EXPECT_NE(long_lived.error().message.find("'max-30'"), std::string::npos);
  r.validity = std::chrono::days(30);
  EXPECT_TRUE(ra_->enroll(r).has_value());
}

}  // namespace
}  // namespace certward::ca
