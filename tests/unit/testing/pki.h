#pragma once
// Small certificate-making helpers for tests, built on x509::build_tbs / lint / sign.

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "crypto/crypto.h"
#include "x509/builder.h"
#include "x509/names.h"

namespace certward::testing {

// 2025-01-02T03:04:05Z.
inline const SysTime kT0 = from_unix(1735787045);

inline crypto::PrivateKey make_key(crypto::KeyType type = crypto::KeyType::kEcP256) {
  auto key = crypto::generate_key(type);
  CW_CHECK(key.has_value());
  return std::move(*key);
}

inline std::shared_ptr<const crypto::PrivateKey> shared_key(
    crypto::KeyType type = crypto::KeyType::kEcP256) {
  return std::make_shared<const crypto::PrivateKey>(make_key(type));
}

inline crypto::X509NamePtr name(std::string_view text) {
  auto n = x509::parse_name(text);
  CW_CHECK(n.has_value());
  return std::move(*n);
}

// A TLS server leaf template: 90 days from kT0, a random serial, one DNS name.
inline x509::CertificateTemplate leaf_template(const EVP_PKEY* key) {
  x509::CertificateTemplate t;
  t.subject = name("CN=www.example.com");
  t.sans = {{x509::SanType::kDns, "www.example.com"}};
  t.public_key = key;
  t.serial = x509::random_serial();
  t.not_before = kT0;
  t.not_after = kT0 + std::chrono::days(90);
  t.key_usage = {"digitalSignature"};
  t.extended_key_usage = {"serverAuth"};
  return t;
}

// A CA template: 10 years from kT0, no SANs.
inline x509::CertificateTemplate ca_template(const EVP_PKEY* key, std::string_view subject) {
  x509::CertificateTemplate t;
  t.subject = name(subject);
  t.public_key = key;
  t.serial = x509::random_serial();
  t.not_before = kT0;
  t.not_after = kT0 + std::chrono::days(3650);
  t.key_usage = {"digitalSignature", "keyCertSign", "cRLSign"};
  t.is_ca = true;
  return t;
}

inline x509::LintRules ca_rules() {
  x509::LintRules r;
  r.max_validity = std::chrono::days(3650);
  r.require_san = false;
  r.expect_ca = true;
  return r;
}

// Builds, lints and signs; aborts the test on any error.
inline x509::Certificate issue(const x509::CertificateTemplate& t, const x509::Certificate* issuer,
                               const crypto::PrivateKey& issuer_key, const x509::LintRules& rules) {
  auto tbs = x509::build_tbs(t, issuer, issuer_key.get());
  CW_CHECK(tbs.has_value());
  auto linted = x509::lint(std::move(*tbs), rules);
  if (!linted) ADD_FAILURE() << linted.error().message;
  CW_CHECK(linted.has_value());
  crypto::SoftwareSigner signer(
      std::make_shared<const crypto::PrivateKey>(crypto::up_ref(issuer_key.get())));
  auto cert = x509::sign(std::move(*linted), signer);
  CW_CHECK(cert.has_value());
  return *cert;
}

inline x509::Certificate self_signed_ca(const crypto::PrivateKey& key,
                                        std::string_view subject = "CN=Test Root CA,O=Test") {
  return issue(ca_template(key.get(), subject), nullptr, key, ca_rules());
}

inline std::vector<std::string> extension_oids(const x509::CertificateInfo& info) {
  std::vector<std::string> out;
  for (const auto& e : info.extensions) out.push_back(e.oid);
  std::sort(out.begin(), out.end());
  return out;
}

inline bool extension_critical(const x509::CertificateInfo& info, std::string_view oid) {
  for (const auto& e : info.extensions)
    if (e.oid == oid) return e.critical;
  ADD_FAILURE() << "no extension " << oid;
  return false;
}

namespace oid {
inline constexpr std::string_view kBasicConstraints = "2.5.29.19";
inline constexpr std::string_view kKeyUsage = "2.5.29.15";
inline constexpr std::string_view kExtKeyUsage = "2.5.29.37";
inline constexpr std::string_view kSubjectAltName = "2.5.29.17";
inline constexpr std::string_view kSubjectKeyId = "2.5.29.14";
inline constexpr std::string_view kAuthorityKeyId = "2.5.29.35";
inline constexpr std::string_view kCrlDistributionPoints = "2.5.29.31";
inline constexpr std::string_view kAuthorityInfoAccess = "1.3.6.1.5.5.7.1.1";
inline constexpr std::string_view kCertificatePolicies = "2.5.29.32";
inline constexpr std::string_view kNameConstraints = "2.5.29.30";
}  // namespace oid

inline std::vector<std::string> sorted(std::vector<std::string_view> v) {
  std::vector<std::string> out(v.begin(), v.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace certward::testing
