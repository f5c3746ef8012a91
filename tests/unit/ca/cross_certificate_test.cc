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
                                 const crypto::PrivateKey& issuer_key, bool ca = true,
                                 std::optional<int> path_length = std::nullopt,
                                 std::optional<SysTime> not_before = std::nullopt) {
    auto t = ca_template(subject.public_key(), "CN=placeholder");
    t.subject.reset(X509_NAME_dup(X509_get_subject_name(subject.get())));
    t.path_length = path_length;
    if (not_before) t.not_before = *not_before;
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

  // Imports `cert` with its `key` as authority `name` (below `parent`, if any).
  void import(const std::string& name, const x509::Certificate& cert, const crypto::PrivateKey& key,
              std::optional<std::string> parent = std::nullopt) {
    ImportOptions o;
    o.name = name;
    const std::string pem = cert.pem();
    o.certificate.assign(pem.begin(), pem.end());
    auto k = key.to_pkcs8_pem();
    CW_CHECK(k.has_value());
    o.private_key = std::move(*k);
    o.parent = std::move(parent);
    auto imported = authorities_->import(o, "local:test");
    ASSERT_TRUE(imported.has_value()) << imported.error().message;
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
  // The name in capitals: equal to X509_NAME_cmp, not to a verifier that compares bytes.
  {
    auto t = ca_template(root_.public_key(), "CN=TEST ROOT CA,O=CERTWARD TESTS");
    const auto upper = certward::testing::issue(t, &other_root_, other_root_key_, ca_rules());
    EXPECT_EQ(code("root", pem_of({upper})), ErrorCode::kPolicyRejected);
  }
  // Not valid yet, or a certificate above it not valid yet.
  EXPECT_EQ(code("root", pem_of({cross(root_, other_root_, other_root_key_, true, std::nullopt,
                                       clock_.now() + std::chrono::days(1))})),
            ErrorCode::kPolicyRejected);
  {
    auto t = ca_template(other_root_key_.get(), "CN=Other Root,O=Elsewhere");
    t.not_before = clock_.now() + std::chrono::days(1);
    const auto later_root = certward::testing::issue(t, nullptr, other_root_key_, ca_rules());
    EXPECT_EQ(code("root", pem_of({cross(root_, later_root, other_root_key_), later_root})),
              ErrorCode::kPolicyRejected);
  }
  // A path length limit the CAs below the authority do not fit in: the root has none, the
  // issuing CA 0, so the root's cross-certificate may have none, and the CA that signs the
  // issuing CA's must allow one below it.
  EXPECT_EQ(code("root", pem_of({cross(root_, other_root_, other_root_key_, true, 3)})),
            ErrorCode::kPolicyRejected);
  {
    auto t = ca_template(other_sub_key_.get(), "CN=Other Intermediate,O=Elsewhere");
    t.path_length = 0;
    const auto tight = certward::testing::issue(t, &other_root_, other_root_key_, ca_rules());
    EXPECT_EQ(code("issuing", pem_of({cross(issuing_, tight, other_sub_key_), tight})),
              ErrorCode::kPolicyRejected);
  }
  // A chain that repeats itself, or comes back to the authority or below it.
  {
    const auto x = cross(issuing_, other_sub_, other_sub_key_);
    EXPECT_EQ(code("issuing", pem_of({x, other_sub_, other_root_, other_root_})),
              ErrorCode::kPolicyRejected);
    // A root certified by the CA below it: a loop. Both imported, so that the key below is
    // at hand.
    const auto my_root_key = make_key();
    const auto my_root = certward::testing::self_signed_ca(my_root_key, "CN=My Root,O=Loop");
    const auto my_sub_key = make_key();
    const auto my_sub = certward::testing::issue(ca_template(my_sub_key.get(), "CN=My Sub,O=Loop"),
                                                 &my_root, my_root_key, ca_rules());
    import("my-root", my_root, my_root_key);
    import("my-sub", my_sub, my_sub_key, "my-root");
    const auto loop = cross(my_root, my_sub, my_sub_key);
    EXPECT_EQ(code("my-root", pem_of({loop})), ErrorCode::kPolicyRejected);
    EXPECT_EQ(code("my-root", pem_of({loop, my_sub})), ErrorCode::kPolicyRejected);
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
  // Nothing audited but the two imports the loop needed.
  EXPECT_EQ(audit_count(), events + 2);
  EXPECT_TRUE(authorities_->cross_certificates("root")->empty());
  EXPECT_TRUE(authorities_->cross_certificates("my-root")->empty());
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

TEST_F(CrossCertificateTest, OneThatExpiresAfterItWasAddedIsNoLongerOffered) {
  auto t = ca_template(root_.public_key(), "CN=placeholder");
  t.subject.reset(X509_NAME_dup(X509_get_subject_name(root_.get())));
  t.not_after = clock_.now() + std::chrono::days(2);
  const auto short_lived = certward::testing::issue(t, &other_root_, other_root_key_, ca_rules());
  ASSERT_TRUE(add("root", pem_of({short_lived})).has_value());
  const auto l = leaf();
  EXPECT_EQ(alternates({l, issuing_})->size(), 1u);
  clock_.advance(std::chrono::days(3));
  EXPECT_TRUE(alternates({l, issuing_})->empty());
}

TEST_F(CrossCertificateTest, AlternatesAreCappedAndKeepTheOrderTheyWereAddedIn) {
  // All in the same second: the order is still the order of adding.
  std::vector<std::string> added;
  for (int i = 0; i < 10; ++i) {
    const auto x = cross(root_, other_root_, other_root_key_);
    ASSERT_TRUE(add("root", pem_of({x})).has_value());
    added.push_back(x.info().sha256_hex);
  }
  const auto l = leaf();
  auto alts = alternates({l, issuing_});
  ASSERT_TRUE(alts.has_value());
  ASSERT_EQ(alts->size(), AuthorityService::kMaxAlternateChains);
  for (std::size_t i = 0; i < alts->size(); ++i) {
    EXPECT_EQ((*alts)[i].back().info().sha256_hex, added[i]) << i;
  }
  auto list = authorities_->cross_certificates("root");
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), added.size());
  for (std::size_t i = 0; i < added.size(); ++i) EXPECT_EQ((*list)[i].fingerprint(), added[i]);
}

TEST_F(CrossCertificateTest, RemovingTakesTheFingerprintAsItIsShownAnywhere) {
  const auto x = cross(root_, other_root_, other_root_key_);
  ASSERT_TRUE(add("root", pem_of({x})).has_value());
  std::string shown;  // upper case with colons, as openssl x509 -fingerprint shows it
  for (std::size_t i = 0; i < x.info().sha256_hex.size(); i += 2) {
    if (i) shown += ':';
    shown += x.info().sha256_hex.substr(i, 2);
  }
  std::transform(shown.begin(), shown.end(), shown.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  // A prefix names nothing.
  EXPECT_EQ(authorities_->remove_cross_certificate("root", x.info().sha256_hex.substr(0, 16), "t")
                .error()
                .code,
            ErrorCode::kNotFound);
  EXPECT_TRUE(authorities_->remove_cross_certificate("root", shown, "t").has_value());
  EXPECT_TRUE(authorities_->cross_certificates("root")->empty());
}

}  // namespace
}  // namespace certward::ca
