#include "x509/builder.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <concepts>
#include <cstdio>
#include <set>
#include <type_traits>
#include <utility>

#include "unit/testing/legacy_ca.h"
#include "unit/testing/pki.h"
#include "unit/testing/temp_dir.h"
#include "x509/verify.h"

namespace certward::x509 {
namespace {

using certward::testing::ca_rules;
using certward::testing::ca_template;
using certward::testing::extension_critical;
using certward::testing::extension_oids;
using certward::testing::issue;
using certward::testing::kT0;
using certward::testing::leaf_template;
using certward::testing::make_key;
using certward::testing::self_signed_ca;
using certward::testing::sorted;
namespace oid = certward::testing::oid;

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(BuildTbs, SelfSignedCaCarriesEveryRequestedExtension) {
  const crypto::PrivateKey key = make_key();
  CertificateTemplate t = ca_template(key.get(), "CN=Example Root CA,O=Example");
  t.path_length = 1;
  t.name_constraints = NameConstraints{.permitted = {"DNS:example.com", "IP:10.0.0.0/8"},
                                       .excluded = {"DNS:bad.example.com"}};
  t.crl_urls = {"http://pki.example.com/crl/root.crl"};
  t.ocsp_urls = {"http://pki.example.com/ocsp"};
  t.ca_issuers_urls = {"http://pki.example.com/ca/root.crt"};
  t.policy_oids = {"2.23.140.1.2.1", "1.3.6.1.4.1.99999.7"};
  const Bytes serial = t.serial;
  const Certificate cert = issue(t, nullptr, key, ca_rules());
  const CertificateInfo& i = cert.info();

  EXPECT_EQ(i.version, 3);
  EXPECT_EQ(i.subject_cn, "Example Root CA");
  EXPECT_EQ(i.subject, i.issuer);
  EXPECT_TRUE(i.self_issued);
  EXPECT_EQ(i.serial_hex, to_hex(serial));
  EXPECT_FALSE(i.serial_negative);
  EXPECT_EQ(i.not_before, kT0);
  EXPECT_EQ(i.not_after, kT0 + std::chrono::days(3650));
  EXPECT_EQ(i.signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_EQ(i.key.algorithm, crypto::KeyAlgorithm::kEcdsa);
  EXPECT_EQ(i.key.curve, "P-256");

  ASSERT_TRUE(i.basic_constraints.has_value());
  EXPECT_TRUE(i.basic_constraints->ca);
  EXPECT_TRUE(i.basic_constraints->critical);
  EXPECT_EQ(i.basic_constraints->path_length, 1);
  EXPECT_TRUE(i.key_usage_critical);
  EXPECT_EQ(std::set<std::string>(i.key_usage.begin(), i.key_usage.end()),
            (std::set<std::string>{"digitalSignature", "keyCertSign", "cRLSign"}));
  EXPECT_TRUE(i.extended_key_usage.empty());
  EXPECT_TRUE(i.sans.empty());
  EXPECT_FALSE(i.subject_key_id.empty());
  EXPECT_EQ(i.authority_key_id, i.subject_key_id);
  EXPECT_EQ(i.crl_distribution_points, t.crl_urls);
  EXPECT_EQ(i.ocsp_urls, t.ocsp_urls);
  EXPECT_EQ(i.ca_issuers_urls, t.ca_issuers_urls);
  EXPECT_EQ(i.policies, t.policy_oids);
  ASSERT_TRUE(i.name_constraints.has_value());
  EXPECT_TRUE(contains(i.name_constraints->permitted, "DNS:example.com"));
  EXPECT_TRUE(contains(i.name_constraints->permitted, "IP:10.0.0.0/8"));
  EXPECT_EQ(i.name_constraints->permitted.size(), 2u);
  EXPECT_EQ(i.name_constraints->excluded, (std::vector<std::string>{"DNS:bad.example.com"}));

  EXPECT_EQ(extension_oids(i),
            sorted({oid::kBasicConstraints, oid::kKeyUsage, oid::kSubjectKeyId,
                    oid::kAuthorityKeyId, oid::kCrlDistributionPoints, oid::kAuthorityInfoAccess,
                    oid::kCertificatePolicies, oid::kNameConstraints}));
  EXPECT_TRUE(extension_critical(i, oid::kBasicConstraints));
  EXPECT_TRUE(extension_critical(i, oid::kKeyUsage));
  EXPECT_TRUE(extension_critical(i, oid::kNameConstraints));
  EXPECT_FALSE(extension_critical(i, oid::kSubjectKeyId));
  EXPECT_FALSE(extension_critical(i, oid::kAuthorityKeyId));
  EXPECT_FALSE(extension_critical(i, oid::kCrlDistributionPoints));
  EXPECT_FALSE(extension_critical(i, oid::kAuthorityInfoAccess));
  EXPECT_FALSE(extension_critical(i, oid::kCertificatePolicies));

  // The self-signature verifies under the certificate's own key.
  EXPECT_EQ(X509_verify(cert.get(), key.get()), 1);
}

TEST(BuildTbs, LeafIssuedByCaLinksToItAndHasOnlyLeafExtensions) {
  const crypto::PrivateKey ca_key = make_key(crypto::KeyType::kEcP384);
  const Certificate ca = self_signed_ca(ca_key);
  const crypto::PrivateKey key = make_key();
  CertificateTemplate t = leaf_template(key.get());
  t.sans = {{SanType::kDns, "www.example.com"},   {SanType::kDns, "*.api.example.com"},
            {SanType::kIp, "192.0.2.7"},          {SanType::kIp, "2001:db8::1"},
            {SanType::kEmail, "ops@example.com"}, {SanType::kUri, "spiffe://example.com/web"}};
  t.extended_key_usage = {"serverAuth", "clientAuth"};
  // Ignored for a leaf: they only make sense on a CA.
  t.path_length = 3;
  t.name_constraints = NameConstraints{.permitted = {"DNS:example.com"}, .excluded = {}};
  const Certificate leaf = issue(t, &ca, ca_key, LintRules{});
  const CertificateInfo& i = leaf.info();

  EXPECT_EQ(i.issuer, ca.info().subject);
  EXPECT_FALSE(i.self_issued);
  EXPECT_EQ(i.authority_key_id, ca.info().subject_key_id);
  EXPECT_NE(i.subject_key_id, ca.info().subject_key_id);
  EXPECT_EQ(i.signature_algorithm, "ecdsa-with-SHA384");
  ASSERT_TRUE(i.basic_constraints.has_value());
  EXPECT_FALSE(i.basic_constraints->ca);
  EXPECT_TRUE(i.basic_constraints->critical);
  EXPECT_FALSE(i.basic_constraints->path_length.has_value());
  EXPECT_FALSE(i.name_constraints.has_value());
  EXPECT_EQ(i.key_usage, (std::vector<std::string>{"digitalSignature"}));
  EXPECT_EQ(i.extended_key_usage, (std::vector<std::string>{"serverAuth", "clientAuth"}));
  EXPECT_EQ(i.sans, t.sans);
  EXPECT_EQ(extension_oids(i),
            sorted({oid::kBasicConstraints, oid::kKeyUsage, oid::kExtKeyUsage, oid::kSubjectAltName,
                    oid::kSubjectKeyId, oid::kAuthorityKeyId}));
  EXPECT_FALSE(extension_critical(i, oid::kSubjectAltName));
  EXPECT_FALSE(extension_critical(i, oid::kExtKeyUsage));
  EXPECT_EQ(X509_verify(leaf.get(), ca_key.get()), 1);
  EXPECT_NE(X509_verify(leaf.get(), key.get()), 1);
}

// CAs older than the extension have no subjectKeyIdentifier: the authorityKeyIdentifier is
// then computed from the issuer's public key (RFC 5280 4.2.1.2, method 1), where OpenSSL's
// "keyid:always" refused to build the certificate at all.
TEST(BuildTbs, IssuerWithoutSubjectKeyIdGetsKeyIdFromItsPublicKey) {
  const crypto::PrivateKey ca_key = make_key(crypto::KeyType::kRsa2048);
  const Certificate ca = certward::testing::legacy_ca(ca_key, "CN=Legacy Root,O=Old");
  const crypto::PrivateKey key = make_key();
  const Certificate leaf = issue(leaf_template(key.get()), &ca, ca_key, LintRules{});
  EXPECT_EQ(leaf.info().authority_key_id, certward::testing::key_id_of(ca));
  EXPECT_EQ(leaf.info().authority_key_id.size(), 40u);
  EXPECT_EQ(X509_verify(leaf.get(), ca_key.get()), 1);
  VerifyOptions vo;
  vo.at = kT0 + std::chrono::days(1);
  const std::vector<Certificate> roots = {ca};
  auto verified = verify_chain(leaf, {}, roots, vo);
  EXPECT_TRUE(verified.has_value()) << verified.error().message;

  // An issuer with a subjectKeyIdentifier is named by it, even where it is not the hash:
  // relying parties match the two.
  const std::string ski = "0102030405060708090a0b0c0d0e0f10";
  const Certificate other = certward::testing::legacy_ca(ca_key, "CN=Other", nullptr, nullptr, ski);
  ASSERT_EQ(other.info().subject_key_id, ski);
  const Certificate leaf2 = issue(leaf_template(key.get()), &other, ca_key, LintRules{});
  EXPECT_EQ(leaf2.info().authority_key_id, ski);
}

TEST(BuildTbs, SelfSignedAuthorityKeyIdIsItsOwnSubjectKeyId) {
  const crypto::PrivateKey key = make_key(crypto::KeyType::kEd25519);
  const Certificate root = self_signed_ca(key);
  EXPECT_FALSE(root.info().subject_key_id.empty());
  EXPECT_EQ(root.info().authority_key_id, root.info().subject_key_id);
  EXPECT_EQ(root.info().subject_key_id, certward::testing::key_id_of(root));
}

// A delegated OCSP responder certificate (RFC 6960 4.2.2.2): id-kp-OCSPSigning and
// id-pkix-ocsp-nocheck, which OpenSSL reads back as "OCSP No Check".
TEST(BuildTbs, OcspResponderCertificateCarriesOcspSigningAndNoCheck) {
  const crypto::PrivateKey ca_key = make_key();
  const Certificate ca = self_signed_ca(ca_key);
  const crypto::PrivateKey key = make_key();
  CertificateTemplate t = leaf_template(key.get());
  t.subject = certward::testing::name("CN=Example OCSP Responder");
  t.sans.clear();
  t.extended_key_usage = {"OCSPSigning"};
  t.ocsp_nocheck = true;
  LintRules rules;
  rules.require_san = false;
  const Certificate cert = issue(t, &ca, ca_key, rules);
  EXPECT_EQ(cert.info().extended_key_usage, (std::vector<std::string>{"OCSPSigning"}));
  EXPECT_FALSE(extension_critical(cert.info(), "1.3.6.1.5.5.7.48.1.5"));

  // Its value is exactly an ASN.1 NULL.
  const int idx = X509_get_ext_by_NID(cert.get(), NID_id_pkix_OCSP_noCheck, -1);
  ASSERT_GE(idx, 0);
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_get_ext(cert.get(), idx));
  EXPECT_EQ(
      Bytes(ASN1_STRING_get0_data(value), ASN1_STRING_get0_data(value) + ASN1_STRING_length(value)),
      (Bytes{0x05, 0x00}));

  certward::testing::TempDir dir;
  {
    std::FILE* f = std::fopen(dir.file("responder.pem").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(cert.pem().c_str(), f);
    std::fclose(f);
  }
  std::string text;
  const std::string command = "openssl x509 -noout -text -in '" + dir.file("responder.pem") + "'";
  if (std::FILE* pipe = popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
    EXPECT_EQ(pclose(pipe), 0);
  }
  EXPECT_NE(text.find("OCSP No Check"), std::string::npos) << text;
  EXPECT_NE(text.find("OCSP Signing"), std::string::npos) << text;

  // Off by default.
  const Certificate plain = issue(leaf_template(key.get()), &ca, ca_key, LintRules{});
  EXPECT_LT(X509_get_ext_by_NID(plain.get(), NID_id_pkix_OCSP_noCheck, -1), 0);
}

TEST(BuildTbs, EmptySubjectMakesSanCritical) {
  const crypto::PrivateKey ca_key = make_key();
  const Certificate ca = self_signed_ca(ca_key);
  const crypto::PrivateKey key = make_key();
  CertificateTemplate t = leaf_template(key.get());
  t.subject.reset();
  const Certificate leaf = issue(t, &ca, ca_key, LintRules{});
  EXPECT_TRUE(leaf.info().subject.empty());
  EXPECT_TRUE(extension_critical(leaf.info(), oid::kSubjectAltName));
}

TEST(BuildTbs, KeyUsageNamesIncludingContentCommitment) {
  const crypto::PrivateKey ca_key = make_key();
  const Certificate ca = self_signed_ca(ca_key);
  const crypto::PrivateKey key = make_key();
  CertificateTemplate t = leaf_template(key.get());
  t.key_usage = {"digitalSignature", "contentCommitment", "keyAgreement"};
  t.extended_key_usage = {"emailProtection", "1.3.6.1.4.1.99999.1"};
  const Certificate leaf = issue(t, &ca, ca_key, LintRules{});
  EXPECT_EQ(std::set<std::string>(leaf.info().key_usage.begin(), leaf.info().key_usage.end()),
            (std::set<std::string>{"digitalSignature", "contentCommitment", "keyAgreement"}));
  EXPECT_EQ(leaf.info().extended_key_usage,
            (std::vector<std::string>{"emailProtection", "1.3.6.1.4.1.99999.1"}));
}

TEST(BuildTbs, NoKeyUsageOrEkuMeansNoSuchExtensions) {
  const crypto::PrivateKey ca_key = make_key();
  const Certificate ca = self_signed_ca(ca_key);
  const crypto::PrivateKey key = make_key();
  CertificateTemplate t = leaf_template(key.get());
  t.key_usage.clear();
  t.extended_key_usage.clear();
  const Certificate leaf = issue(t, &ca, ca_key, LintRules{});
  EXPECT_EQ(extension_oids(leaf.info()), sorted({oid::kBasicConstraints, oid::kSubjectAltName,
                                                 oid::kSubjectKeyId, oid::kAuthorityKeyId}));
}

TEST(BuildTbs, DatesPast2049UseGeneralizedTimeAndRoundTrip) {
  const crypto::PrivateKey key = make_key();
  CertificateTemplate t = ca_template(key.get(), "CN=Long Root");
  t.not_before = from_unix(2524608000);  // 2050-01-01
  t.not_after = from_unix(2840140800);   // 2060-01-01
  x509::LintRules rules = certward::testing::ca_rules();
  rules.max_validity = std::chrono::days(3660);
  const Certificate cert = issue(t, nullptr, key, rules);
  EXPECT_EQ(cert.info().not_before, t.not_before);
  EXPECT_EQ(cert.info().not_after, t.not_after);
  EXPECT_EQ(ASN1_STRING_type(X509_get0_notAfter(cert.get())), V_ASN1_GENERALIZEDTIME);
}

ErrorCode build_error(const CertificateTemplate& t, const Certificate* issuer,
                      const EVP_PKEY* issuer_key) {
  auto r = build_tbs(t, issuer, issuer_key);
  EXPECT_FALSE(r.has_value());
  return r ? ErrorCode::kInternal : r.error().code;
}

TEST(BuildTbs, RejectsBadTemplates) {
  const crypto::PrivateKey key = make_key();
  {
    CertificateTemplate t = leaf_template(key.get());
    t.public_key = nullptr;
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
  }
  {
    CertificateTemplate t = leaf_template(key.get());
    t.serial.clear();
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
  }
  {
    CertificateTemplate t = leaf_template(key.get());
    t.not_after = t.not_before;
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
    t.not_after = t.not_before - std::chrono::seconds(1);
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
  }
  {
    CertificateTemplate t = leaf_template(key.get());
    EXPECT_EQ(build_error(t, nullptr, nullptr), ErrorCode::kInvalidArgument);
  }
  {
    CertificateTemplate t = leaf_template(key.get());
    t.sans = {{SanType::kIp, "999.1.1.1"}};
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
  }
  {
    CertificateTemplate t = leaf_template(key.get());
    t.sans = {{SanType::kOther, "othername:1.2.3;UTF8:x"}};
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
  }
  {
    CertificateTemplate t = leaf_template(key.get());
    t.policy_oids = {"not an oid"};
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
  }
  {
    CertificateTemplate t = leaf_template(key.get());
    t.extended_key_usage = {"flyingAuth"};
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
  }
  {
    CertificateTemplate t = leaf_template(key.get());
    t.key_usage = {"makeCoffee"};
    EXPECT_EQ(build_error(t, nullptr, key.get()), ErrorCode::kInvalidArgument);
  }
}

// Signs with SHA-1, which no CA may use any more.
class Sha1Signer final : public crypto::Signer {
 public:
  explicit Sha1Signer(const crypto::PrivateKey& key) : key_(key) {}
  const EVP_PKEY* public_key() const override { return key_.get(); }
  Status sign_certificate(X509* cert) const override {
    if (X509_sign(cert, key_.get(), EVP_sha1()) <= 0) return fail(ErrorCode::kInternal, "sign");
    return ok();
  }
  Status sign_crl(X509_CRL*) const override { return fail(ErrorCode::kInternal, "unused"); }
  Status sign_request(X509_REQ*) const override { return fail(ErrorCode::kInternal, "unused"); }
  Result<Bytes> sign_data(std::span<const std::uint8_t>) const override {
    return fail(ErrorCode::kInternal, "unused");
  }

 private:
  const crypto::PrivateKey& key_;
};

TEST(Sign, RefusesSha1Signature) {
  const crypto::PrivateKey key = make_key(crypto::KeyType::kRsa2048);
  auto tbs = build_tbs(ca_template(key.get(), "CN=SHA1 Root"), nullptr, key.get());
  ASSERT_TRUE(tbs.has_value()) << tbs.error().message;
  auto linted = lint(std::move(*tbs), ca_rules());
  ASSERT_TRUE(linted.has_value()) << linted.error().message;
  auto cert = sign(std::move(*linted), Sha1Signer(key));
  ASSERT_FALSE(cert.has_value());
  EXPECT_EQ(cert.error().code, ErrorCode::kPolicyRejected);
}

TEST(Sign, AcceptsSha256FromTheSoftwareSigner) {
  const crypto::PrivateKey key = make_key(crypto::KeyType::kRsa2048);
  auto tbs = build_tbs(ca_template(key.get(), "CN=RSA Root"), nullptr, key.get());
  ASSERT_TRUE(tbs.has_value());
  auto linted = lint(std::move(*tbs), ca_rules());
  ASSERT_TRUE(linted.has_value());
  crypto::SoftwareSigner signer(
      std::make_shared<const crypto::PrivateKey>(crypto::up_ref(key.get())));
  auto cert = sign(std::move(*linted), signer);
  ASSERT_TRUE(cert.has_value()) << cert.error().message;
  EXPECT_EQ(cert->info().signature_algorithm, "sha256WithRSAEncryption");
}

// What the linter passed is what gets signed: a LintedTbs shows only a const view of its
// certificate, and only sign() can take the certificate out of it.
template <typename T>
concept HandsOutMutableCertificate = requires(const T& t) {
  { t.get() } -> std::convertible_to<X509*>;
};
template <typename T>
concept ReleasableByCaller = requires(T t) {
  std::move(t).release();
};
static_assert(!HandsOutMutableCertificate<LintedTbs>);
static_assert(std::is_same_v<decltype(std::declval<const LintedTbs&>().get()), const X509*>);
static_assert(!ReleasableByCaller<LintedTbs>);
static_assert(!std::is_copy_constructible_v<LintedTbs>);

TEST(Sign, PropagatesSignerFailure) {
  class FailingSigner final : public crypto::Signer {
   public:
    explicit FailingSigner(const EVP_PKEY* k) : k_(k) {}
    const EVP_PKEY* public_key() const override { return k_; }
    Status sign_certificate(X509*) const override {
      return fail(ErrorCode::kUnavailable, "hsm down");
    }
    Status sign_crl(X509_CRL*) const override { return ok(); }
    Status sign_request(X509_REQ*) const override { return ok(); }
    Result<Bytes> sign_data(std::span<const std::uint8_t>) const override { return Bytes{}; }

   private:
    const EVP_PKEY* k_;
  };
  const crypto::PrivateKey key = make_key();
  auto tbs = build_tbs(ca_template(key.get(), "CN=Root"), nullptr, key.get());
  ASSERT_TRUE(tbs.has_value());
  auto linted = lint(std::move(*tbs), ca_rules());
  ASSERT_TRUE(linted.has_value());
  auto cert = sign(std::move(*linted), FailingSigner(key.get()));
  ASSERT_FALSE(cert.has_value());
  EXPECT_EQ(cert.error().code, ErrorCode::kUnavailable);
}

TEST(RandomSerial, SixteenPositiveOctets) {
  for (int i = 0; i < 200; ++i) {
    const Bytes s = random_serial();
    ASSERT_EQ(s.size(), 16u);
    EXPECT_GE(s[0], 0x01);
    EXPECT_LE(s[0], 0x7f);
  }
}

TEST(RandomSerial, ThousandCallsAreDistinct) {
  std::set<Bytes> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(random_serial());
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RandomSerial, EncodesAsSixteenOctetPositiveInteger) {
  const crypto::PrivateKey key = make_key();
  CertificateTemplate t = ca_template(key.get(), "CN=Serial Root");
  const Certificate cert = issue(t, nullptr, key, ca_rules());
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);
  EXPECT_EQ(ASN1_STRING_length(serial), 16);
  EXPECT_EQ(cert.info().serial_hex.size(), 32u);
}

}  // namespace
}  // namespace certward::x509
