#include "ca/revocation.h"

#include <gtest/gtest.h>

#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using std::chrono::days;
using std::chrono::hours;

class RevocationTest : public testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    if (HasFatalFailure()) return;
    service_ = std::make_unique<RevocationService>(clock_, *db_, *authorities_, inventory_, audit_);
    service_->set_observer([this](const std::string& a) { notified_.push_back(a); });
  }

  IssuedCertificate issue(const std::string& name, std::optional<std::string> team = {},
                          std::vector<std::string> tags = {}) {
    EnrollmentRequest r = request({name});
    r.team = std::move(team);
    r.tags = std::move(tags);
    auto out = ra_->enroll(r);
    CW_CHECK(out.has_value());
    return std::move(*out);
  }

  RevokeRequest revoke_request(const IssuedCertificate& c,
                               RevocationReason reason = RevocationReason::kKeyCompromise) {
    RevokeRequest r;
    r.id = c.certificate.info().sha256_hex;
    r.reason = reason;
    r.requester = admin_;
    return r;
  }

  Requester team_requester(std::string team) {
    return {
        .actor = "token:" + team,
        .team = team,
        .scope = Scope{.profiles = {"tls-server"}, .domains = {"example.com"}, .authorities = {}}};
  }

  std::unique_ptr<RevocationService> service_;
  std::vector<std::string> notified_;
};

TEST_F(RevocationTest, RevokesOneCertificateRecordsAndAuditsIt) {
  const auto c = issue("one.example.com");
  const auto events = audit_count();
  RevokeRequest r = revoke_request(c);
  r.invalidity_date = clock_.now() - hours(2);
  auto revoked = service_->revoke(r);
  ASSERT_TRUE(revoked.has_value()) << revoked.error().message;
  EXPECT_EQ(revoked->status(clock_.now()), inventory::CertStatus::kRevoked);
  EXPECT_EQ(revoked->revoked_at, clock_.now());
  EXPECT_EQ(revoked->revocation_reason, 1);
  EXPECT_EQ(revoked->invalidity_date, clock_.now() - hours(2));
  EXPECT_EQ(audit_count(), events + 1);
  EXPECT_EQ(notified_, std::vector<std::string>{"issuing"});
  expect_audit_ok(audit_count());

  auto crl = inventory_.revoked_by("issuing", clock_.now(), std::nullopt);
  ASSERT_TRUE(crl.has_value());
  ASSERT_EQ(crl->size(), 1u);
  EXPECT_EQ((*crl)[0].serial, c.certificate.info().serial_hex);
  EXPECT_EQ((*crl)[0].reason, 1);

  auto again = service_->revoke(r);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(audit_count(), events + 1);
}

TEST_F(RevocationTest, RefusesWhatItCannotRevoke) {
  const auto inv = inventory_count();
  const auto c = issue("two.example.com");
  const auto events = audit_count();
  auto expect = [&](const RevokeRequest& r, ErrorCode code) {
    auto out = service_->revoke(r);
    ASSERT_FALSE(out.has_value()) << r.id;
    EXPECT_EQ(out.error().code, code) << out.error().message;
    EXPECT_EQ(audit_count(), events);
  };
  // A certificate certward did not issue (imported), a CA certificate, an unknown id.
  const auto outside =
      certward::testing::self_signed_ca(certward::testing::make_key(), "CN=Elsewhere");
  auto tx = db_->begin();
  ASSERT_TRUE(tx.has_value());
  ASSERT_TRUE(inventory_.record(**tx, outside, {}).has_value());
  ASSERT_TRUE((*tx)->commit().has_value());
  RevokeRequest imported = revoke_request(c);
  imported.id = outside.info().sha256_hex;
  expect(imported, ErrorCode::kInvalidArgument);
  RevokeRequest ca = revoke_request(c);
  ca.id = issuing_.info().sha256_hex;
  expect(ca, ErrorCode::kInvalidArgument);
  RevokeRequest unknown = revoke_request(c);
  unknown.id = std::string(64, 'a');
  expect(unknown, ErrorCode::kNotFound);
  RevokeRequest future = revoke_request(c);
  future.invalidity_date = clock_.now() + hours(1);
  expect(future, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(parse_revocation_reason("certificateHold").has_value());
  EXPECT_FALSE(parse_revocation_reason("removeFromCRL").has_value());
  EXPECT_FALSE(parse_revocation_reason("7").has_value());
  EXPECT_EQ(parse_revocation_reason("key-compromise").value(), RevocationReason::kKeyCompromise);
  EXPECT_EQ(parse_revocation_reason("4").value(), RevocationReason::kSuperseded);
  EXPECT_GE(inventory_count(), inv);
}

TEST_F(RevocationTest, RequestersRevokeOnlyTheirTeamsCertificates) {
  const auto theirs = issue("theirs.example.com", "payments");
  const auto other = issue("other.example.com", "web");
  RevokeRequest r = revoke_request(other);
  r.requester = team_requester("payments");
  auto refused = service_->revoke(r);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);
  r = revoke_request(theirs);
  r.requester = team_requester("payments");
  EXPECT_TRUE(service_->revoke(r).has_value());
}

