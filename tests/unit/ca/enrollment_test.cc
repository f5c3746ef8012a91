#include "ca/enrollment.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using certward::testing::extension_critical;
using certward::testing::extension_oids;
using certward::testing::sorted;
using std::chrono::days;
using std::chrono::seconds;
namespace oid = certward::testing::oid;

// A request is what any front-end may ask for: the hook that writes to the store inside the
// RA's transaction belongs to src/ca (create_subordinate), not to the request.
template <typename T>
concept CarriesTransactionHook = requires(T r) {
  r.in_transaction;
};
static_assert(!CarriesTransactionHook<EnrollmentRequest>);

class EnrollmentTest : public testing::CaFixture {};

TEST_F(EnrollmentTest, FixtureBuildsRootAndIssuingCa) {
  const x509::CertificateInfo& root = root_.info();
  EXPECT_TRUE(root.is_ca());
  EXPECT_TRUE(root.self_issued);
  EXPECT_FALSE(root.basic_constraints->path_length.has_value());
  EXPECT_EQ(root.key.curve, "P-384");
  const x509::CertificateInfo& issuing = issuing_.info();
  EXPECT_TRUE(issuing.is_ca());
  EXPECT_EQ(issuing.basic_constraints->path_length, 0);
  EXPECT_EQ(issuing.issuer, root.subject);
  EXPECT_EQ(issuing.subject_cn, "Test Issuing CA");
  EXPECT_EQ(issuing.authority_key_id, root.subject_key_id);
  EXPECT_EQ(issuing.crl_distribution_points,
            std::vector<std::string>{std::string(kCrlBase) + "/root.crl"});

  auto info = authorities_->info("issuing");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->kind, AuthorityKind::kIssuing);
  EXPECT_EQ(info->parent, "root");
  ASSERT_EQ(info->chain.size(), 1u);
  EXPECT_EQ(info->chain[0].der(), root_.der());
  auto list = authorities_->list();
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 2u);

  EXPECT_EQ(inventory_count(), 2);
  // root: authority.create; issuing: certificate.issue + authority.create.
  expect_audit_ok(3);

  std::vector<x509::Certificate> none;
  std::vector<x509::Certificate> roots = {root_};
  x509::VerifyOptions vo;
  vo.at = clock_.now();
  EXPECT_TRUE(x509::verify_chain(issuing_, none, roots, vo).has_value());
}

