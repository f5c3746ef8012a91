// Certificate findings against certificates made for the purpose: each condition alone, at
// times on both sides of its boundary, so a finding that is always or never raised fails.
#include "discovery/findings.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>

#include "unit/x509/test_certs.h"

namespace certward::discovery {
namespace {

namespace xt = x509::testing;

std::vector<std::string> codes(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.code);
  std::ranges::sort(out);
  return out;
}

std::vector<std::string> findings_at(const x509::Certificate& cert, std::time_t t) {
  return codes(certificate_findings(cert, xt::sys_time(t)));
}

using Codes = std::vector<std::string>;

TEST(CertificateFindings, ValidityAtBothSidesOfEachBoundary) {
  const xt::Pki pki;  // leaf valid kT0 .. kT0 + 90 days
  const std::time_t start = xt::kT0;
  const std::time_t end = xt::kT0 + 90 * xt::kDay;
  EXPECT_EQ(findings_at(pki.leaf, start - 1), Codes{"not_yet_valid"});
  EXPECT_EQ(findings_at(pki.leaf, start), Codes{});
  EXPECT_EQ(findings_at(pki.leaf, end - 31 * xt::kDay), Codes{});
  EXPECT_EQ(findings_at(pki.leaf, end - 29 * xt::kDay), Codes{"expiring"});
  EXPECT_EQ(findings_at(pki.leaf, end), Codes{"expiring"});
  EXPECT_EQ(findings_at(pki.leaf, end + 1), Codes{"expired"});
  // The window is the caller's.
  EXPECT_EQ(codes(certificate_findings(pki.leaf,
                                       xt::sys_time(end - 29 * xt::kDay), std::chrono::days(7))),
            Codes{});
  const auto expired = certificate_findings(pki.leaf, xt::sys_time(end + 1));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].severity, Severity::kCritical);
  EXPECT_EQ(expired[0].fingerprint, pki.leaf.info().sha256_hex);
}

TEST(CertificateFindings, RootsAreNotSelfSignedFindingsButSelfSignedServersAre) {
  const xt::Pki pki;
  EXPECT_EQ(findings_at(pki.root, xt::kT0), Codes{});
  EXPECT_EQ(findings_at(pki.intermediate, xt::kT0), Codes{});
  // What `openssl req -x509` makes: self-signed, CA:TRUE, no key usage.
  const auto key = xt::test_key();
  const auto server = xt::make_cert({.subject = "/CN=self.example",
                                     .extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                                                    {NID_subject_alt_name, "DNS:self.example"}}},
                                    key.get(), nullptr, key.get());
  EXPECT_EQ(findings_at(server, xt::kT0), Codes{"self_signed"});
  // Same subject and issuer names but signed by another key: not self-signed.
  const auto other = xt::test_key();
  const auto named_alike = xt::make_cert(
      {.subject = "/CN=self.example", .extensions = xt::leaf_extensions("DNS:self.example")},
      key.get(), nullptr, other.get());
  EXPECT_EQ(findings_at(named_alike, xt::kT0), Codes{});
}

TEST(CertificateFindings, WeakRsaKeyAndSha1Signature) {
  const xt::Pki pki;
  crypto::Handle<EVP_PKEY, EVP_PKEY_free> rsa1024(EVP_RSA_gen(1024));
  crypto::Handle<EVP_PKEY, EVP_PKEY_free> rsa2048(EVP_RSA_gen(2048));
  ASSERT_TRUE(rsa1024 && rsa2048);
  const xt::CertSpec spec{.subject = "/CN=weak.example",
                          .extensions = xt::leaf_extensions("DNS:weak.example")};
  const auto weak = xt::make_cert(spec, rsa1024.get(), &pki.intermediate, pki.int_key.get());
  EXPECT_EQ(findings_at(weak, xt::kT0), Codes{"weak_key"});
  const auto strong = xt::make_cert(spec, rsa2048.get(), &pki.intermediate, pki.int_key.get());
  EXPECT_EQ(findings_at(strong, xt::kT0), Codes{});

  // Re-signed with SHA-1 by the intermediate.
  crypto::X509Ptr sha1 =
      xt::make_x509(spec, rsa2048.get(), pki.intermediate.get(), pki.int_key.get());
  ASSERT_GT(X509_sign(sha1.get(), pki.int_key.get(), EVP_sha1()), 0);
  auto sha1_cert = x509::Certificate::from_der(xt::der_of(sha1.get()));
  ASSERT_TRUE(sha1_cert) << sha1_cert.error().message;
  EXPECT_EQ(findings_at(*sha1_cert, xt::kT0), Codes{"sha1_signature"});
  // A self-signed root's own SHA-1 signature is nobody's concern.
  crypto::X509Ptr root = xt::make_x509(
      {.subject = "/CN=Old Root", .extensions = xt::ca_extensions("critical,CA:TRUE")},
      rsa2048.get(), nullptr, rsa2048.get());
  ASSERT_GT(X509_sign(root.get(), rsa2048.get(), EVP_sha1()), 0);
  auto old_root = x509::Certificate::from_der(xt::der_of(root.get()));
  ASSERT_TRUE(old_root);
  EXPECT_EQ(findings_at(*old_root, xt::kT0), Codes{});
}

}  // namespace
}  // namespace certward::discovery