TEST_F(RevocationTest, BulkRevocationListsThenRevokesExactlyWhatItShowed) {
  for (int i = 0; i < 5; ++i) issue("b" + std::to_string(i) + ".example.com", "payments", {"pci"});
  issue("keep.example.com", "payments");
  issue("web.example.com", "web", {"pci"});
  BulkRevokeRequest b;
  b.selection.team = "payments";
  b.selection.tag = "pci";
  b.reason = RevocationReason::kCessationOfOperation;
  b.requester = admin_;
  b.dry_run = true;
  const auto events = audit_count();
  auto dry = service_->revoke_bulk(b);
  ASSERT_TRUE(dry.has_value()) << dry.error().message;
  EXPECT_EQ(dry->matched, 5);
  EXPECT_FALSE(dry->revoked);
  EXPECT_EQ(audit_count(), events);

  b.dry_run = false;
  auto no_count = service_->revoke_bulk(b);
  ASSERT_FALSE(no_count.has_value());
  EXPECT_EQ(no_count.error().code, ErrorCode::kInvalidArgument);
  // One more matches now: the stale count is refused and nothing is revoked.
  issue("late.example.com", "payments", {"pci"});
  b.expected_count = 5;
  auto stale = service_->revoke_bulk(b);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_EQ(audit_count(), events + 1);  // the late issuance only

  b.expected_count = 6;
  auto done = service_->revoke_bulk(b);
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_TRUE(done->revoked);
  EXPECT_EQ(done->matched, 6);
  EXPECT_EQ(audit_count(), events + 1 + 6);
  inventory::Filter revoked;
  revoked.status = inventory::CertStatus::kRevoked;
  auto page = inventory_.query(revoked, {});
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->items.size(), 6u);
  expect_audit_ok(audit_count());

  BulkRevokeRequest empty;
  empty.requester = admin_;
  empty.dry_run = true;
  auto nothing = service_->revoke_bulk(empty);
  ASSERT_FALSE(nothing.has_value());
  EXPECT_EQ(nothing.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(RevocationTest, BulkByKeyTakesEveryCertificateOfThatKey) {
  const crypto::PrivateKey key = certward::testing::make_key();
  for (const char* name : {"k1.example.com", "k2.example.com"}) {
    EnrollmentRequest r;
    r.csr = csr_for(key, {name});
    r.profile = "tls-server";
    r.requester = admin_;
    ASSERT_TRUE(ra_->enroll(r).has_value());
  }
  issue("other-key.example.com");
  auto record = inventory_.query({}, {});
  ASSERT_TRUE(record.has_value());
  std::string key_hash;
  for (const auto& rec : record->items)
    if (rec.common_name == "k1.example.com") key_hash = rec.key_sha256;
  ASSERT_EQ(key_hash.size(), 64u);
  BulkRevokeRequest b;
  b.selection.key_sha256 = key_hash;
  b.reason = RevocationReason::kKeyCompromise;
  b.requester = admin_;
  b.expected_count = 2;
  auto done = service_->revoke_bulk(b);
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_EQ(done->matched, 2);
}

TEST_F(RevocationTest, ScopedBulkStaysInsideTheTeam) {
  issue("p.example.com", "payments");
  issue("w.example.com", "web");
  BulkRevokeRequest b;
  b.selection.authority = "issuing";
  b.requester = team_requester("payments");
  b.dry_run = true;
  auto mine = service_->revoke_bulk(b);
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->matched, 1);
  b.selection.team = "web";
  auto theirs = service_->revoke_bulk(b);
  ASSERT_FALSE(theirs.has_value());
  EXPECT_EQ(theirs.error().code, ErrorCode::kUnauthorized);
}

