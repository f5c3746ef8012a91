#pragma once
// A complete, hermetic CA stack for tests: fake clock, a SQLite database in a temporary
// directory, audit log, inventory, authorities sealed under a random master key, the built-in
// profiles plus a few test profiles, and the RA. SetUp creates a root ("root") and an issuing
// CA ("issuing", path length 0) under it.

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "ca/authority.h"
#include "ca/crl_publisher.h"
#include "ca/enrollment.h"
#include "ca/ocsp_responder.h"
#include "ca/profile.h"
#include "ca/revocation.h"
#include "unit/testing/pki.h"
#include "unit/testing/test_db.h"
#include "x509/csr.h"
#include "x509/verify.h"

namespace certward::ca::testing {

inline crypto::KeyWrapper random_wrapper() {
  auto w = crypto::KeyWrapper::create(crypto::SecretBytes(crypto::random_bytes(32)));
  CW_CHECK(w.has_value());
  return std::move(*w);
}

inline std::vector<ProfileSettings> test_profile_settings() {
  std::vector<ProfileSettings> out;
  ProfileSettings internal;
  internal.name = "internal";
  internal.allowed_domains = std::vector<std::string>{"example.com"};
  internal.allow_wildcards = false;
  out.push_back(internal);
  ProfileSettings approval;
  approval.name = "approval";
  approval.requires_approval = true;
  out.push_back(approval);
  return out;
}

inline ProfileSet test_profiles() {
  auto p = ProfileSet::create(test_profile_settings());
  CW_CHECK(p.has_value());
  return std::move(*p);
}

class CaFixture : public ::testing::Test {
 protected:
  static constexpr std::string_view kCrlBase = "http://pki.example.com/crl";
  static constexpr std::string_view kOcsp = "http://pki.example.com/ocsp";

  CaFixture() {
    settings_.crl_base_url = std::string(kCrlBase);
    settings_.ocsp_url = std::string(kOcsp);
  }

  void SetUp() override {
    ASSERT_TRUE(audit::AuditLog::migrate(*db_).has_value());
    ASSERT_TRUE(inventory::Inventory::migrate(*db_).has_value());
    ASSERT_TRUE(AuthorityService::migrate(*db_).has_value());
    ASSERT_TRUE(CrlPublisher::migrate(*db_).has_value());
    authorities_ =
        std::make_unique<AuthorityService>(clock_, *db_, wrapper_, audit_, inventory_, settings_);
    ra_ = std::make_unique<Enrollment>(clock_, *db_, *authorities_, profiles_, inventory_, audit_);
    revocation_ =
        std::make_unique<RevocationService>(clock_, *db_, *authorities_, inventory_, audit_);
    crls_ = std::make_unique<CrlPublisher>(clock_, *db_, *authorities_, inventory_,
                                           revocation_settings_, settings_);
    RootOptions root;
    root.name = "root";
    root.subject = "CN=Test Root CA,O=Certward Tests";
    auto r = authorities_->create_root(root, "local:root");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    root_ = r->certificate;
    SubordinateOptions sub;
    sub.name = "issuing";
    sub.parent = "root";
    sub.subject = "CN=Test Issuing CA,O=Certward Tests";
    auto s = create_subordinate(*ra_, *authorities_, sub, admin_);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    issuing_ = s->certificate;
  }

  // A CSR for `names` (the first is also the CN) under a fresh key of `type`.
  x509::Csr csr(const std::vector<std::string>& names,
                crypto::KeyType type = crypto::KeyType::kEcP256) {
    const crypto::PrivateKey key = certward::testing::make_key(type);
    return csr_for(key, names);
  }
  static x509::Csr csr_for(const crypto::PrivateKey& key, const std::vector<std::string>& names) {
    std::vector<x509::SubjectAltName> sans;
    for (const auto& n : names) sans.push_back(*x509::parse_san(n));
    const std::string subject = names.empty() ? "" : "CN=" + names.front();
    auto der = x509::make_csr_der(key, subject, sans);
    CW_CHECK(der.has_value());
    auto parsed = x509::parse_csr(*der);
    CW_CHECK(parsed.has_value());
    return *parsed;
  }

