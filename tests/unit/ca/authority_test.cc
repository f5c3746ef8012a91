#include "ca/authority.h"

#include <gtest/gtest.h>

#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using certward::testing::ca_rules;
using certward::testing::ca_template;
using certward::testing::make_key;
using std::chrono::days;

// An authority's signer signs anything, linted or not: outside src/ca only the public key and
// sign(LintedTbs) are reachable.
template <typename T>
concept HandsOutSigner = requires(const T& a) {
  a.signer();
};
static_assert(!HandsOutSigner<Authority>);

Bytes pem_bytes(const x509::Certificate& c) {
  const std::string pem = c.pem();
  return Bytes(pem.begin(), pem.end());
}

Bytes key_bytes(const crypto::PrivateKey& key,
                std::optional<std::string_view> passphrase = std::nullopt) {
  auto pem = key.to_pkcs8_pem(passphrase);
  CW_CHECK(pem.has_value());
  return Bytes(pem->span().begin(), pem->span().end());
}

class AuthorityTest : public testing::CaFixture {
 protected:
  // A CA made outside this database: a self-signed root and its key.
  const crypto::PrivateKey ext_key_ = make_key(crypto::KeyType::kEcP256);
  const x509::Certificate ext_root_ =
      certward::testing::self_signed_ca(ext_key_, "CN=External Root CA,O=Elsewhere");

  ImportOptions import_options(std::string name) {
    ImportOptions o;
    o.name = std::move(name);
    o.certificate = pem_bytes(ext_root_);
    o.private_key = key_bytes(ext_key_);
    return o;
  }
};

TEST_F(AuthorityTest, CreateRootRecordsAuthorityInventoryAndAudit) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  RootOptions o;
  o.name = "second-root";
  o.subject = "CN=Second Root,O=Example";
  o.key_type = crypto::KeyType::kRsa3072;
  o.validity = days(3650);
  o.path_length = 2;
  o.name_constraints = x509::NameConstraints{.permitted = {"DNS:example.com"}, .excluded = {}};
  auto r = authorities_->create_root(o, "user:admin");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const x509::CertificateInfo& i = r->certificate.info();
  EXPECT_EQ(r->kind, AuthorityKind::kRoot);
  EXPECT_EQ(r->key_type, "rsa-3072");
  EXPECT_TRUE(r->chain.empty());
  EXPECT_TRUE(i.self_issued);
  EXPECT_TRUE(i.is_ca());
  EXPECT_EQ(i.basic_constraints->path_length, 2);
  EXPECT_EQ(i.key.bits, 3072);
  EXPECT_EQ(i.not_after - i.not_before, days(3650));
  EXPECT_EQ(i.not_before, clock_.now() - std::chrono::seconds(300));
  ASSERT_TRUE(i.name_constraints.has_value());
  EXPECT_EQ(i.name_constraints->permitted, std::vector<std::string>{"DNS:example.com"});
  EXPECT_EQ(inventory_count(), inv + 1);
  EXPECT_EQ(audit_count(), events + 1);
  auto record = inventory_.get(i.sha256_hex);
  ASSERT_TRUE(record.has_value() && record->has_value());
  EXPECT_EQ((*record)->meta.authority, "second-root");
  EXPECT_TRUE((*record)->is_ca);
  auto loaded = authorities_->load("second-root");
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_TRUE(signs_with_key_of(**loaded, r->certificate));
}

TEST_F(AuthorityTest, CreateRootRejectsBadOptions) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  RootOptions dup;
  dup.name = "root";
  dup.subject = "CN=Dup";
  expect_refused(authorities_->create_root(dup, "x"), ErrorCode::kConflict, inv, events);
  RootOptions bad_name;
  bad_name.name = "-root";
  bad_name.subject = "CN=X";
  expect_refused(authorities_->create_root(bad_name, "x"), ErrorCode::kInvalidArgument, inv,
                 events);
  RootOptions bad_subject;
  bad_subject.name = "r2";
  bad_subject.subject = "NOPE=x";
  expect_refused(authorities_->create_root(bad_subject, "x"), ErrorCode::kMalformed, inv, events);
  EXPECT_EQ(authority_count(), 2);
}

TEST_F(AuthorityTest, NewAuthoritiesCannotTakeTheNameOfADeltaCrl) {
  // /crl/issuing-delta.crl is issuing's delta CRL: an authority of that name would hide it
  // behind its own full CRL, signed by another key.
  const auto inv = inventory_count();
  const auto events = audit_count();
  RootOptions root;
  root.name = "issuing-delta";
  root.subject = "CN=Shadow Root";
  expect_refused(authorities_->create_root(root, "x"), ErrorCode::kInvalidArgument, inv, events);
  SubordinateOptions sub;
  sub.name = "issuing-delta";
  sub.parent = "root";
  sub.subject = "CN=Shadow Issuing";
  expect_refused(create_subordinate(*ra_, *authorities_, sub, admin_), ErrorCode::kInvalidArgument,
                 inv, events);
  EXPECT_EQ(authority_count(), 2);
  sub.name = "delta-issuing";  // only the suffix is taken
  EXPECT_TRUE(create_subordinate(*ra_, *authorities_, sub, admin_).has_value());
}