TEST_F(RevocationTest, RevokedAuthoritySignsNothingAndItsParentListsIt) {
  auto revoked = service_->revoke_authority("issuing", RevocationReason::kCaCompromise, {}, admin_);
  ASSERT_TRUE(revoked.has_value()) << revoked.error().message;
  EXPECT_EQ(revoked->status, "revoked");
  auto refused = ra_->enroll(request({"after.example.com"}));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPolicyRejected);
  auto arl = inventory_.revoked_by("root", clock_.now(), std::nullopt);
  ASSERT_TRUE(arl.has_value());
  ASSERT_EQ(arl->size(), 1u);
  EXPECT_EQ((*arl)[0].serial, issuing_.info().serial_hex);
  EXPECT_EQ((*arl)[0].reason, 2);
  EXPECT_EQ(notified_, (std::vector<std::string>{"issuing", "root"}));

  auto again = service_->revoke_authority("issuing", RevocationReason::kCaCompromise, {}, admin_);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto enable = authorities_->set_enabled("issuing", true, "local:root");
  ASSERT_FALSE(enable.has_value());
  EXPECT_EQ(enable.error().code, ErrorCode::kConflict);
  auto root = service_->revoke_authority("root", RevocationReason::kCaCompromise, {}, admin_);
  ASSERT_FALSE(root.has_value());
  EXPECT_EQ(root.error().code, ErrorCode::kInvalidArgument);
  expect_audit_ok(audit_count());
}

TEST_F(RevocationTest, ObserversMayWriteToTheDatabase) {
  // The server's observer schedules CRL publication, a write: with SQLite's one writer
  // connection it waited for the revocation's own, and failed after the busy timeout.
  std::vector<bool> wrote;
  service_->set_observer([&](const std::string&) {
    auto tx = db_->begin(store::TxMode::kWrite);
    wrote.push_back(tx.has_value());
  });
  const auto one = issue("one.example.com");
  ASSERT_TRUE(service_->revoke(revoke_request(one)).has_value());
  issue("bulk.example.com", {}, {"bulk"});
  BulkRevokeRequest bulk;
  bulk.selection.tag = "bulk";
  bulk.requester = admin_;
  bulk.expected_count = 1;
  ASSERT_TRUE(service_->revoke_bulk(bulk).has_value());
  ASSERT_TRUE(service_->revoke_authority("issuing", RevocationReason::kCaCompromise, {}, admin_)
                  .has_value());
  EXPECT_EQ(wrote, (std::vector<bool>{true, true, true, true}));
}

}  // namespace
}  // namespace certward::ca