  EnrollmentRequest request(const std::vector<std::string>& names,
                            std::string profile = "tls-server") {
    EnrollmentRequest r;
    r.csr = csr(names);
    r.profile = std::move(profile);
    r.requester = admin_;
    return r;
  }

  std::int64_t inventory_count() {
    auto n = inventory_.count();
    CW_CHECK(n.has_value());
    return *n;
  }
  std::int64_t audit_count() { return certward::testing::count_rows(*db_, "audit_events"); }
  std::int64_t authority_count() { return certward::testing::count_rows(*db_, "authorities"); }

  // Expects `r` to fail with `code` and nothing to have been written.
  template <typename T>
  void expect_refused(const Result<T>& r, ErrorCode code, std::int64_t inventory_before,
                      std::int64_t audit_before) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_EQ(inventory_count(), inventory_before);
    EXPECT_EQ(audit_count(), audit_before);
  }

  void expect_audit_ok(std::int64_t events) {
    auto v = audit_.verify();
    ASSERT_TRUE(v.has_value());
    EXPECT_TRUE(v->ok) << v->problem;
    EXPECT_EQ(v->events_checked, events);
  }

  // Whether `a` signs with the key certified by `cert`: a CA certificate it issues verifies
  // under that key.
  bool signs_with_key_of(const Authority& a, const x509::Certificate& cert) {
    const crypto::PrivateKey key = certward::testing::make_key();
    const auto subject = certward::testing::name("CN=Signing Probe");
    Order o;
    o.profile = "probe";
    o.subject = subject.get();
    o.public_key = key.get();
    o.now = clock_.now();
    o.validity = std::chrono::days(1);
    o.max_validity = std::chrono::days(1);
    // A root signs only CAs; an issuing CA with path length 0 signs only leaves.
    o.is_ca = a.info().kind == AuthorityKind::kRoot;
    o.key_usage = o.is_ca ? std::vector<std::string>{"keyCertSign", "cRLSign"}
                          : std::vector<std::string>{"digitalSignature"};
    auto issued = a.issue(o);
    return issued && X509_verify(issued->certificate.get(), cert.public_key()) == 1;
  }

  Result<x509::VerifiedChain> verify(const IssuedCertificate& issued,
                                     x509::Purpose purpose = x509::Purpose::kTlsServer) {
    std::vector<x509::Certificate> untrusted(issued.chain.begin(), issued.chain.end() - 1);
    std::vector<x509::Certificate> roots = {issued.chain.back()};
    x509::VerifyOptions options;
    options.at = clock_.now();
    options.purpose = purpose;
    return x509::verify_chain(issued.certificate, untrusted, roots, options);
  }

  certward::testing::TempDir dir_;
  certward::testing::ScratchDatabase db_;  // SQLite, or PostgreSQL under with-postgres.sh
  FakeClock clock_{certward::testing::kT0};
  audit::AuditLog audit_{clock_, *db_};
  inventory::Inventory inventory_{clock_, *db_, audit_};
  crypto::KeyWrapper wrapper_ = random_wrapper();
  CaSettings settings_;
  ProfileSet profiles_ = test_profiles();
  Requester admin_{.actor = "local:root", .team = {}, .scope = {}};
  std::unique_ptr<AuthorityService> authorities_;
  std::unique_ptr<Enrollment> ra_;  // declared last: stopped before the rest goes
  std::unique_ptr<RevocationService> revocation_;
  RevocationSettings revocation_settings_;
  std::unique_ptr<CrlPublisher> crls_;
  x509::Certificate root_;
  x509::Certificate issuing_;
};

}  // namespace certward::ca::testing
