// Replacement campaigns with a fake clock, the real RA, reconciler and revocation service
// (SQLite, or PostgreSQL under scripts/with-postgres.sh): the plan lists managed and other
// certificates and changes nothing; the waves move managed certificates to a new authority and
// ask for the others' replacement (ARI); a replacement the reconciler cannot make is listed
// failed and not revoked; finish revokes exactly the replaced ones; pause, cancel and bad
// input.
#include <gtest/gtest.h>

#include "lifecycle/campaign_service.h"
#include "unit/lifecycle/managed_fixture.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

class CampaignTest : public testing::ManagedFixture {
 protected:
  void SetUp() override {
    ManagedFixture::SetUp();
    ASSERT_TRUE(CampaignService::migrate(*db_).has_value());
    ca::SubordinateOptions sub;
    sub.name = "issuing-2";
    sub.parent = "root";
    sub.subject = "CN=Test Issuing CA 2,O=Certward Tests";
    auto s = ca::create_subordinate(*ra_, *authorities_, sub, admin_);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    const LifecycleDeps deps{clock_, *db_,  *ra_,  *authorities_, inventory_,
                             audit_, auth_, jobs_, wrapper_,      settings_};
    campaigns_.emplace(CampaignDeps{deps, *managed_, profiles_, *revocation_});
  }

  // A managed certificate issued and deployed under "issuing".
  ManagedCertificate active(const std::string& name) {
    auto m = create(spec(name, {name + ".example.com"}, {{"targets", {file_target(name)}}}));
    reconcile(m.id);
    m = get(m.id);
    EXPECT_EQ(m.state, ManagedState::kActive) << m.last_error;
    return m;
  }

  CampaignRequest request(json j) {
    auto r = parse_campaign_request(j);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r.value_or(CampaignRequest{});
  }

  CampaignRequest to_issuing_2(int wave_size = 25) {
    return request({{"name", "leave-issuing"},
                    {"selector", {{"authority", "issuing"}}},
                    {"target", {{"authority", "issuing-2"}}},
                    {"wave_size", wave_size}});
  }

  static ItemFilter only(ItemState s) {
    return ItemFilter{.state = s, .wave = {}, .after_seq = 0, .limit = 1000};
  }

  static Job job_for(const std::string& id) {
    Job j;
    j.payload = {{"id", id}};
    return j;
  }

  // Runs the wave job and every reconciliation it asked for, until the campaign stops
  // running; returns how many wave runs it took.
  int run_to_completion(const std::string& id) {
    int runs = 0;
    for (; runs < 50; ++runs) {
      auto next = campaigns_->run_wave(job_for(id));
      EXPECT_TRUE(next.has_value()) << (next ? "" : next.error().message);
      if (!next || !*next) break;
      auto replacing = campaigns_->items(id, only(ItemState::kReplacing), admin_);
      EXPECT_TRUE(replacing.has_value());
      for (const auto& i : *replacing) reconciler_->reconcile(*i.managed_id);
      clock_.advance(std::chrono::seconds(3));
    }
    return runs;
  }

  CampaignCounts counts(const std::string& id) {
    auto c = campaigns_->counts(id);
    CW_CHECK(c.has_value());
    return *c;
  }

  std::string issue_directly(const std::string& name) {
    auto issued = ra_->enroll(ca::testing::CaFixture::request({name}));
    CW_CHECK(issued.has_value());
    return issued->certificate.info().sha256_hex;
  }

  std::optional<CampaignService> campaigns_;
};

TEST_F(CampaignTest, PlanListsManagedAndOtherCertificatesAndChangesNothing) {
  const auto a = active("a");
  const auto b = active("b");
  const std::string direct = issue_directly("direct.example.com");
  const auto audit_before = audit_count();
  auto plan = campaigns_->plan(to_issuing_2(1), admin_);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->counts.total, 3);
  EXPECT_EQ(plan->counts.managed, 2);
  EXPECT_EQ(plan->counts.not_managed, 1);
  EXPECT_EQ(plan->waves, 2);
  std::set<std::string> managed_names;
  for (const auto& i : plan->items) {
    if (i.managed_id) {
      managed_names.insert(*i.managed_name);
      ASSERT_EQ(i.targets.size(), 1u);
      EXPECT_EQ(i.targets[0]["kind"], "files");
    } else {
      EXPECT_EQ(i.fingerprint, direct);
    }
  }
  EXPECT_EQ(managed_names, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(audit_count(), audit_before);
  EXPECT_EQ(certward::testing::count_rows(*db_, "lifecycle_campaigns"), 0);
  EXPECT_EQ(get(a.id).spec.authority, a.spec.authority);
  EXPECT_EQ(get(b.id).generation, b.generation);

  // Stored: planned, the same items.
  auto c = campaigns_->create(to_issuing_2(1), admin_);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->state, CampaignState::kPlanned);
  EXPECT_EQ(counts(c->id).total, 3);
  EXPECT_EQ(counts(c->id).pending, 3);
  EXPECT_EQ(audit_count(), audit_before + 1);
}