TEST_F(EnrollmentTest, IssuesTlsServerCertificateFromCsr) {
  EnrollmentRequest r = request({"www.example.com", "api.example.com"});
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  const x509::CertificateInfo& i = issued->certificate.info();

  EXPECT_EQ(issued->authority, "issuing");
  EXPECT_EQ(issued->profile, "tls-server");
  EXPECT_FALSE(issued->private_key.has_value());
  ASSERT_EQ(issued->chain.size(), 2u);
  EXPECT_EQ(issued->chain[0].der(), issuing_.der());
  EXPECT_EQ(issued->chain[1].der(), root_.der());
  EXPECT_TRUE(crypto::same_public_key(issued->certificate.public_key(), r.csr->public_key()));

  auto verified = verify(*issued);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(verified->path.size(), 3u);

  EXPECT_EQ(extension_oids(i),
            sorted({oid::kBasicConstraints, oid::kKeyUsage, oid::kExtKeyUsage, oid::kSubjectAltName,
                    oid::kSubjectKeyId, oid::kAuthorityKeyId, oid::kCrlDistributionPoints,
                    oid::kAuthorityInfoAccess}));
  ASSERT_TRUE(i.basic_constraints.has_value());
  EXPECT_FALSE(i.basic_constraints->ca);
  EXPECT_TRUE(extension_critical(i, oid::kBasicConstraints));
  EXPECT_TRUE(extension_critical(i, oid::kKeyUsage));
  EXPECT_FALSE(extension_critical(i, oid::kExtKeyUsage));
  EXPECT_FALSE(extension_critical(i, oid::kSubjectAltName));
  EXPECT_EQ(i.key_usage, std::vector<std::string>{"digitalSignature"});
  EXPECT_EQ(i.extended_key_usage, std::vector<std::string>{"serverAuth"});
  EXPECT_EQ(i.sans, (std::vector<x509::SubjectAltName>{{x509::SanType::kDns, "www.example.com"},
                                                       {x509::SanType::kDns, "api.example.com"}}));
  EXPECT_EQ(i.subject_cn, "www.example.com");
  EXPECT_EQ(i.issuer, issuing_.info().subject);
  EXPECT_FALSE(i.subject_key_id.empty());
  EXPECT_EQ(i.authority_key_id, issuing_.info().subject_key_id);
  EXPECT_EQ(i.crl_distribution_points,
            std::vector<std::string>{std::string(kCrlBase) + "/issuing.crl"});
  EXPECT_EQ(i.ocsp_urls, std::vector<std::string>{std::string(kOcsp)});
  EXPECT_TRUE(i.ca_issuers_urls.empty());
  EXPECT_TRUE(i.policies.empty());
  EXPECT_EQ(i.not_before, clock_.now() - seconds(300));
  EXPECT_EQ(i.not_after, i.not_before + days(90));
  EXPECT_EQ(i.serial_hex.size(), 32u);

  // Recorded and audited together.
  auto record = inventory_.get(i.sha256_hex);
  ASSERT_TRUE(record.has_value() && record->has_value());
  EXPECT_EQ((*record)->meta.origin, inventory::Origin::kIssued);
  EXPECT_EQ((*record)->meta.authority, "issuing");
  EXPECT_EQ((*record)->meta.profile, "tls-server");
  EXPECT_EQ((*record)->meta.channel, "cli");  // the channel the request came through
  audit::EventFilter f;
  f.action = "certificate.issue";
  f.target_id = i.sha256_hex;
  auto events = audit_.list(f);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event.actor, "local:root");
  EXPECT_EQ((*events)[0].event.details["serial"], i.serial_hex);
  EXPECT_EQ((*events)[0].event.details["key_generated_by_server"], false);
  expect_audit_ok(4);
}

TEST_F(EnrollmentTest, IssuesWithServerGeneratedKey) {
  EnrollmentRequest r;
  r.server_key = crypto::KeyType::kEcP384;
  r.profile = "tls-server";
  r.common_name = "svc.example.com";
  r.sans = {{x509::SanType::kIp, "192.0.2.10"}};
  r.requester = admin_;
  r.owner = "alice";
  r.tags = {"prod"};
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  ASSERT_TRUE(issued->private_key.has_value());
  EXPECT_TRUE(
      crypto::same_public_key(issued->private_key->get(), issued->certificate.public_key()));
  const x509::CertificateInfo& i = issued->certificate.info();
  EXPECT_EQ(i.key.curve, "P-384");
  EXPECT_EQ(i.subject_cn, "svc.example.com");
  // The CN is also put among the SANs.
  EXPECT_EQ(i.sans, (std::vector<x509::SubjectAltName>{{x509::SanType::kDns, "svc.example.com"},
                                                       {x509::SanType::kIp, "192.0.2.10"}}));
  EXPECT_TRUE(verify(*issued).has_value());
  auto record = inventory_.get(i.sha256_hex);
  ASSERT_TRUE(record.has_value() && record->has_value());
  EXPECT_EQ((*record)->meta.owner, "alice");
  EXPECT_EQ((*record)->meta.tags, std::vector<std::string>{"prod"});
}