TEST(AuthorityName, Rules) {
  for (const char* ok : {"a", "root", "issuing-2", "web_ca", "0ca"}) {
    EXPECT_TRUE(check_authority_name(ok).has_value()) << ok;
  }
  for (const char* bad : {"", "-a", "_a", "Root", "a b", "a.b", "a/b"}) {
    auto r = check_authority_name(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(check_authority_name(std::string(65, 'a')).has_value());
  EXPECT_TRUE(check_authority_name(std::string(64, 'a')).has_value());
}

TEST(DistributionUrls, FromSettings) {
  CaSettings s;
  EXPECT_TRUE(distribution_urls(s, "x").crl.empty());
  s.crl_base_url = "http://h/crl";
  s.ocsp_url = "http://h/ocsp";
  s.ca_issuers_base_url = "http://h/ca";
  const DistributionUrls u = distribution_urls(s, "issuing");
  EXPECT_EQ(u.crl, std::vector<std::string>{"http://h/crl/issuing.crl"});
  EXPECT_EQ(u.ocsp, std::vector<std::string>{"http://h/ocsp"});
  EXPECT_EQ(u.ca_issuers, std::vector<std::string>{"http://h/ca/issuing.crt"});
}

TEST_F(AuthorityTest, ImportRefusesMismatchedKey) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  ImportOptions o = import_options("ext");
  o.private_key = key_bytes(make_key());
  expect_refused(authorities_->import(o, "x"), ErrorCode::kPolicyRejected, inv, events);
  EXPECT_EQ(authority_count(), 2);
}

TEST_F(AuthorityTest, ImportRefusesNonCaCertificate) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  const crypto::PrivateKey leaf_key = make_key();
  const x509::Certificate leaf = certward::testing::issue(
      certward::testing::leaf_template(leaf_key.get()), &ext_root_, ext_key_, x509::LintRules{});
  ImportOptions o = import_options("ext");
  o.certificate = pem_bytes(leaf);
  o.private_key = key_bytes(leaf_key);
  expect_refused(authorities_->import(o, "x"), ErrorCode::kPolicyRejected, inv, events);
}

TEST_F(AuthorityTest, ImportEncryptedKeyNeedsTheRightPassphrase) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  ImportOptions o = import_options("ext");
  o.private_key = key_bytes(ext_key_, "correct horse");
  o.key_passphrase = crypto::SecretBytes::copy_of("wrong horse");
  expect_refused(authorities_->import(o, "x"), ErrorCode::kBadPassword, inv, events);
  o.key_passphrase.reset();
  expect_refused(authorities_->import(o, "x"), ErrorCode::kBadPassword, inv, events);
  o.key_passphrase = crypto::SecretBytes::copy_of("correct horse");
  auto r = authorities_->import(o, "user:admin");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(inventory_count(), inv + 1);
  EXPECT_EQ(audit_count(), events + 1);
}

TEST_F(AuthorityTest, ImportRefusesGarbageAndDuplicates) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  ImportOptions garbage = import_options("ext");
  garbage.certificate = Bytes{'n', 'o', 'p', 'e'};
  expect_refused(authorities_->import(garbage, "x"), ErrorCode::kMalformed, inv, events);
  ImportOptions bad_key = import_options("ext");
  bad_key.private_key = Bytes{'n', 'o', 'p', 'e'};
  expect_refused(authorities_->import(bad_key, "x"), ErrorCode::kMalformed, inv, events);
  ImportOptions taken = import_options("issuing");
  expect_refused(authorities_->import(taken, "x"), ErrorCode::kConflict, inv, events);
}

TEST_F(AuthorityTest, ImportedRootIssuesVerifiableCertificates) {
  auto imported = authorities_->import(import_options("ext-root"), "user:admin");
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_EQ(imported->kind, AuthorityKind::kRoot);
  EXPECT_TRUE(imported->imported);
  EXPECT_EQ(imported->key_type, "ec-p256");
  auto info = authorities_->info("ext-root");
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->imported);
  EXPECT_EQ(info->certificate.der(), ext_root_.der());

  SubordinateOptions o;
  o.name = "ext-issuing";
  o.parent = "ext-root";
  o.subject = "CN=External Issuing CA,O=Elsewhere";
  auto sub = create_subordinate(*ra_, *authorities_, o, admin_);
  ASSERT_TRUE(sub.has_value()) << sub.error().message;

  EnrollmentRequest r = request({"www.example.com"});
  r.authority = "ext-issuing";
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  ASSERT_EQ(issued->chain.size(), 2u);
  EXPECT_EQ(issued->chain.back().der(), ext_root_.der());
  auto verified = verify(*issued);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  expect_audit_ok(audit_count());
}