namespace certward::ca {
namespace {

TEST_F(RevocationTest, ScheduledRevocationAsksForReplacementNowAndRevokesWhenDue) {
  const auto a = issue("s1.example.com", "payments");
  const auto b = issue("s2.example.com", "payments");
  const auto other = issue("keep.example.com", "web");
  BulkRevokeRequest r;
  r.selection.team = "payments";
  r.reason = RevocationReason::kSuperseded;
  r.requester = admin_;
  r.expected_count = 2;
  r.at = clock_.now() + std::chrono::hours(2);
  auto scheduled = service_->revoke_bulk(r);
  ASSERT_TRUE(scheduled.has_value()) << scheduled.error().message;
  EXPECT_TRUE(scheduled->scheduled);
  EXPECT_FALSE(scheduled->revoked);
  auto rec = inventory_.get(a.certificate.info().sha256_hex);
  ASSERT_TRUE(rec.has_value() && rec->has_value());
  EXPECT_FALSE((*rec)->revoked_at) << "not revoked before its time";
  ASSERT_TRUE((*rec)->replace_by.has_value());
  EXPECT_EQ(*(*rec)->revoke_at, *r.at);
  auto untouched = inventory_.get(other.certificate.info().sha256_hex);
  EXPECT_FALSE((*untouched)->replace_by.has_value());

  // Neither a later schedule nor a replacement request moves or cancels it.
  BulkRevokeRequest later = r;
  later.at = clock_.now() + std::chrono::hours(5);
  ASSERT_TRUE(service_->revoke_bulk(later).has_value());
  BulkRevokeRequest replace = r;
  replace.at.reset();
  replace.replace_only = true;
  ASSERT_TRUE(service_->revoke_bulk(replace).has_value());
  auto kept = inventory_.get(a.certificate.info().sha256_hex);
  EXPECT_EQ(*(*kept)->revoke_at, *r.at);
  EXPECT_EQ(*(*kept)->replace_by, *(*rec)->replace_by);
  BulkRevokeRequest with_date = r;
  with_date.invalidity_date = clock_.now() - std::chrono::hours(1);
  auto refused = service_->revoke_bulk(with_date);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);

  auto early = service_->revoke_due();
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(*early, 0);
  EXPECT_TRUE(notified_.empty());

  clock_.advance(std::chrono::hours(2));
  auto due = service_->revoke_due();
  ASSERT_TRUE(due.has_value()) << due.error().message;
  EXPECT_EQ(*due, 2);
  for (const auto* c : {&a, &b}) {
    auto after = inventory_.get(c->certificate.info().sha256_hex);
    ASSERT_TRUE((*after)->revoked_at.has_value());
    EXPECT_EQ((*after)->revocation_reason, static_cast<int>(RevocationReason::kSuperseded));
  }
  EXPECT_FALSE(notified_.empty());
  auto again = service_->revoke_due();
  EXPECT_EQ(*again, 0) << "a revocation is done once";
  expect_audit_ok(audit_count());
}

TEST_F(RevocationTest, ReplaceOnlyRevokesNothingAndTimesAreChecked) {
  const auto a = issue("r1.example.com", "payments");
  BulkRevokeRequest r;
  r.selection.team = "payments";
  r.requester = admin_;
  r.expected_count = 1;
  r.replace_only = true;
  auto done = service_->revoke_bulk(r);
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_TRUE(done->scheduled);
  auto rec = inventory_.get(a.certificate.info().sha256_hex);
  EXPECT_TRUE((*rec)->replace_by.has_value());
  EXPECT_FALSE((*rec)->revoke_at.has_value());
  EXPECT_FALSE((*rec)->revoked_at.has_value());
  clock_.advance(std::chrono::days(400));
  EXPECT_EQ(*service_->revoke_due(), 0);

  r.replace_only = false;
  r.at = clock_.now() - std::chrono::seconds(1);
  auto past = service_->revoke_bulk(r);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code, ErrorCode::kInvalidArgument);
  r.at = clock_.now() + std::chrono::days(400);
  auto far = service_->revoke_bulk(r);
  ASSERT_FALSE(far.has_value());
  EXPECT_EQ(far.error().code, ErrorCode::kInvalidArgument);
  r.at = clock_.now() + std::chrono::hours(1);
  r.replace_only = true;
  auto both = service_->revoke_bulk(r);
  ASSERT_FALSE(both.has_value());
  EXPECT_EQ(both.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace certward::ca
