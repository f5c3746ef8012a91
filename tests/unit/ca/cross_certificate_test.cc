#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "unit/ca/fixture.h"
#include "x509/bundle.h"

namespace certward::ca {
namespace {

using certward::testing::ca_rules;
using certward::testing::ca_template;
using certward::testing::make_key;

std::string pem_of(std::vector<x509::Certificate> certs) { return x509::to_pem(certs); }

std::vector<std::string> fingerprints(const std::vector<x509::Certificate>& certs) {
  std::vector<std::string> out;
  for (const auto& c : certs) out.push_back(c.info().sha256_hex);
  return out;
}

class CrossCertificateTest : public testing::CaFixture {
 protected:
  // Another PKI: a root and an intermediate below it, made outside this database.
  const crypto::PrivateKey other_root_key_ = make_key();
  const x509::Certificate other_root_ =
      certward::testing::self_signed_ca(other_root_key_, "CN=Other Root,O=Elsewhere");
  const crypto::PrivateKey other_sub_key_ = make_key();
  const x509::Certificate other_sub_ = certward::testing::issue(
      ca_template(other_sub_key_.get(), "CN=Other Intermediate,O=Elsewhere"), &other_root_,
      other_root_key_, ca_rules());

  // `subject`'s name and key, signed by `issuer` with `issuer_key`.
  static x509::Certificate cross(const x509::Certificate& subject, const x509::Certificate& issuer,
                                 const crypto::PrivateKey& issuer_key, bool ca = true) {
    auto t = ca_template(subject.public_key(), "CN=placeholder");
    t.subject.reset(X509_NAME_dup(X509_get_subject_name(subject.get())));
    if (!ca) {
      t.is_ca = false;
      t.key_usage = {"digitalSignature"};
    }
    auto rules = ca_rules();
    rules.expect_ca = ca;
    return certward::testing::issue(t, &issuer, issuer_key, rules);
  }

  Result<CrossCertificate> add(std::string_view authority, const std::string& bundle) {
    return authorities_->add_cross_certificate(authority, as_bytes(bundle), "local:test");
  }

  Result<std::vector<std::vector<x509::Certificate>>> alternates(
      const std::vector<x509::Certificate>& chain) {
    auto tx = db_->begin(store::TxMode::kRead);
    CW_CHECK(tx.has_value());
    return authorities_->alternate_chains(**tx, pem_of(chain));
  }