TEST_F(EnrollmentTest, IssuesForAPublicKeyTheFrontEndProved) {
  auto key = crypto::generate_key(crypto::KeyType::kEcP256);
  ASSERT_TRUE(key);
  EVP_PKEY_up_ref(key->get());
  EnrollmentRequest r;
  r.public_key = std::shared_ptr<EVP_PKEY>(key->get(), EVP_PKEY_free);
  r.profile = "tls-server";
  r.common_name = "crmf.example.com";
  r.requester = admin_;
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_FALSE(issued->private_key.has_value());
  EXPECT_TRUE(crypto::same_public_key(key->get(), issued->certificate.public_key()));
  EXPECT_EQ(issued->certificate.info().subject_cn, "crmf.example.com");
  EXPECT_TRUE(verify(*issued).has_value());

  // The profile judges the key as it judges a CSR's; and only one source of key is given.
  const auto inv = inventory_count();
  const auto events = audit_count();
  auto ed = crypto::generate_key(crypto::KeyType::kEd25519);
  ASSERT_TRUE(ed);
  EVP_PKEY_up_ref(ed->get());
  EnrollmentRequest refused = r;
  refused.public_key = std::shared_ptr<EVP_PKEY>(ed->get(), EVP_PKEY_free);
  expect_refused(ra_->enroll(refused), ErrorCode::kPolicyRejected, inv, events);
  EnrollmentRequest both = r;
  both.server_key = crypto::KeyType::kEcP256;
  expect_refused(ra_->enroll(both), ErrorCode::kInvalidArgument, inv, events);
}

TEST_F(EnrollmentTest, RsaKeyInTlsServerGetsKeyEncipherment) {
  EnrollmentRequest r = request({"rsa.example.com"});
  r.csr = csr({"rsa.example.com"}, crypto::KeyType::kRsa2048);
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_EQ(issued->certificate.info().key_usage,
            (std::vector<std::string>{"digitalSignature", "keyEncipherment"}));
  EXPECT_TRUE(verify(*issued).has_value());
}

TEST_F(EnrollmentTest, KeyTypeNotAllowedByProfile) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  EnrollmentRequest server;
  server.server_key = crypto::KeyType::kEd25519;
  server.profile = "tls-server";
  server.sans = {{x509::SanType::kDns, "ed.example.com"}};
  server.requester = admin_;
  expect_refused(ra_->enroll(server), ErrorCode::kPolicyRejected, inv, events);

  EnrollmentRequest from_csr = request({"ed.example.com"});
  from_csr.csr = csr({"ed.example.com"}, crypto::KeyType::kEd25519);
  expect_refused(ra_->enroll(from_csr), ErrorCode::kPolicyRejected, inv, events);

  EnrollmentRequest code = request({"signer.example.com"}, "code-signing");
  code.csr = csr({"signer.example.com"}, crypto::KeyType::kRsa2048);
  expect_refused(ra_->enroll(code), ErrorCode::kPolicyRejected, inv, events);
}

TEST_F(EnrollmentTest, NameOutsideAllowedDomainsWritesNothing) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  expect_refused(ra_->enroll(request({"evil-example.com"}, "internal")), ErrorCode::kPolicyRejected,
                 inv, events);
  expect_refused(ra_->enroll(request({"www.example.com", "www.example.org"}, "internal")),
                 ErrorCode::kPolicyRejected, inv, events);
  expect_refused(ra_->enroll(request({"*.example.com"}, "internal")), ErrorCode::kPolicyRejected,
                 inv, events);
  auto ok = ra_->enroll(request({"www.example.com"}, "internal"));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(inventory_count(), inv + 1);
}

TEST_F(EnrollmentTest, UnknownProfileOrAuthorityWritesNothing) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  expect_refused(ra_->enroll(request({"www.example.com"}, "no-such-profile")), ErrorCode::kNotFound,
                 inv, events);
  EnrollmentRequest r = request({"www.example.com"});
  r.authority = "no-such-ca";
  expect_refused(ra_->enroll(r), ErrorCode::kNotFound, inv, events);
}

TEST_F(EnrollmentTest, ValidityLimits) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  EnrollmentRequest too_long = request({"www.example.com"});
  too_long.validity = days(399);
  expect_refused(ra_->enroll(too_long), ErrorCode::kPolicyRejected, inv, events);
  EnrollmentRequest zero = request({"www.example.com"});
  zero.validity = seconds(0);
  expect_refused(ra_->enroll(zero), ErrorCode::kInvalidArgument, inv, events);

  EnrollmentRequest max = request({"www.example.com"});
  max.validity = days(398);
  auto issued = ra_->enroll(max);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  const auto& i = issued->certificate.info();
  EXPECT_EQ(i.not_after - i.not_before, days(398));
}