TEST_F(CampaignTest, WavesMoveManagedCertificatesAndAskForTheOthersReplacement) {
  std::vector<ManagedCertificate> ms;
  for (const char* n : {"a", "b", "c"}) ms.push_back(active(n));
  const std::string direct = issue_directly("direct.example.com");
  auto c = campaigns_->create(to_issuing_2(2), admin_);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  // Before it starts, the stored campaign counts as its plan did.
  const auto planned = counts(c->id);
  EXPECT_EQ(planned.not_managed, 1);
  EXPECT_EQ(planned.managed, planned.total - 1);
  EXPECT_EQ(planned.pending, planned.total);
  ASSERT_TRUE(campaigns_->start(c->id, admin_).has_value());
  run_to_completion(c->id);

  auto done = campaigns_->get(c->id, admin_);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->state, CampaignState::kCompleted);
  EXPECT_EQ(done->current_wave, 1);
  const auto n = counts(c->id);
  EXPECT_EQ(n.done, 3);
  EXPECT_EQ(n.not_managed, 1);
  EXPECT_EQ(n.failed, 0);
  for (const auto& old : ms) {
    const auto m = get(old.id);
    EXPECT_EQ(m.spec.authority, "issuing-2");
    EXPECT_NE(m.fingerprint, old.fingerprint);
    auto rec = inventory_.get(*m.fingerprint);
    ASSERT_TRUE(rec.has_value() && rec->has_value());
    EXPECT_EQ((*rec)->meta.authority, "issuing-2");
    const auto kinds = timeline_kinds(m.id);
    EXPECT_EQ(std::ranges::count(kinds, "campaign"), 2) << "started and replaced";
  }
  // The certificate nobody manages: ARI tells its client to renew now.
  auto rec = inventory_.get(direct);
  ASSERT_TRUE(rec.has_value() && rec->has_value());
  ASSERT_TRUE((*rec)->replace_by.has_value());
  EXPECT_LE(*(*rec)->replace_by, clock_.now());
  EXPECT_FALSE((*rec)->revoked_at.has_value());

  // Finish: the replaced certificates are revoked (superseded), the new ones are not, and the
  // one nobody replaced stays valid.
  auto finishing =
      campaigns_->finish(c->id, FinishOptions{.revoke = true, .reason = 4, .force = false}, admin_);
  ASSERT_TRUE(finishing.has_value()) << finishing.error().message;
  EXPECT_EQ(finishing->state, CampaignState::kFinishing);
  Job fj;
  fj.payload = {{"id", c->id}, {"after", 0}};
  auto next = campaigns_->run_finish(fj);
  ASSERT_TRUE(next.has_value()) << next.error().message;
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(campaigns_->get(c->id, admin_)->state, CampaignState::kFinished);
  for (const auto& old : ms) {
    auto revoked = inventory_.get(*old.fingerprint);
    ASSERT_TRUE(revoked.has_value() && revoked->has_value());
    EXPECT_TRUE((*revoked)->revoked_at.has_value());
    EXPECT_EQ((*revoked)->revocation_reason, 4);
    auto fresh = inventory_.get(*get(old.id).fingerprint);
    EXPECT_FALSE((*fresh)->revoked_at.has_value());
  }
  EXPECT_FALSE((*inventory_.get(direct))->revoked_at.has_value());
  EXPECT_EQ(counts(c->id).revoked, 3);
  auto v = audit_.verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
}

