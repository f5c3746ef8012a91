#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <set>

#include "unit/testing/pki.h"
#include "x509/builder.h"

namespace certward::x509 {
namespace {

using certward::testing::ca_rules;
using certward::testing::ca_template;
using certward::testing::leaf_template;
using certward::testing::make_key;
using std::chrono::days;
using std::chrono::seconds;
using Findings = std::vector<LintFinding>;

class LintTest : public ::testing::Test {
 protected:
  TbsCertificate build(const CertificateTemplate& t) {
    auto tbs = build_tbs(t, nullptr, key_.get());
    CW_CHECK(tbs.has_value());
    return std::move(*tbs);
  }
  // Lints and returns the findings; checks that the verdict matches them.
  Findings findings_of(TbsCertificate tbs, const LintRules& rules) {
    Findings f = {LintFinding::kUnsupportedKey};  // must be overwritten
    auto r = lint(std::move(tbs), rules, &f);
    EXPECT_EQ(r.has_value(), f.empty());
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kPolicyRejected);
    }
    return f;
  }
  Findings findings_of(const CertificateTemplate& t, const LintRules& rules) {
    return findings_of(build(t), rules);
  }

  const crypto::PrivateKey key_ = make_key();
};

TEST_F(LintTest, GoodLeafAndGoodCaPass) {
  EXPECT_EQ(findings_of(leaf_template(key_.get()), LintRules{}), Findings{});
  EXPECT_EQ(findings_of(ca_template(key_.get(), "CN=Root"), ca_rules()), Findings{});
}

TEST_F(LintTest, ValidityTooLong) {
  CertificateTemplate t = leaf_template(key_.get());
  t.not_after = t.not_before + days(399);
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kValidityTooLong});
}

TEST_F(LintTest, ValidityAtTheMaximumPassesAndOneSecondMoreFails) {
  LintRules rules;
  rules.max_validity = days(90);
  CertificateTemplate t = leaf_template(key_.get());
  t.not_after = t.not_before + days(90);
  EXPECT_EQ(findings_of(t, rules), Findings{});
  t.not_after += seconds(1);
  EXPECT_EQ(findings_of(t, rules), Findings{LintFinding::kValidityTooLong});
}

TEST_F(LintTest, ValidityInvertedAfterTampering) {
  TbsCertificate tbs = build(leaf_template(key_.get()));
  // build_tbs refuses inverted validity, so alter the built TBS.
  ASSERT_TRUE(ASN1_TIME_set(X509_getm_notAfter(tbs.get()),
                            static_cast<time_t>(to_unix(certward::testing::kT0) - 60)));
  EXPECT_EQ(findings_of(std::move(tbs), LintRules{}), Findings{LintFinding::kValidityInverted});
}

TEST_F(LintTest, LeafWithoutSanWhenRequired) {
  CertificateTemplate t = leaf_template(key_.get());
  t.sans.clear();
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kNoSan});
  LintRules lax;
  lax.require_san = false;
  CertificateTemplate t2 = leaf_template(key_.get());
  t2.sans.clear();
  EXPECT_EQ(findings_of(t2, lax), Findings{});
}

TEST_F(LintTest, CaFlagOnLeafProfile) {
  CertificateTemplate t = leaf_template(key_.get());
  t.is_ca = true;
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kCaFlagOnLeaf});
}

TEST_F(LintTest, MissingCaFlagOnCaProfile) {
  CertificateTemplate t = ca_template(key_.get(), "CN=Not Really A CA");
  t.is_ca = false;
  t.sans = {{SanType::kDns, "ca.example.com"}};
  EXPECT_EQ(findings_of(t, ca_rules()), Findings{LintFinding::kMissingCaFlag});
}

TEST_F(LintTest, WeakRsaKey) {
  crypto::EvpPkeyPtr weak(EVP_RSA_gen(1024));
  ASSERT_TRUE(weak);
  CertificateTemplate t = leaf_template(weak.get());
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kWeakRsaKey});
  const crypto::PrivateKey strong = make_key(crypto::KeyType::kRsa2048);
  EXPECT_EQ(findings_of(leaf_template(strong.get()), LintRules{}), Findings{});
}

TEST_F(LintTest, WeakRsaPssKey) {
  crypto::Handle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_RSA_PSS, nullptr));
  ASSERT_TRUE(ctx);
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 1024), 1);
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen(ctx.get(), &raw), 1);
  crypto::EvpPkeyPtr weak(raw);
  EXPECT_EQ(findings_of(leaf_template(weak.get()), LintRules{}),
            Findings{LintFinding::kWeakRsaKey});
}

// Whatever a profile says: only a plain RSA key may encipher (RFC 4055 1.2 for RSA-PSS,
// RFC 5480 3 for EC, RFC 8410 5 for Ed25519).
TEST_F(LintTest, EnciphermentOnlyForPlainRsaKeys) {
  const crypto::PrivateKey rsa = make_key(crypto::KeyType::kRsa2048);
  const crypto::PrivateKey pss = make_key(crypto::KeyType::kRsaPss2048);
  const crypto::PrivateKey ed = make_key(crypto::KeyType::kEd25519);
  for (const char* usage : {"keyEncipherment", "dataEncipherment"}) {
    CertificateTemplate t = leaf_template(rsa.get());
    t.key_usage = {"digitalSignature", usage};
    EXPECT_EQ(findings_of(t, LintRules{}), Findings{}) << usage;
    for (const crypto::PrivateKey* key : {&pss, &key_, &ed}) {
      t = leaf_template(key->get());
      t.key_usage = {"digitalSignature", usage};
      EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kEnciphermentOnNonEncryptionKey})
          << usage << " on " << key->info().name();
    }
  }
  CertificateTemplate signing = leaf_template(pss.get());
  EXPECT_EQ(findings_of(signing, LintRules{}), Findings{});
  signing.key_usage.clear();  // no keyUsage extension at all
  EXPECT_EQ(findings_of(signing, LintRules{}), Findings{});
}