TEST_F(EnrollmentTest, RootSignsOnlyCas) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  EnrollmentRequest r = request({"www.example.com"});
  r.authority = "root";
  expect_refused(ra_->enroll(r), ErrorCode::kPolicyRejected, inv, events);
}

TEST_F(EnrollmentTest, IssuingCaWithPathLengthZeroCannotSignCas) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  SubordinateOptions o;
  o.name = "below-issuing";
  o.parent = "issuing";
  o.subject = "CN=Too Deep CA";
  expect_refused(create_subordinate(*ra_, *authorities_, o, admin_), ErrorCode::kPolicyRejected,
                 inv, events);
  EXPECT_EQ(authority_count(), 2);
  auto missing = authorities_->info("below-issuing");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(EnrollmentTest, IntermediateLeavesRoomForOneIssuingLevel) {
  SubordinateOptions mid;
  mid.name = "intermediate";
  mid.kind = AuthorityKind::kIntermediate;
  mid.parent = "root";
  mid.subject = "CN=Test Intermediate CA";
  auto m = create_subordinate(*ra_, *authorities_, mid, admin_);
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->certificate.info().basic_constraints->path_length, 1);

  SubordinateOptions leafca;
  leafca.name = "deep-issuing";
  leafca.parent = "intermediate";
  leafca.subject = "CN=Deep Issuing CA";
  auto d = create_subordinate(*ra_, *authorities_, leafca, admin_);
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->chain.size(), 2u);

  EnrollmentRequest r = request({"deep.example.com"});
  r.authority = "deep-issuing";
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  ASSERT_EQ(issued->chain.size(), 3u);
  auto verified = verify(*issued);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(verified->path.size(), 4u);

  // A path length the parent cannot grant is refused.
  SubordinateOptions greedy;
  greedy.name = "greedy";
  greedy.kind = AuthorityKind::kIntermediate;
  greedy.parent = "intermediate";
  greedy.subject = "CN=Greedy";
  greedy.path_length = 1;
  auto g = create_subordinate(*ra_, *authorities_, greedy, admin_);
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().code, ErrorCode::kPolicyRejected);
}

TEST_F(EnrollmentTest, SubordinateNameMustBeNewAndValid) {
  SubordinateOptions dup;
  dup.name = "issuing";
  dup.parent = "root";
  dup.subject = "CN=Duplicate";
  auto d = create_subordinate(*ra_, *authorities_, dup, admin_);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code, ErrorCode::kConflict);
  SubordinateOptions bad = dup;
  bad.name = "Bad Name";
  auto b = create_subordinate(*ra_, *authorities_, bad, admin_);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(authority_count(), 2);
}

TEST_F(EnrollmentTest, RequiresApprovalIsRefused) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  expect_refused(ra_->enroll(request({"www.example.com"}, "approval")), ErrorCode::kPolicyRejected,
                 inv, events);
}

TEST_F(EnrollmentTest, ValidityIsTruncatedAtTheIssuersNotAfter) {
  SubordinateOptions o;
  o.name = "short-lived";
  o.parent = "root";
  o.subject = "CN=Short Lived CA";
  o.validity = days(30);
  auto ca = create_subordinate(*ra_, *authorities_, o, admin_);
  ASSERT_TRUE(ca.has_value()) << ca.error().message;
  EnrollmentRequest r = request({"www.example.com"});
  r.authority = "short-lived";
  auto issued = ra_->enroll(r);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_EQ(issued->certificate.info().not_after, ca->certificate.info().not_after);
  EXPECT_TRUE(verify(*issued).has_value());

  // Once the issuer has expired, nothing more is issued.
  clock_.advance(days(31));
  const auto inv = inventory_count();
  const auto events = audit_count();
  EnrollmentRequest late = request({"www.example.com"});
  late.authority = "short-lived";
  expect_refused(ra_->enroll(late), ErrorCode::kPolicyRejected, inv, events);
}