  x509::Certificate leaf() {
    auto issued = ra_->enroll(request({"www.example.com"}));
    CW_CHECK(issued.has_value());
    return issued->certificate;
  }
};

TEST_F(CrossCertificateTest, NoCrossCertificateGivesNoAlternate) {
  auto alts = alternates({leaf(), issuing_});
  ASSERT_TRUE(alts.has_value()) << alts.error().message;
  EXPECT_TRUE(alts->empty());
}

TEST_F(CrossCertificateTest, TheRootCrossSignedExtendsTheChainAboveItsTop) {
  const auto x = cross(root_, other_root_, other_root_key_);
  const auto events = audit_count();
  auto added = add("root", pem_of({x, other_root_}));
  ASSERT_TRUE(added.has_value()) << added.error().message;
  EXPECT_EQ(added->fingerprint(), x.info().sha256_hex);
  EXPECT_EQ(audit_count(), events + 1);

  const auto l = leaf();
  // Served without the root, as ACME serves it, and with it: the same alternate, ending in
  // the cross-certificate (the other root is the client's trust anchor, not sent).
  for (const auto& chain : {std::vector{l, issuing_}, std::vector{l, issuing_, root_}}) {
    auto alts = alternates(chain);
    ASSERT_TRUE(alts.has_value()) << alts.error().message;
    ASSERT_EQ(alts->size(), 1u);
    EXPECT_EQ(fingerprints(alts->front()), fingerprints({l, issuing_, x}));
  }
  // The alternate verifies up to the other root alone.
  auto alts = alternates({l, issuing_});
  std::vector<x509::Certificate> untrusted(alts->front().begin() + 1, alts->front().end());
  const std::vector<x509::Certificate> roots = {other_root_};
  x509::VerifyOptions vo;
  vo.at = clock_.now();
  auto verified = x509::verify_chain(l, untrusted, roots, vo);
  EXPECT_TRUE(verified.has_value()) << verified.error().message;
}

TEST_F(CrossCertificateTest, AnIntermediateCrossSignedReplacesItsPartOfTheChain) {
  const auto x = cross(issuing_, other_sub_, other_sub_key_);
  ASSERT_TRUE(add("issuing", pem_of({x, other_sub_, other_root_})).has_value());
  const auto l = leaf();
  auto alts = alternates({l, issuing_});
  ASSERT_TRUE(alts.has_value()) << alts.error().message;
  ASSERT_EQ(alts->size(), 1u);
  // The other root is left out; its intermediate is sent.
  EXPECT_EQ(fingerprints(alts->front()), fingerprints({l, x, other_sub_}));

  // Listed and removed again; the alternate goes with it, audited.
  auto list = authorities_->cross_certificates("issuing");
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().chain.size(), 2u);
  const auto events = audit_count();
  ASSERT_TRUE(authorities_->remove_cross_certificate("issuing", x.info().sha256_hex, "local:test")
                  .has_value());
  EXPECT_EQ(audit_count(), events + 1);
  EXPECT_TRUE(alternates({l, issuing_})->empty());
  EXPECT_EQ(authorities_->remove_cross_certificate("issuing", x.info().sha256_hex, "local:test")
                .error()
                .code,
            ErrorCode::kNotFound);
}

TEST_F(CrossCertificateTest, SeveralCrossCertificatesGiveAlternatesOldestFirst) {
  const auto a = cross(root_, other_root_, other_root_key_);
  const auto b = cross(issuing_, other_sub_, other_sub_key_);
  ASSERT_TRUE(add("root", pem_of({a})).has_value());
  clock_.advance(std::chrono::seconds(1));
  ASSERT_TRUE(add("issuing", pem_of({b, other_sub_})).has_value());
  const auto l = leaf();
  auto alts = alternates({l, issuing_});
  ASSERT_TRUE(alts.has_value());
  ASSERT_EQ(alts->size(), 2u);
  EXPECT_EQ(fingerprints((*alts)[0]), fingerprints({l, issuing_, a}));
  EXPECT_EQ(fingerprints((*alts)[1]), fingerprints({l, b, other_sub_}));
}

TEST_F(CrossCertificateTest, WhatIsNotACrossCertificateOfTheAuthorityIsRefusedAndChangesNothing) {
  const auto events = audit_count();
  auto code = [&](std::string_view authority, const std::string& bundle) {
    auto r = add(authority, bundle);
    return r ? ErrorCode{} : r.error().code;
  };
  // Another authority's name and key.
  EXPECT_EQ(code("root", pem_of({cross(issuing_, other_root_, other_root_key_)})),
            ErrorCode::kPolicyRejected);
  // The authority's own certificate, and a re-issue by its own key.
  EXPECT_EQ(code("root", pem_of({root_})), ErrorCode::kPolicyRejected);
  // The same key under a name that is almost the authority's.
  {
    auto t = ca_template(root_.public_key(), "CN=Test Root CA,O=Certward Test");
    const auto near = certward::testing::issue(t, &other_root_, other_root_key_, ca_rules());
    EXPECT_EQ(code("root", pem_of({near})), ErrorCode::kPolicyRejected);
  }
  // Not a CA certificate.
  EXPECT_EQ(code("root", pem_of({cross(root_, other_root_, other_root_key_, false)})),
            ErrorCode::kPolicyRejected);
  // A chain that does not link: the other intermediate did not sign it.
  EXPECT_EQ(code("root", pem_of({cross(root_, other_root_, other_root_key_), other_sub_})),
            ErrorCode::kPolicyRejected);
  // Expired by now.
  {
    const auto x = cross(root_, other_root_, other_root_key_);
    clock_.advance(std::chrono::days(3651));
    EXPECT_EQ(code("root", pem_of({x})), ErrorCode::kPolicyRejected);
    clock_.advance(-std::chrono::days(3651));
  }
  // Garbage, nothing, an unknown authority.
  EXPECT_EQ(code("root", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            ErrorCode::kMalformed);
  EXPECT_EQ(code("root", ""), ErrorCode::kMalformed);
  EXPECT_EQ(code("nobody", pem_of({cross(root_, other_root_, other_root_key_)})),
            ErrorCode::kNotFound);
  // Too long a chain.
  {
    std::vector<x509::Certificate> long_chain = {cross(root_, other_root_, other_root_key_)};
    for (int i = 0; i < 9; ++i) long_chain.push_back(other_root_);
    EXPECT_EQ(code("root", pem_of(long_chain)), ErrorCode::kMalformed);
  }
  EXPECT_EQ(audit_count(), events);
  EXPECT_TRUE(authorities_->cross_certificates("root")->empty());
}

TEST_F(CrossCertificateTest, TheSameCrossCertificateTwiceIsAConflictAndTheNumberIsCapped) {
  const auto x = cross(root_, other_root_, other_root_key_);
  ASSERT_TRUE(add("root", pem_of({x})).has_value());
  EXPECT_EQ(add("root", pem_of({x})).error().code, ErrorCode::kConflict);
  for (std::size_t i = 1; i < AuthorityService::kMaxCrossCertificates; ++i) {
    ASSERT_TRUE(add("root", pem_of({cross(root_, other_root_, other_root_key_)})).has_value());
  }
  EXPECT_EQ(add("root", pem_of({cross(root_, other_root_, other_root_key_)})).error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(authorities_->cross_certificates("root")->size(),
            AuthorityService::kMaxCrossCertificates);
  EXPECT_EQ(authorities_->cross_certificates("nobody").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace certward::ca