TEST_F(LintTest, UnsupportedKeyAlgorithm) {
  crypto::EvpPkeyPtr ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  ASSERT_TRUE(ed448);
  EXPECT_EQ(findings_of(leaf_template(ed448.get()), LintRules{}),
            Findings{LintFinding::kUnsupportedKey});
}

TEST_F(LintTest, SerialTooShort) {
  CertificateTemplate t = leaf_template(key_.get());
  t.serial = {0x01, 0x02, 0x03, 0x04};
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kSerialTooShort});
  t.serial = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kSerialTooShort});
  t.serial = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{});
}

TEST_F(LintTest, SerialTooLong) {
  CertificateTemplate t = leaf_template(key_.get());
  t.serial = Bytes(20, 0x11);
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{});
  t.serial = Bytes(21, 0x11);
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kSerialTooLong});
}

TEST_F(LintTest, SerialWithHighBitCountsItsSignOctet) {
  // 20 magnitude octets starting with 0x80 encode as a 21-octet INTEGER (RFC 5280 4.1.2.2
  // allows at most 20).
  CertificateTemplate t = leaf_template(key_.get());
  t.serial = Bytes(20, 0x80);
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{LintFinding::kSerialTooLong});
  t.serial = Bytes(19, 0x80);
  EXPECT_EQ(findings_of(t, LintRules{}), Findings{});
}

TEST_F(LintTest, NegativeSerialAfterTampering) {
  TbsCertificate tbs = build(leaf_template(key_.get()));
  // A Bytes serial is always positive, so make the built TBS's serial negative.
  crypto::BignumPtr bn(BN_bin2bn(x509::random_serial().data(), 16, nullptr));
  ASSERT_TRUE(bn);
  BN_set_negative(bn.get(), 1);
  ASSERT_TRUE(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(tbs.get())));
  EXPECT_EQ(findings_of(std::move(tbs), LintRules{}), Findings{LintFinding::kSerialNegative});
}

TEST_F(LintTest, EmptySubjectNeedsCriticalSan) {
  // No subject and no SAN at all.
  CertificateTemplate bare = leaf_template(key_.get());
  bare.subject.reset();
  bare.sans.clear();
  LintRules lax;
  lax.require_san = false;
  EXPECT_EQ(findings_of(bare, lax), Findings{LintFinding::kEmptySubjectWithoutCriticalSan});

  // build_tbs marks the SAN critical for an empty subject: accepted.
  CertificateTemplate ok_t = leaf_template(key_.get());
  ok_t.subject.reset();
  EXPECT_EQ(findings_of(ok_t, LintRules{}), Findings{});

  // The same certificate with the SAN's critical flag cleared is refused.
  CertificateTemplate t = leaf_template(key_.get());
  t.subject.reset();
  TbsCertificate tbs = build(t);
  const int idx = X509_get_ext_by_NID(tbs.get(), NID_subject_alt_name, -1);
  ASSERT_GE(idx, 0);
  ASSERT_TRUE(X509_EXTENSION_set_critical(X509_get_ext(tbs.get(), idx), 0));
  EXPECT_EQ(findings_of(std::move(tbs), LintRules{}),
            Findings{LintFinding::kEmptySubjectWithoutCriticalSan});
}

TEST_F(LintTest, ReportsEveryFindingTogether) {
  crypto::EvpPkeyPtr weak(EVP_RSA_gen(1024));
  ASSERT_TRUE(weak);
  CertificateTemplate t = leaf_template(weak.get());
  t.sans.clear();
  t.serial = {0x05};
  t.not_after = t.not_before + days(400);
  const Findings f = findings_of(t, LintRules{});
  EXPECT_EQ(std::set<LintFinding>(f.begin(), f.end()),
            (std::set<LintFinding>{LintFinding::kValidityTooLong, LintFinding::kNoSan,
                                   LintFinding::kWeakRsaKey, LintFinding::kSerialTooShort}));
}

TEST_F(LintTest, WorksWithoutFindingsOutput) {
  CertificateTemplate t = leaf_template(key_.get());
  t.sans.clear();
  auto r = lint(build(t), LintRules{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kPolicyRejected);
  auto good = lint(build(leaf_template(key_.get())), LintRules{});
  ASSERT_TRUE(good.has_value());
  EXPECT_NE(good->get(), nullptr);
}

TEST(LintFindingName, EveryFindingHasADistinctName) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(LintFinding::kEnciphermentOnNonEncryptionKey); ++i) {
    const auto name = lint_finding_name(static_cast<LintFinding>(i));
    EXPECT_NE(name, "unknown");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 14u);
  EXPECT_EQ(lint_finding_name(LintFinding::kWeakSignatureAlgorithm), "weak_signature_algorithm");
}

}  // namespace
}  // namespace certward::x509
