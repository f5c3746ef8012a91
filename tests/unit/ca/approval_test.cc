// Approvals: a request for a profile that requires approval is judged, held pending, and
// issued once when someone other than its requester approves it; a rejected, cancelled or
// expired one never is.

#include "ca/approval.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ca/approval_store.h"
#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using nlohmann::json;

class ApprovalTest : public testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    ASSERT_TRUE(ApprovalService::migrate(*db_).has_value());
    ASSERT_TRUE(policy::PolicyService::migrate(*db_).has_value());
    approvals_ = std::make_unique<ApprovalService>(clock_, *db_, *ra_, profiles_, audit_, kTtl);
    ra_->set_policy(&policy_);
  }
  void TearDown() override { ra_->set_policy(nullptr); }

  static constexpr std::chrono::seconds kTtl = std::chrono::hours(24);

  EnrollmentRequest approval_request(const std::vector<std::string>& names) {
    EnrollmentRequest r = request(names, "approval");
    r.requester = alice_;
    r.channel = Channel::kRest;
    return r;
  }

  // Submits and expects it to be held.
  ApprovalRequest submit(const std::vector<std::string>& names = {"www.example.com"}) {
    auto outcome = approvals_->enroll(approval_request(names));
    CW_CHECK(outcome.has_value());
    CW_CHECK(std::holds_alternative<ApprovalRequest>(*outcome));
    return std::get<ApprovalRequest>(*outcome);
  }

  std::int64_t held_count() { return certward::testing::count_rows(*db_, "approval_requests"); }

  inventory::Sightings sightings_{clock_, *db_};
  policy::PolicyService policy_{clock_, *db_, audit_, inventory_, sightings_, {}};
  // alice asks (two tokens, one principal); bob approves for her team; carol is another team's.
  const Requester alice_{.actor = "token:a1",
                         .team = "web",
                         .scope = Scope{{"approval", "tls-server"}, {"example.com"}, {}},
                         .principal = "alice"};
  const Requester alice_again_{
      .actor = "token:a2", .team = "web", .scope = Scope{{}, {}, {}}, .principal = "alice"};
  const Requester bob_{
      .actor = "token:b1", .team = "web", .scope = Scope{{}, {}, {}}, .principal = "bob"};
  const Requester carol_{
      .actor = "token:c1", .team = "other", .scope = Scope{{}, {}, {}}, .principal = "carol"};
  std::unique_ptr<ApprovalService> approvals_;
};

TEST_F(ApprovalTest, ARequestIsHeldPendingAndNothingIsIssued) {
  const auto inv = inventory_count(), events = audit_count();
  const ApprovalRequest r = submit();
  EXPECT_EQ(r.status, ApprovalStatus::kPending);
  EXPECT_EQ(r.id.size(), 16u);
  EXPECT_EQ(r.team, "web");
  EXPECT_EQ(r.requester, "alice");
  EXPECT_EQ(r.expires_at, clock_.now() + kTtl);
  EXPECT_NE(r.csr_pem.find("BEGIN CERTIFICATE REQUEST"), std::string::npos);
  EXPECT_EQ(inventory_count(), inv);
  EXPECT_EQ(audit_count(), events + 1);
  auto again = approvals_->get(r.id, bob_);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->subject, r.subject);
  // The RA alone still refuses it: only the approval service may grant approval.
  EXPECT_EQ(ra_->enroll(approval_request({"www.example.com"})).error().code,
            ErrorCode::kPolicyRejected);
}

TEST_F(ApprovalTest, AProfileWithoutApprovalIssuesAtOnce) {
  EnrollmentRequest r = request({"www.example.com"});
  auto outcome = approvals_->enroll(std::move(r));
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
  EXPECT_TRUE(std::holds_alternative<IssuedCertificate>(*outcome));
}