TEST_F(CampaignTest, AReplacementThatFailsIsListedAndNotRevokedUnlessForced) {
  const auto good = active("good");
  // Made by a requester of team "web": it is renewed within the team's grant, which does not
  // include issuing-2, so the reconciler cannot re-issue it there.
  auto scoped = managed_->create(
      spec("scoped", {"scoped.example.com"}, {{"targets", {file_target("scoped")}}}), web());
  ASSERT_TRUE(scoped.has_value()) << scoped.error().message;
  reconcile(scoped->id);
  const auto before = get(scoped->id);
  ASSERT_EQ(before.state, ManagedState::kActive) << before.last_error;

  auto c = campaigns_->create(to_issuing_2(), admin_);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_TRUE(campaigns_->start(c->id, admin_).has_value());
  run_to_completion(c->id);
  const auto n = counts(c->id);
  EXPECT_EQ(n.done, 1);
  EXPECT_EQ(n.failed, 1);
  auto failed = campaigns_->items(c->id, only(ItemState::kFailed), admin_);
  ASSERT_TRUE(failed.has_value());
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ(failed->front().managed_name, "scoped");
  EXPECT_FALSE(failed->front().error.empty());

  ASSERT_TRUE(campaigns_->finish(c->id, FinishOptions{.revoke = true, .reason = 2}, admin_));
  Job fj;
  fj.payload = {{"id", c->id}, {"after", 0}};
  ASSERT_TRUE(campaigns_->run_finish(fj).has_value());
  EXPECT_TRUE((*inventory_.get(*good.fingerprint))->revoked_at.has_value());
  EXPECT_EQ((*inventory_.get(*good.fingerprint))->revocation_reason, 2);
  // Its replacement failed: still valid, still served.
  EXPECT_FALSE((*inventory_.get(*before.fingerprint))->revoked_at.has_value());
  EXPECT_EQ(counts(c->id).revoked, 1);
}