TEST_F(EnrollmentTest, NeedsExactlyOneKeySource) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  EnrollmentRequest both = request({"www.example.com"});
  both.server_key = crypto::KeyType::kEcP256;
  expect_refused(ra_->enroll(both), ErrorCode::kInvalidArgument, inv, events);
  EnrollmentRequest neither = request({"www.example.com"});
  neither.csr.reset();
  expect_refused(ra_->enroll(neither), ErrorCode::kInvalidArgument, inv, events);
}

TEST_F(EnrollmentTest, RequestShapeErrors) {
  const auto inv = inventory_count();
  const auto events = audit_count();
  EnrollmentRequest subject = request({"www.example.com"});
  subject.subject = "CN=Chosen,O=Me";
  expect_refused(ra_->enroll(subject), ErrorCode::kInvalidArgument, inv, events);
  EnrollmentRequest path = request({"www.example.com"});
  path.path_length = 1;
  expect_refused(ra_->enroll(path), ErrorCode::kInvalidArgument, inv, events);
  EnrollmentRequest nameless;
  nameless.server_key = crypto::KeyType::kEcP256;
  nameless.profile = "tls-client";
  nameless.requester = admin_;
  expect_refused(ra_->enroll(nameless), ErrorCode::kInvalidArgument, inv, events);
}

TEST_F(EnrollmentTest, WrongMasterKeyCannotLoadAuthorities) {
  const crypto::KeyWrapper other = testing::random_wrapper();
  AuthorityService service(clock_, *db_, other, audit_, inventory_, settings_);
  auto loaded = service.load("issuing");
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kBadPassword);
  // Public information is still readable.
  EXPECT_TRUE(service.info("issuing").has_value());

  const auto inv = inventory_count();
  const auto events = audit_count();
  Enrollment ra(clock_, *db_, service, profiles_, inventory_, audit_);
  expect_refused(ra.enroll(request({"www.example.com"})), ErrorCode::kBadPassword, inv, events);
}

TEST_F(EnrollmentTest, SameMasterKeyLoadsAuthoritiesInANewService) {
  AuthorityService service(clock_, *db_, wrapper_, audit_, inventory_, settings_);
  auto loaded = service.load("issuing");
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ((*loaded)->certificate().der(), issuing_.der());
  EXPECT_TRUE(signs_with_key_of(**loaded, issuing_));
  auto again = service.load("issuing");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(loaded->get(), again->get());
}

// Many callers at once: every one gets its own certificate, stored with its audit event, and
// the writer's counters (taken after SetUp, which issues the issuing CA) add up exactly, since
// a commit is counted before its callers return. That the writer really batches is shown
// deterministically by EnrollmentWriterTest.QueuedRequestsAreStoredInOneCommit.
TEST_F(EnrollmentTest, ConcurrentEnrollmentsAreAllStoredAndCounted) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  const Enrollment::Stats before = ra_->stats();
  const auto inv = inventory_count();
  const auto events = audit_count();
  const x509::Csr shared = csr({"load.example.com"});
  std::vector<std::vector<std::string>> serials(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EnrollmentRequest r;
        r.csr = shared;
        r.profile = "tls-server";
        r.requester = admin_;
        r.channel = Channel::kRest;
        auto issued = ra_->enroll(std::move(r));
        if (!issued) {
          ++failures[static_cast<std::size_t>(t)];
          continue;
        }
        serials[static_cast<std::size_t>(t)].push_back(issued->certificate.info().serial_hex);
      }
    });
  }
  for (auto& th : threads) th.join();

  std::set<std::string> distinct;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[static_cast<std::size_t>(t)], 0);
    distinct.insert(serials[static_cast<std::size_t>(t)].begin(),
                    serials[static_cast<std::size_t>(t)].end());
  }
  constexpr int kTotal = kThreads * kPerThread;
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kTotal));
  EXPECT_EQ(inventory_count(), inv + kTotal);
  const Enrollment::Stats after = ra_->stats();
  const auto commits = after.commits - before.commits;
  const auto certificates = after.certificates - before.certificates;
  EXPECT_EQ(certificates, static_cast<std::uint64_t>(kTotal));
  EXPECT_GE(commits, 1u);
  EXPECT_LE(commits, certificates);
  expect_audit_ok(events + kTotal);
}

}  // namespace
}  // namespace certward::ca