TEST_F(ApprovalTest, WhatCouldNeverIssueIsRefusedWhenAsked) {
  const auto inv = inventory_count(), events = audit_count();
  // Outside the requester's domains.
  expect_refused(approvals_->enroll(approval_request({"www.elsewhere.test"})),
                 ErrorCode::kUnauthorized, inv, events);
  // Above the profile's maximum validity.
  EnrollmentRequest v = approval_request({"www.example.com"});
  v.validity = std::chrono::days(5000);
  expect_refused(approvals_->enroll(std::move(v)), ErrorCode::kPolicyRejected, inv, events);
  // A key the profile does not allow.
  EnrollmentRequest k = approval_request({"www.example.com"});
  k.csr = csr({"www.example.com"}, crypto::KeyType::kRsa2048);
  auto weak_profile = profiles_.find("approval");
  ASSERT_TRUE(weak_profile.has_value());
  if (!(*weak_profile)->allows_key(crypto::describe_key(k.csr->public_key()))) {
    expect_refused(approvals_->enroll(std::move(k)), ErrorCode::kPolicyRejected, inv, events);
  }
  // A compliance rule.
  ASSERT_TRUE(policy_.create(json::parse(R"({"id":"no-wild","kind":"wildcards","allowed":false})"),
                             "test"));
  const auto after_rule = audit_count();
  expect_refused(approvals_->enroll(approval_request({"*.example.com"})),
                 ErrorCode::kPolicyRejected, inv, after_rule);
  // A server-side key: refused, never held.
  EnrollmentRequest s = approval_request({"www.example.com"});
  s.csr.reset();
  s.server_key = crypto::KeyType::kEcP256;
  expect_refused(approvals_->enroll(std::move(s)), ErrorCode::kInvalidArgument, inv, after_rule);
  EXPECT_EQ(held_count(), 0);
}

TEST_F(ApprovalTest, TheRequesterCannotDecideItsOwnRequest) {
  const ApprovalRequest r = submit();
  const auto inv = inventory_count(), events = audit_count();
  for (const Requester& self : {alice_, alice_again_}) {
    expect_refused(approvals_->approve(r.id, self), ErrorCode::kUnauthorized, inv, events);
    expect_refused(approvals_->reject(r.id, "no", self), ErrorCode::kUnauthorized, inv, events);
  }
  // Not even unrestricted: being an administrator does not make one two people.
  Requester admin_alice{.actor = "token:a3", .team = {}, .scope = {}, .principal = "alice"};
  expect_refused(approvals_->approve(r.id, admin_alice), ErrorCode::kUnauthorized, inv, events);
  EXPECT_EQ(approvals_->get(r.id, bob_)->status, ApprovalStatus::kPending);
}

TEST_F(ApprovalTest, AnApprovedRequestIsIssuedOnce) {
  const ApprovalRequest r = submit();
  const auto inv = inventory_count();
  auto approved = approvals_->approve(r.id, bob_);
  ASSERT_TRUE(approved.has_value()) << approved.error().message;
  EXPECT_EQ(approved->request.status, ApprovalStatus::kIssued);
  EXPECT_EQ(approved->request.decided_by, "token:b1");
  EXPECT_EQ(approved->request.certificate, approved->issued.certificate.info().sha256_hex);
  EXPECT_TRUE(verify(approved->issued).has_value());
  EXPECT_EQ(inventory_count(), inv + 1);
  // The certificate is the requester's: its team, issued in its name.
  auto rec = inventory_.get(approved->issued.certificate.info().sha256_hex);
  ASSERT_TRUE(rec.has_value() && rec->has_value());
  EXPECT_EQ((*rec)->meta.team, "web");
  EXPECT_EQ((*rec)->meta.channel, "rest");  // the held request's, not the approver's

  const auto events = audit_count();
  expect_refused(approvals_->approve(r.id, bob_), ErrorCode::kConflict, inv + 1, events);
  expect_refused(approvals_->reject(r.id, "late", bob_), ErrorCode::kConflict, inv + 1, events);
  expect_audit_ok(events);
}

TEST_F(ApprovalTest, NothingIsIssuedForARequesterThatNoLongerStands) {
  const ApprovalRequest r = submit();
  std::vector<std::string> asked;
  int allowed = 0;  // how many checks pass before the requester is refused
  approvals_->set_requester_check([&](store::Transaction&, const Requester& who) -> Status {
    asked.push_back(who.principal);
    if (allowed-- > 0) return ok();
    return fail(ErrorCode::kPolicyRejected, "the requester is disabled");
  });
  const auto inv = inventory_count(), events = audit_count();
  expect_refused(approvals_->approve(r.id, bob_), ErrorCode::kPolicyRejected, inv, events);
  EXPECT_EQ(asked, std::vector<std::string>{"alice"});  // refused before anything was signed
  // Disabled while the certificate was being made: refused where it is recorded.
  allowed = 1;
  expect_refused(approvals_->approve(r.id, bob_), ErrorCode::kPolicyRejected, inv, events);
  EXPECT_EQ(approvals_->get(r.id, bob_)->status, ApprovalStatus::kPending);
  // Standing again, it is issued.
  allowed = 2;
  auto approved = approvals_->approve(r.id, bob_);
  ASSERT_TRUE(approved.has_value()) << approved.error().message;
  EXPECT_EQ(inventory_count(), inv + 1);
  approvals_->set_requester_check(nullptr);
}