TEST_F(CampaignTest, PauseStopsNewStartsAndCancelEndsIt) {
  for (const char* n : {"a", "b", "c"}) active(n);
  auto c = campaigns_->create(to_issuing_2(1), admin_);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(campaigns_->start(c->id, admin_).has_value());
  EXPECT_EQ(campaigns_->start(c->id, admin_).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(campaigns_->run_wave(job_for(c->id)).has_value());
  EXPECT_EQ(counts(c->id).replacing, 1);
  ASSERT_TRUE(campaigns_->pause(c->id, admin_).has_value());
  auto next = campaigns_->run_wave(job_for(c->id));
  ASSERT_TRUE(next.has_value());
  ASSERT_TRUE(next->has_value()) << "kept alive while paused";
  EXPECT_EQ(counts(c->id).replacing, 1);
  EXPECT_EQ(counts(c->id).pending, 2);
  EXPECT_EQ(campaigns_->finish(c->id, FinishOptions{}, admin_).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(campaigns_->cancel(c->id, admin_).has_value());
  next = campaigns_->run_wave(job_for(c->id));
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(counts(c->id).pending, 2);
  auto closed = campaigns_->finish(c->id, FinishOptions{}, admin_);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->state, CampaignState::kFinished);
}

TEST_F(CampaignTest, TooManyFailuresPauseTheCampaign) {
  for (const char* n : {"s1", "s2"}) {
    auto m = managed_->create(spec(n, {std::string(n) + ".example.com"}), web());
    ASSERT_TRUE(m.has_value());
    reconcile(m->id);
  }
  auto r = to_issuing_2();
  r.options.max_failures = 1;
  auto c = campaigns_->create(r, admin_);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(campaigns_->start(c->id, admin_).has_value());
  run_to_completion(c->id);
  auto paused = campaigns_->get(c->id, admin_);
  EXPECT_EQ(paused->state, CampaignState::kPaused);
  EXPECT_NE(paused->last_error.find("max_failures"), std::string::npos);
  // Resumed by an operator, it goes on to the end: no item failed since.
  ASSERT_TRUE(campaigns_->start(c->id, admin_).has_value());
  run_to_completion(c->id);
  EXPECT_EQ(campaigns_->get(c->id, admin_)->state, CampaignState::kCompleted);
}

TEST_F(CampaignTest, AnItemNotReplacedInTimeFailsAndForceRevokesIt) {
  const auto m = active("slow");
  auto r = to_issuing_2();
  r.options.item_timeout = std::chrono::minutes(5);
  auto c = campaigns_->create(r, admin_);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(campaigns_->start(c->id, admin_).has_value());
  ASSERT_TRUE(campaigns_->run_wave(job_for(c->id)).has_value());
  EXPECT_EQ(counts(c->id).replacing, 1);
  // No reconciler runs: after the timeout the item has failed.
  clock_.advance(std::chrono::minutes(6));
  auto next = campaigns_->run_wave(job_for(c->id));
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(counts(c->id).failed, 1);
  auto failed = campaigns_->items(c->id, only(ItemState::kFailed), admin_);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_NE(failed->front().error.find("5m"), std::string::npos) << failed->front().error;
  // Forced, the old certificate goes although nothing replaced it.
  ASSERT_TRUE(
      campaigns_->finish(c->id, FinishOptions{.revoke = true, .reason = 1, .force = true}, admin_));
  Job fj;
  fj.payload = {{"id", c->id}, {"after", 0}};
  ASSERT_TRUE(campaigns_->run_finish(fj).has_value());
  EXPECT_TRUE((*inventory_.get(*m.fingerprint))->revoked_at.has_value());
  EXPECT_EQ(
      campaigns_->finish(c->id, FinishOptions{.revoke = false, .reason = 4, .force = true}, admin_)
          .error()
          .code,
      ErrorCode::kInvalidArgument);
}

TEST_F(CampaignTest, ACertificateNobodyManagesIsRevokedOnceItsClientReplacedIt) {
  const std::string replaced = issue_directly("replaced.example.com");
  const std::string kept = issue_directly("kept.example.com");
  auto c = campaigns_->create(to_issuing_2(), admin_);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(campaigns_->start(c->id, admin_).has_value());
  run_to_completion(c->id);
  EXPECT_EQ(counts(c->id).not_managed, 2);
  // Its ACME client renewed it (the renewal supersedes it in the inventory).
  const std::string renewal = issue_directly("replaced.example.com");
  {
    auto tx = db_->begin(store::TxMode::kWrite);
    ASSERT_TRUE(tx.has_value());
    ASSERT_TRUE(inventory_.mark_superseded(**tx, replaced, renewal).has_value());
    ASSERT_TRUE((*tx)->commit().has_value());
  }
  ASSERT_TRUE(campaigns_->finish(c->id, FinishOptions{.revoke = true, .reason = 4}, admin_));
  Job fj;
  fj.payload = {{"id", c->id}, {"after", 0}};
  ASSERT_TRUE(campaigns_->run_finish(fj).has_value());
  EXPECT_TRUE((*inventory_.get(replaced))->revoked_at.has_value());
  EXPECT_FALSE((*inventory_.get(kept))->revoked_at.has_value());
  EXPECT_FALSE((*inventory_.get(renewal))->revoked_at.has_value());
}

TEST_F(CampaignTest, BadInputIsRefusedAndNothingIsStored) {
  active("a");
  auto refused = [&](const json& j) {
    auto r = parse_campaign_request(j);
    EXPECT_FALSE(r.has_value()) << j.dump();
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  };
  refused({{"selector", json::object()}});
  refused({{"target", {{"authority", "issuing-2"}}}});
  refused({{"selector", {{"authority", "issuing"}}}, {"wave_size", 0}});
  refused({{"selector", {{"authority", "issuing"}}}, {"wave_size", 5000}});
  refused({{"selector", {{"authority", "issuing"}}}, {"item_timeout", "1s"}});
  refused({{"selector", {{"authority", "issuing"}}}, {"bogus", 1}});
  refused({{"selector", {{"origin", "space"}}}});
  refused({{"selector", {{"key_algorithm", "dsa"}}}});
  refused({{"selector", {{"authority", "issuing"}}}, {"target", {{"key_type", "rsa-17"}}}});
  refused({{"name", "Bad Name"}, {"selector", {{"authority", "issuing"}}}});

  const auto audit_before = audit_count();
  auto code = [&](json j, const ca::Requester& who) {
    auto r = campaigns_->create(request(std::move(j)), who);
    EXPECT_FALSE(r.has_value());
    return r ? ErrorCode::kInternal : r.error().code;
  };
  EXPECT_EQ(
      code({{"selector", {{"authority", "issuing"}}}, {"target", {{"authority", "nope"}}}}, admin_),
      ErrorCode::kNotFound);
  EXPECT_EQ(code({{"selector", {{"authority", "nope"}}}}, admin_), ErrorCode::kNotFound);
  EXPECT_EQ(
      code({{"selector", {{"authority", "issuing"}}}, {"target", {{"authority", "root"}}}}, admin_),
      ErrorCode::kPolicyRejected);
  EXPECT_EQ(
      code({{"selector", {{"authority", "issuing"}}}, {"target", {{"profile", "nope"}}}}, admin_),
      ErrorCode::kNotFound);
  EXPECT_EQ(code({{"selector", {{"team", "web"}}}}, web()), ErrorCode::kUnauthorized);
  EXPECT_EQ(certward::testing::count_rows(*db_, "lifecycle_campaigns"), 0);
  EXPECT_EQ(audit_count(), audit_before);
  EXPECT_EQ(campaigns_->start("nope", admin_).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(campaigns_->get("nope", web()).error().code, ErrorCode::kUnauthorized);

  // A selector that matches nothing is a campaign with nothing to do.
  auto empty = campaigns_->create(request({{"selector", {{"search", "nothing-matches"}}}}), admin_);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(counts(empty->id).total, 0);
  ASSERT_TRUE(campaigns_->start(empty->id, admin_).has_value());
  auto next = campaigns_->run_wave(job_for(empty->id));
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(campaigns_->get(empty->id, admin_)->state, CampaignState::kCompleted);
}

}  // namespace
}  // namespace certward::lifecycle
