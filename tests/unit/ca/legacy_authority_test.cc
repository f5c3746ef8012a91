// Imported CAs without a subjectKeyIdentifier (made before RFC 3280, or by tools that leave it
// out) are accepted and can issue: the authorityKeyIdentifier of what they sign is computed
// from their public key.

#include <gtest/gtest.h>

#include "unit/ca/fixture.h"
#include "unit/testing/legacy_ca.h"

namespace certward::ca {
namespace {

using certward::testing::key_id_of;
using certward::testing::legacy_ca;
using certward::testing::make_key;

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

Bytes key_bytes(const crypto::PrivateKey& key) {
  auto pem = key.to_pkcs8_pem();
  CW_CHECK(pem.has_value());
  return Bytes(pem->span().begin(), pem->span().end());
}

class LegacyAuthorityTest : public testing::CaFixture {};

TEST_F(LegacyAuthorityTest, ImportedRootWithoutKeyIdSignsSubordinatesThatIssue) {
  const crypto::PrivateKey root_key = make_key(crypto::KeyType::kRsa2048);
  const x509::Certificate legacy_root = legacy_ca(root_key, "CN=Legacy Root,O=Old");
  ImportOptions o;
  o.name = "legacy-root";
  o.certificate = bytes_of(legacy_root.pem());
  o.private_key = key_bytes(root_key);
  auto imported = authorities_->import(o, "user:admin");
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_EQ(imported->kind, AuthorityKind::kRoot);

  SubordinateOptions sub;
  sub.name = "legacy-issuing";
  sub.parent = "legacy-root";
  sub.subject = "CN=Legacy Issuing,O=Old";
  auto issuing = create_subordinate(*ra_, *authorities_, sub, admin_);
  ASSERT_TRUE(issuing.has_value()) << issuing.error().message;
  EXPECT_EQ(issuing->certificate.info().authority_key_id, key_id_of(legacy_root));

  EnrollmentRequest r = request({"www.example.com"});
  r.authority = "legacy-issuing";
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_EQ(issued->certificate.info().authority_key_id,
            issuing->certificate.info().subject_key_id);
  ASSERT_EQ(issued->chain.size(), 2u);
  EXPECT_EQ(issued->chain.back().der(), legacy_root.der());
  auto verified = verify(*issued);
  EXPECT_TRUE(verified.has_value()) << verified.error().message;
}

TEST_F(LegacyAuthorityTest, ImportedIssuingCaWithoutKeyIdIssuesLeaves) {
  const crypto::PrivateKey root_key = make_key(crypto::KeyType::kEcP384);
  const x509::Certificate ext_root = certward::testing::self_signed_ca(root_key, "CN=Ext Root");
  const crypto::PrivateKey mid_key = make_key(crypto::KeyType::kEcP256);
  const x509::Certificate mid = legacy_ca(mid_key, "CN=Legacy Issuing", &ext_root, &root_key);
  ImportOptions o;
  o.name = "legacy-issuing";
  o.certificate = bytes_of(mid.pem());
  o.private_key = key_bytes(mid_key);
  o.chain = bytes_of(ext_root.pem());
  auto imported = authorities_->import(o, "user:admin");
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_EQ(imported->kind, AuthorityKind::kIssuing);

  const auto inv = inventory_count();
  EnrollmentRequest r = request({"www.example.com"});
  r.authority = "legacy-issuing";
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_EQ(issued->certificate.info().authority_key_id, key_id_of(mid));
  EXPECT_EQ(inventory_count(), inv + 1);
  auto verified = verify(*issued);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(verified->path.size(), 3u);
}

}  // namespace
}  // namespace certward::ca