TEST_F(ApprovalTest, ARejectedRequestIsNeverIssued) {
  const ApprovalRequest r = submit();
  const auto inv = inventory_count(), events = audit_count();
  // Hostile reasons change nothing.
  for (const std::string& bad :
       {std::string(""), std::string("   "), std::string(kMaxApprovalReason + 1, 'x'),
        std::string("a\nb"), std::string("bad \xff utf-8"), std::string("nul\0in", 6),
        std::string("c1 \xc2\x9b control"), std::string("overlong \xc0\x80 nul"),
        std::string("overlong \xe0\x80\x9b esc"), std::string("surrogate \xed\xa0\x80"),
        std::string("past U+10FFFF \xf4\x90\x80\x80"), std::string("line\xe2\x80\xa8sep"),
        std::string("para\xe2\x80\xa9sep"), std::string("rlo \xe2\x80\xae"),
        std::string("isolate \xe2\x81\xa6")}) {
    expect_refused(approvals_->reject(r.id, bad, bob_), ErrorCode::kInvalidArgument, inv, events);
  }
  // Cancelling takes a reason by the same rules.
  expect_refused(approvals_->cancel(r.id, std::string("overlong \xc0\x80"), alice_),
                 ErrorCode::kInvalidArgument, inv, events);
  auto rejected =
      approvals_->reject(r.id, "not our name (\xc3\xbc, \xe5\x90\x8d, \xf0\x9f\x98\x80)", bob_);
  ASSERT_TRUE(rejected.has_value()) << rejected.error().message;
  EXPECT_EQ(rejected->status, ApprovalStatus::kRejected);
  EXPECT_EQ(rejected->reason, "not our name (\xc3\xbc, \xe5\x90\x8d, \xf0\x9f\x98\x80)");
  expect_refused(approvals_->approve(r.id, bob_), ErrorCode::kConflict, inv, events + 1);
  EXPECT_EQ(inventory_count(), inv);
}

TEST_F(ApprovalTest, AnExpiredRequestIsNeverIssued) {
  const ApprovalRequest r = submit();
  clock_.advance(kTtl);
  const auto inv = inventory_count(), events = audit_count();
  auto seen = approvals_->get(r.id, bob_);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->status, ApprovalStatus::kExpired);
  expect_refused(approvals_->approve(r.id, bob_), ErrorCode::kConflict, inv, events);
  expect_refused(approvals_->reject(r.id, "too late", bob_), ErrorCode::kConflict, inv, events);
  ApprovalFilter f;
  f.status = ApprovalStatus::kExpired;
  auto expired = approvals_->list(f, bob_);
  ASSERT_TRUE(expired.has_value());
  ASSERT_EQ(expired->items.size(), 1u);
  EXPECT_EQ(expired->items[0].id, r.id);
  f.status = ApprovalStatus::kPending;
  EXPECT_TRUE(approvals_->list(f, bob_)->items.empty());
}

TEST_F(ApprovalTest, AnotherTeamNeitherSeesNorDecides) {
  const ApprovalRequest r = submit();
  const auto inv = inventory_count(), events = audit_count();
  EXPECT_EQ(approvals_->get(r.id, carol_).error().code, ErrorCode::kNotFound);
  expect_refused(approvals_->approve(r.id, carol_), ErrorCode::kNotFound, inv, events);
  expect_refused(approvals_->reject(r.id, "mine now", carol_), ErrorCode::kNotFound, inv, events);
  auto listed = approvals_->list({}, carol_);
  ASSERT_TRUE(listed.has_value());
  EXPECT_TRUE(listed->items.empty());
  ApprovalFilter web;
  web.team = "web";
  EXPECT_EQ(approvals_->list(web, carol_).error().code, ErrorCode::kUnauthorized);
  // Unknown and malformed ids name nothing.
  for (std::string_view id : {"0000000000000000", "../../etc", "", "ABCDEF0123456789"}) {
    EXPECT_EQ(approvals_->get(id, admin_).error().code, ErrorCode::kNotFound) << id;
  }
}

TEST_F(ApprovalTest, OnlyTheRequesterCancels) {
  const ApprovalRequest r = submit();
  EXPECT_EQ(approvals_->cancel(r.id, "", bob_).error().code, ErrorCode::kUnauthorized);
  auto cancelled = approvals_->cancel(r.id, "", alice_again_);
  ASSERT_TRUE(cancelled.has_value()) << cancelled.error().message;
  EXPECT_EQ(cancelled->status, ApprovalStatus::kCancelled);
  EXPECT_EQ(approvals_->approve(r.id, bob_).error().code, ErrorCode::kConflict);
}

