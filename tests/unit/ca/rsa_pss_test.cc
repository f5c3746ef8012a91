// RSA-PSS subject keys (id-RSASSA-PSS, RFC 4055): never mistaken for plain RSA, allowed by no
// built-in profile, and never given an encipherment key usage by one that allows them.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using crypto::KeyType;

const KeyType kPssTypes[] = {KeyType::kRsaPss2048, KeyType::kRsaPss3072, KeyType::kRsaPss4096};

// A PSS key as OpenSSL makes it (EVP_PKEY_RSA_PSS), not through certward's key generation.
crypto::PrivateKey openssl_pss_key() {
  crypto::Handle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_RSA_PSS, nullptr));
  CW_CHECK(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 &&
           EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) == 1);
  EVP_PKEY* raw = nullptr;
  CW_CHECK(EVP_PKEY_keygen(ctx.get(), &raw) == 1);
  return crypto::PrivateKey(crypto::EvpPkeyPtr(raw));
}

bool has_encipherment(const std::vector<std::string>& ku) {
  for (const auto& u : ku)
    if (u == "keyEncipherment" || u == "dataEncipherment") return true;
  return false;
}

// A profile that allows RSA-PSS keys and, wrongly for them, lists encipherment usages.
ProfileSettings pss_profile_settings() {
  ProfileSettings s;
  s.name = "pss";
  s.key_types = std::vector<std::string>{"rsa-pss-2048", "rsa-2048"};
  s.key_usage = std::vector<std::string>{"digitalSignature", "keyEncipherment", "dataEncipherment"};
  return s;  // otherwise tls-server: serverAuth
}

TEST(RsaPssProfiles, NoBuiltinProfileAllowsRsaPss) {
  auto set = ProfileSet::create({});
  ASSERT_TRUE(set.has_value());
  for (const Profile& p : set->all()) {
    for (KeyType t : kPssTypes) {
      const crypto::KeyInfo info{crypto::KeyAlgorithm::kRsaPss,
                                 t == KeyType::kRsaPss2048   ? 2048
                                 : t == KeyType::kRsaPss3072 ? 3072
                                                             : 4096,
                                 ""};
      EXPECT_FALSE(p.allows_key(info)) << p.name << " " << crypto::key_type_name(t);
      EXPECT_FALSE(has_encipherment(p.key_usage_for(info))) << p.name;
    }
    EXPECT_FALSE(p.allows_key(openssl_pss_key().info())) << p.name;
  }
}

TEST(RsaPssProfiles, AProfileThatAllowsItNeverGivesEncipherment) {
  const ProfileSettings settings[] = {pss_profile_settings()};
  auto set = ProfileSet::create(settings);
  ASSERT_TRUE(set.has_value()) << set.error().message;
  auto p = set->find("pss");
  ASSERT_TRUE(p.has_value());
  const crypto::KeyInfo pss = openssl_pss_key().info();
  EXPECT_TRUE((*p)->allows_key(pss));
  EXPECT_EQ((*p)->key_usage_for(pss), std::vector<std::string>{"digitalSignature"});
  // A plain RSA key under the same profile keeps what the profile says.
  const crypto::KeyInfo rsa{crypto::KeyAlgorithm::kRsa, 2048, ""};
  EXPECT_EQ((*p)->key_usage_for(rsa),
            (std::vector<std::string>{"digitalSignature", "keyEncipherment", "dataEncipherment"}));
}

class RsaPssEnrollmentTest : public testing::CaFixture {
 protected:
  RsaPssEnrollmentTest() {
    auto settings = testing::test_profile_settings();
    settings.push_back(pss_profile_settings());
    auto set = ProfileSet::create(settings);
    CW_CHECK(set.has_value());
    profiles_ = std::move(*set);
  }
};

TEST_F(RsaPssEnrollmentTest, EveryBuiltinProfileRefusesAnRsaPssCsrAndWritesNothing) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  const crypto::PrivateKey key = openssl_pss_key();
  for (const char* profile :
       {"tls-server", "tls-client", "code-signing", "smime", "device", "intermediate-ca"}) {
    EnrollmentRequest r;
    r.profile = profile;
    // A DNS name every built-in profile takes: only the key can be the reason to refuse.
    r.csr = csr_for(key, {"pss.example.com"});
    r.requester = admin_;
    auto issued = ra_->enroll(r);
    expect_refused(issued, ErrorCode::kPolicyRejected, inv, events);
    if (!issued) {
      EXPECT_NE(issued.error().message.find("RSA-PSS 2048"), std::string::npos)
          << issued.error().message;
    }
  }
}

TEST_F(RsaPssEnrollmentTest, ServerGeneratedRsaPssKeyIsRefusedByBuiltins) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  EnrollmentRequest r;
  r.server_key = KeyType::kRsaPss2048;
  r.profile = "tls-server";
  r.common_name = "pss.example.com";
  r.requester = admin_;
  expect_refused(ra_->enroll(r), ErrorCode::kPolicyRejected, inv, events);
}

TEST_F(RsaPssEnrollmentTest, AllowingProfileIssuesWithoutEncipherment) {
  const crypto::PrivateKey key = openssl_pss_key();
  EnrollmentRequest r;
  r.profile = "pss";
  r.csr = csr_for(key, {"pss.example.com"});
  r.requester = admin_;
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  const x509::CertificateInfo& i = issued->certificate.info();
  EXPECT_EQ(i.key.algorithm, crypto::KeyAlgorithm::kRsaPss);
  EXPECT_EQ(i.key_usage, std::vector<std::string>{"digitalSignature"});
  EXPECT_TRUE(verify(*issued).has_value());
  auto record = inventory_.get(i.sha256_hex);
  ASSERT_TRUE(record.has_value() && record->has_value());
  EXPECT_EQ((*record)->key_algorithm, "rsa-pss");
  EXPECT_EQ((*record)->key_bits, 2048);

  // The same with a key generated here.
  EnrollmentRequest server;
  server.server_key = KeyType::kRsaPss2048;
  server.profile = "pss";
  server.common_name = "pss2.example.com";
  server.requester = admin_;
  auto generated = ra_->enroll(server);
  ASSERT_TRUE(generated.has_value()) << generated.error().message;
  ASSERT_TRUE(generated->private_key.has_value());
  EXPECT_EQ(generated->private_key->info().algorithm, crypto::KeyAlgorithm::kRsaPss);
  EXPECT_EQ(generated->certificate.info().key_usage, std::vector<std::string>{"digitalSignature"});
}

}  // namespace
}  // namespace certward::ca