TEST_F(AuthorityTest, ImportedIssuingCaWithChainSignsDirectly) {
  const crypto::PrivateKey mid_key = make_key();
  x509::CertificateTemplate t = ca_template(mid_key.get(), "CN=External Issuing,O=Elsewhere");
  t.path_length = 0;
  t.not_after = t.not_before + days(365);
  const x509::Certificate mid = certward::testing::issue(t, &ext_root_, ext_key_, ca_rules());
  ImportOptions o;
  o.name = "ext-issuing";
  o.certificate = pem_bytes(mid);
  o.private_key = key_bytes(mid_key);
  o.chain = pem_bytes(ext_root_);
  auto imported = authorities_->import(o, "user:admin");
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_EQ(imported->kind, AuthorityKind::kIssuing);
  ASSERT_EQ(imported->chain.size(), 1u);

  EnrollmentRequest r = request({"www.example.com"});
  r.authority = "ext-issuing";
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  auto verified = verify(*issued);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(verified->path.size(), 3u);
}

TEST_F(AuthorityTest, ImportRefusesAChainThatDoesNotVerify) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  const crypto::PrivateKey mid_key = make_key();
  const x509::Certificate mid = certward::testing::issue(
      ca_template(mid_key.get(), "CN=External Issuing"), &ext_root_, ext_key_, ca_rules());
  ImportOptions o;
  o.name = "ext-issuing";
  o.certificate = pem_bytes(mid);
  o.private_key = key_bytes(mid_key);
  o.chain = pem_bytes(root_);  // not its issuer
  expect_refused(authorities_->import(o, "x"), ErrorCode::kBadSignature, inv, events);
}

TEST_F(AuthorityTest, ImportVerifiesTheChainAtTheServiceClock) {
  // Valid around the fake clock's "now" (2025) but long expired by any real clock.
  clock_.set(from_unix(946684800));  // 2000-01-01
  const crypto::PrivateKey root_key = make_key();
  x509::CertificateTemplate rt = ca_template(root_key.get(), "CN=Old Root");
  rt.not_before = from_unix(946684800 - 86400);
  rt.not_after = from_unix(946684800 + 30 * 86400);
  const x509::Certificate old_root = certward::testing::issue(rt, nullptr, root_key, ca_rules());
  const crypto::PrivateKey mid_key = make_key();
  x509::CertificateTemplate mt = ca_template(mid_key.get(), "CN=Old Issuing");
  mt.not_before = rt.not_before;
  mt.not_after = rt.not_after;
  const x509::Certificate mid = certward::testing::issue(mt, &old_root, root_key, ca_rules());
  ImportOptions o;
  o.name = "old-issuing";
  o.certificate = pem_bytes(mid);
  o.private_key = key_bytes(mid_key);
  o.chain = pem_bytes(old_root);
  auto r = authorities_->import(o, "x");
  ASSERT_TRUE(r.has_value()) << r.error().message;
}

}  // namespace
}  // namespace certward::ca

namespace certward::ca {
namespace {

class AuthorityFreshnessTest : public testing::CaFixture {};

TEST_F(AuthorityFreshnessTest, DisabledAuthorityStopsSigningAtOnceInThisProcess) {
  ASSERT_TRUE(ra_->enroll(request({"before.example.com"})).has_value());
  ASSERT_TRUE(authorities_->set_enabled("issuing", false, "local:root"));
  const auto inv = inventory_count();
  const auto events = audit_count();
  expect_refused(ra_->enroll(request({"after.example.com"})), ErrorCode::kPolicyRejected, inv,
                 events);
  EXPECT_EQ(authorities_->info("issuing")->status, "disabled");
  ASSERT_TRUE(authorities_->set_enabled("issuing", true, "local:root"));
  EXPECT_TRUE(ra_->enroll(request({"again.example.com"})).has_value());

  audit::EventFilter f;
  f.target_id = "issuing";
  f.newest_first = false;
  auto changes = audit_.list(f);
  ASSERT_TRUE(changes.has_value());
  std::vector<std::string> actions;
  for (const auto& e : *changes) actions.push_back(e.event.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"authority.create", "authority.disable",
                                               "authority.enable"}));
}

TEST_F(AuthorityFreshnessTest, AnotherReplicaStopsWithinTheRecheckInterval) {
  // A second process over the same database: its own cache, its own RA.
  AuthorityService replica(clock_, *db_, wrapper_, audit_, inventory_, settings_);
  Enrollment replica_ra(clock_, *db_, replica, profiles_, inventory_, audit_);
  ASSERT_TRUE(replica_ra.enroll(request({"cached.example.com"})).has_value());

  ASSERT_TRUE(authorities_->set_enabled("issuing", false, "local:root"));
  // The replica may finish what it had confirmed within the interval, never longer.
  clock_.advance(settings_.authority_recheck);
  auto refused = replica_ra.enroll(request({"late.example.com"}));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPolicyRejected);

  ASSERT_TRUE(authorities_->set_enabled("issuing", true, "local:root"));
  EXPECT_TRUE(replica_ra.enroll(request({"back.example.com"})).has_value());
}

TEST_F(AuthorityFreshnessTest, EnablingTwiceOrAnUnknownAuthorityIsRefused) {
  auto again = authorities_->set_enabled("issuing", true, "local:root");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto unknown = authorities_->set_enabled("nope", false, "local:root");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace certward::ca