TEST_F(ApprovalTest, ApprovalJudgesTheRequestAgainAndAFailureLeavesItPending) {
  const ApprovalRequest r = submit();
  ASSERT_TRUE(policy_.create(json::parse(R"({"id":"max-30","kind":"max_validity","max_days":30})"),
                             "test"));
  const auto inv = inventory_count(), events = audit_count();
  expect_refused(approvals_->approve(r.id, bob_), ErrorCode::kPolicyRejected, inv, events);
  EXPECT_EQ(approvals_->get(r.id, bob_)->status, ApprovalStatus::kPending);
}

TEST_F(ApprovalTest, ListsNewestFirstInPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(submit({"h" + std::to_string(i) + ".example.com"}).id);
    clock_.advance(std::chrono::seconds(1));
  }
  ApprovalFilter f;
  f.limit = 2;
  std::vector<std::string> seen;
  for (;;) {
    auto page = approvals_->list(f, bob_);
    ASSERT_TRUE(page.has_value()) << page.error().message;
    for (const auto& r : page->items) seen.push_back(r.id);
    if (!page->next_cursor) break;
    f.cursor = page->next_cursor;
  }
  std::reverse(ids.begin(), ids.end());
  EXPECT_EQ(seen, ids);
  f.cursor = "not a cursor";
  EXPECT_EQ(approvals_->list(f, bob_).error().code, ErrorCode::kInvalidArgument);
  f.cursor.reset();
  f.limit = 0;
  EXPECT_EQ(approvals_->list(f, bob_).error().code, ErrorCode::kInvalidArgument);
}

// Two approvers at once, in one process and in two (two services over one database, as two
// replicas): one certificate.
TEST_F(ApprovalTest, ConcurrentApprovalsIssueOneCertificate) {
  ApprovalService replica(clock_, *db_, *ra_, profiles_, audit_, kTtl);
  for (ApprovalService* second : {approvals_.get(), &replica}) {
    const ApprovalRequest r = submit();
    const auto inv = inventory_count();
    std::atomic<int> issued{0}, conflicts{0};
    std::vector<std::thread> threads;
    for (ApprovalService* s : {approvals_.get(), second}) {
      threads.emplace_back([&, s] {
        auto a = s->approve(r.id, bob_);
        if (a) {
          ++issued;
        } else if (a.error().code == ErrorCode::kConflict) {
          ++conflicts;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(issued.load(), 1);
    EXPECT_EQ(conflicts.load(), 1);
    EXPECT_EQ(inventory_count(), inv + 1);
  }
}

// A replica in the middle of an approval holds the request: this one is refused before it signs,
// until the replica's claim runs out (it died holding it).
TEST_F(ApprovalTest, AClaimByAnotherReplicaRefusesBeforeSigningUntilItLapses) {
  const ApprovalRequest r = submit();
  {
    auto tx = db_->begin(store::TxMode::kWrite);
    ASSERT_TRUE(tx.has_value());
    auto claimed = approval_detail::claim(**tx, r.id, "other-replica", clock_.now(),
                                          clock_.now() + std::chrono::minutes(5));
    ASSERT_TRUE(claimed.has_value() && *claimed);
    ASSERT_TRUE((*tx)->commit().has_value());
  }
  const auto inv = inventory_count(), events = audit_count();
  expect_refused(approvals_->approve(r.id, bob_), ErrorCode::kConflict, inv, events);
  // Its own failure releases nothing of the other's: still held.
  expect_refused(approvals_->approve(r.id, bob_), ErrorCode::kConflict, inv, events);

  clock_.advance(std::chrono::minutes(5));
  auto approved = approvals_->approve(r.id, bob_);
  ASSERT_TRUE(approved.has_value()) << approved.error().message;
  EXPECT_EQ(inventory_count(), inv + 1);
}

// An approval that fails after claiming (its requester found disabled inside the RA's
// transaction) lets the next one through at once.
TEST_F(ApprovalTest, AFailedApprovalReleasesItsClaim) {
  const ApprovalRequest r = submit();
  int calls = 0;
  approvals_->set_requester_check([&](store::Transaction&, const Requester&) -> Status {
    // Passes the check before the claim, fails the one inside the RA's transaction once.
    return ++calls == 2 ? fail(ErrorCode::kUnauthorized, "disabled meanwhile") : ok();
  });
  EXPECT_FALSE(approvals_->approve(r.id, bob_).has_value());
  auto approved = approvals_->approve(r.id, bob_);
  ASSERT_TRUE(approved.has_value()) << approved.error().message;
}

}  // namespace
}  // namespace certward::ca
