#include "ca/protocol_ra.h"

#include <gtest/gtest.h>

#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using namespace std::chrono_literals;

class ProtocolRaTest : public testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ProtocolRa::migrate(*db_).has_value());
  }

  std::unique_ptr<ProtocolRa> make() {
    return std::make_unique<ProtocolRa>(clock_, *db_, *ra_, *authorities_, inventory_, wrapper_);
  }
};

TEST_F(ProtocolRaTest, IssuesAnRsaRaCertificateTheAuthoritySignedAndKeepsIt) {
  auto ra = make();
  auto cred = ra->current("issuing");
  ASSERT_TRUE(cred) << cred.error().message;
  const auto& info = (*cred)->certificate.info();
  EXPECT_EQ(info.key.name(), "RSA 2048");  // SCEP's key transport is RSA
  EXPECT_EQ(info.subject, "CN=Enrollment RA");
  EXPECT_EQ(info.key_usage, (std::vector<std::string>{"digitalSignature", "keyEncipherment"}));
  EXPECT_EQ(info.extended_key_usage, (std::vector<std::string>{"1.3.6.1.5.5.7.3.28"}));
  EXPECT_FALSE(info.is_ca());
  ASSERT_FALSE((*cred)->chain.empty());
  EXPECT_EQ((*cred)->chain.front().info().sha256_hex, issuing_.info().sha256_hex);
  EXPECT_EQ((*cred)->chain.back().info().sha256_hex, root_.info().sha256_hex);
  EXPECT_EQ(X509_check_private_key((*cred)->certificate.get(), (*cred)->key->get()), 1);
  // In the inventory as certward's own issuance.
  auto record = inventory_.get(info.sha256_hex);
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->meta.profile, std::optional<std::string>("protocol-ra"));
  EXPECT_EQ((*record)->meta.channel, std::optional<std::string>("system"));

  // Asked again, by this process or another one (a replica): the same certificate and key.
  auto again = ra->current("issuing");
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->certificate.info().sha256_hex, info.sha256_hex);
  auto replica = make()->current("issuing");
  ASSERT_TRUE(replica) << replica.error().message;
  EXPECT_EQ((*replica)->certificate.info().sha256_hex, info.sha256_hex);
  EXPECT_EQ(EVP_PKEY_eq((*replica)->key->get(), (*cred)->key->get()), 1);
  EXPECT_EQ(certward::testing::count_rows(*db_, "protocol_ra_certificates"), 1);
}

TEST_F(ProtocolRaTest, RenewsAtTwoThirdsOfItsLifeAndKeepsTheOldOneForDecryption) {
  auto ra = make();
  auto first = ra->current("issuing");
  ASSERT_TRUE(first);
  clock_.advance(
      std::chrono::duration_cast<std::chrono::seconds>((*first)->renew_at - clock_.now()) - 1s);
  EXPECT_EQ((*ra->current("issuing"))->certificate.info().sha256_hex,
            (*first)->certificate.info().sha256_hex);
  clock_.advance(2s);
  auto second = ra->current("issuing");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_NE((*second)->certificate.info().sha256_hex, (*first)->certificate.info().sha256_hex);
  auto keys = ra->decryptors("issuing");
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0]->certificate.info().sha256_hex, (*second)->certificate.info().sha256_hex);
  EXPECT_EQ((*keys)[1]->certificate.info().sha256_hex, (*first)->certificate.info().sha256_hex);
  // Another replica renews nothing of its own: it finds the renewed one.
  auto replica = make()->current("issuing");
  ASSERT_TRUE(replica);
  EXPECT_EQ((*replica)->certificate.info().sha256_hex, (*second)->certificate.info().sha256_hex);
  EXPECT_EQ(certward::testing::count_rows(*db_, "protocol_ra_certificates"), 2);
}

TEST_F(ProtocolRaTest, ARevokedRaCertificateIsReplacedAndAKeyMovedToAnotherRowDoesNotOpen) {
  auto ra = make();
  auto first = ra->current("issuing");
  ASSERT_TRUE(first);
  RevokeRequest r;
  r.id = (*first)->certificate.info().sha256_hex;
  r.reason = RevocationReason::kKeyCompromise;
  r.requester = admin_;
  ASSERT_TRUE(revocation_->revoke(r).has_value());
  auto replica = make()->current("issuing");
  ASSERT_TRUE(replica) << replica.error().message;
  EXPECT_NE((*replica)->certificate.info().sha256_hex, r.id);

  // A sealed key copied onto another certificate's row is refused.
  ASSERT_EQ(certward::testing::count_rows(*db_, "protocol_ra_certificates"), 2);
  certward::testing::exec_sql(
      *db_,
      "UPDATE protocol_ra_certificates SET sealed_key = (SELECT sealed_key FROM "
      "protocol_ra_certificates WHERE fingerprint = ?) WHERE fingerprint <> ?",
      store::params(r.id, r.id));
  auto tampered = make()->current("issuing");
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().code, ErrorCode::kBadPassword);
}

TEST_F(ProtocolRaTest, NoRaForARootOrAnUnknownAuthority) {
  auto ra = make();
  EXPECT_FALSE(ra->current("root"));
  auto unknown = ra->current("nosuch");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(certward::testing::count_rows(*db_, "protocol_ra_certificates"), 0);
}

}  // namespace
}  // namespace certward::ca
