// The reconciler with a fake clock, the real RA and the real Deployer writing file targets:
// first issuance and deployment, renewal at renew-before within the jitter bounds, the
// superseded mark, key rotation and reuse, re-issue on a changed desired state, failures with
// backoff and alerts, a failed deployment retried without a second issuance, adoption, the
// sweep, exactly one issuance when several run at once, and the chained scheduling.
#include "lifecycle/reconciler.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "unit/lifecycle/managed_fixture.h"
#include "x509/bundle.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;
using std::chrono::days;
using std::chrono::seconds;

class ReconcilerTest : public testing::ManagedFixture {
 protected:
  std::string read(const std::string& name) {
    std::ifstream in(files_.path() / name, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The leaf of a full chain file.
  x509::Certificate deployed_leaf(const std::string& name = "web.crt") {
    const std::string pem = read(name);
    auto certs = x509::parse_certificates(as_bytes(pem));
    CW_CHECK(certs.has_value() && !certs->empty());
    return certs->front();
  }
};

TEST_F(ReconcilerTest, IssuesDeploysAndSchedulesTheRenewal) {
  auto m = create(spec("web", {"www.example.com"},
                       {{"targets", {file_target()}}, {"validity", "90d"}, {"tags", {"prod"}}}));
  const auto next = reconcile(m.id);
  m = get(m.id);
  EXPECT_EQ(m.state, ManagedState::kActive) << m.last_error;
  ASSERT_TRUE(m.fingerprint.has_value());
  EXPECT_EQ(m.deployed_fingerprint, m.fingerprint);
  EXPECT_EQ(*m.not_after - *m.not_before, days(90));
  EXPECT_EQ(m.renew_at, *m.not_after - days(30));
  // The next run: renew_at less a jitter of at most 10% of the 30-day window.
  ASSERT_TRUE(next.has_value());
  ASSERT_TRUE(next->run_at.has_value());
  EXPECT_LE(*next->run_at, *m.renew_at);
  EXPECT_GE(*next->run_at, *m.renew_at - days(3));
  EXPECT_EQ(next->dedupe_key, reconcile_key(m.id));
  // The files hold the certificate and its key.
  EXPECT_EQ(deployed_leaf().info().sha256_hex, *m.fingerprint);
  auto key = crypto::parse_private_key(as_bytes(read("web.key")));
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(crypto::same_public_key(key->get(), deployed_leaf().public_key()));
  // Recorded in the inventory as issued, with the managed certificate's labels.
  auto rec = inventory_.get(*m.fingerprint);
  ASSERT_TRUE(rec.has_value() && rec->has_value());
  EXPECT_EQ((*rec)->meta.tags, std::vector<std::string>{"prod"});
  EXPECT_EQ(timeline_kinds(m.id), (std::vector<std::string>{"created", "issued", "deployed"}));
  // Nothing more to do until then.
  const auto fp = *m.fingerprint;
  reconcile(m.id);
  EXPECT_EQ(get(m.id).fingerprint, fp);
}

TEST_F(ReconcilerTest, RenewsAtRenewBeforeSupersedesAndRotatesTheKey) {
  auto m =
      create(spec("web", {"www.example.com"},
                  {{"targets", {file_target()}}, {"validity", "90d"}, {"renew_before", "20d"}}));
  reconcile(m.id);
  m = get(m.id);
  const std::string first = *m.fingerprint;
  const auto first_key = inventory_.get(first)->value().key_sha256;
  const auto jitter = renewal_jitter(m.id, *m.not_before, *m.not_after, days(20), 10);
  EXPECT_LE(jitter, days(2));
  // Just before the jittered time: nothing.
  clock_.set(*m.renew_at - jitter - seconds(1));
  reconcile(m.id);
  EXPECT_EQ(get(m.id).fingerprint, first);
  // At it: renewed, deployed, the old one superseded.
  clock_.set(*m.renew_at - jitter);
  reconcile(m.id);
  m = get(m.id);
  ASSERT_NE(*m.fingerprint, first);
  EXPECT_EQ(m.state, ManagedState::kActive);
  EXPECT_EQ(deployed_leaf().info().sha256_hex, *m.fingerprint);
  auto old = inventory_.get(first);
  ASSERT_TRUE(old.has_value() && old->has_value());
  EXPECT_EQ((*old)->superseded_by, m.fingerprint);
  EXPECT_NE(inventory_.get(*m.fingerprint)->value().key_sha256, first_key);
  const auto kinds = timeline_kinds(m.id);
  EXPECT_EQ(kinds.back(), "deployed");
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "renewed"), kinds.end());
}

// A CA that publishes renewal information (ACME ARI) is asked every few hours, and its window
// renews the certificate long before renew_before would.
TEST_F(ReconcilerTest, RenewsWhenTheIssuingCaAsksAndAsksItAgainEveryFewHours) {
  auto m = create(spec("web", {"www.example.com"}, {{"validity", "90d"}}));
  reconcile(m.id);
  m = get(m.id);
  const std::string first = *m.fingerprint;
  const SysTime ca_says = clock_.now() + days(2);
  std::vector<std::string> asked;
  LifecycleDeps deps{clock_, *db_,  *ra_,  *authorities_, inventory_,
                     audit_, auth_, jobs_, wrapper_,      settings_};
  deps.renewal_hint = [&](const std::string& fingerprint) {
    asked.push_back(fingerprint);
    return RenewalHint{true, fingerprint == first ? std::optional(ca_says) : std::nullopt};
  };
  Reconciler hinted(deps, *deployer_);

  // Not yet: the next look is within the interval, not at renew_at (60 days away).
  auto next = hinted.reconcile(m.id);
  ASSERT_TRUE(next.has_value() && next->has_value() && (*next)->run_at);
  EXPECT_LE(*(*next)->run_at, clock_.now() + Reconciler::kRenewalInfoInterval);
  EXPECT_EQ(get(m.id).fingerprint, first);
  EXPECT_EQ(asked, std::vector<std::string>{first});

  // In the CA's window: renewed for that reason.
  clock_.set(ca_says + seconds(1));
  next = hinted.reconcile(m.id);
  ASSERT_TRUE(next.has_value()) << next.error().message;
  m = get(m.id);
  ASSERT_NE(*m.fingerprint, first);
  auto events = managed_->timeline(m.id, 1000, admin());
  ASSERT_TRUE(events.has_value());
  bool renewed_for_ari = false;
  for (const auto& e : *events) {
    if (e.kind == "renewed" && e.detail.value("reason", "") == "renewal_info")
      renewed_for_ari = true;
  }
  EXPECT_TRUE(renewed_for_ari);
  // Of the new certificate the CA said nothing yet: asked again within the interval.
  ASSERT_TRUE(next->has_value() && (*next)->run_at);
  EXPECT_LE(*(*next)->run_at, clock_.now() + Reconciler::kRenewalInfoInterval);
  EXPECT_EQ(hinted.reconcile(m.id).has_value(), true);
  EXPECT_EQ(get(m.id).fingerprint, m.fingerprint) << "no window for the new one: nothing to do";
}

TEST_F(ReconcilerTest, ReusesTheSealedKeyUnlessRotationIsAsked) {
  auto m = create(spec("web", {"www.example.com"}, {{"key", {{"rotate", false}}}}));
  reconcile(m.id);
  const auto key_of = [&](const std::string& id) {
    return inventory_.get(*get(id).fingerprint)->value().key_sha256;
  };
  const std::string first_key = key_of(m.id);
  const std::string first = *get(m.id).fingerprint;
  ASSERT_TRUE(managed_->renew(m.id, /*rotate_key=*/false, admin()).has_value());
  reconcile(m.id);
  EXPECT_NE(*get(m.id).fingerprint, first);
  EXPECT_EQ(key_of(m.id), first_key);
  ASSERT_TRUE(managed_->renew(m.id, /*rotate_key=*/true, admin()).has_value());
  reconcile(m.id);
  EXPECT_NE(key_of(m.id), first_key);
  // The key is sealed at rest, never stored in clear.
  auto tx = (*db_).begin(store::TxMode::kRead);
  ASSERT_TRUE(tx.has_value());
  auto row =
      (*tx)->query_one("SELECT sealed FROM managed_keys WHERE managed_id = ?", store::params(m.id));
  ASSERT_TRUE(row.has_value() && row->has_value());
  const Bytes& sealed = (**row).blob(0);
  EXPECT_EQ(std::string(sealed.begin(), sealed.begin() + 3), "CW1");
}

TEST_F(ReconcilerTest, AChangedDesiredStateReissuesAndAChangedTargetRedeploys) {
  auto m = create(spec("web", {"www.example.com"}, {{"targets", {file_target()}}}));
  reconcile(m.id);
  const std::string first = *get(m.id).fingerprint;
  // Labels only: nothing is issued.
  ASSERT_TRUE(managed_->update(m.id, {{"tags", {"x"}}}, admin()).has_value());
  reconcile(m.id);
  EXPECT_EQ(*get(m.id).fingerprint, first);
  // Names: re-issued at once.
  ASSERT_TRUE(managed_->update(m.id, {{"sans", {"www.example.com", "api.example.com"}}}, admin()));
  reconcile(m.id);
  m = get(m.id);
  ASSERT_NE(*m.fingerprint, first);
  EXPECT_EQ(deployed_leaf().info().sans.size(), 2u);
  // A new target: the same certificate deployed there too.
  ASSERT_TRUE(
      managed_->update(m.id, {{"targets", {file_target(), file_target("second")}}}, admin()));
  reconcile(m.id);
  EXPECT_EQ(*get(m.id).fingerprint, *m.fingerprint);
  EXPECT_EQ(deployed_leaf("second.crt").info().sha256_hex, *m.fingerprint);
}

TEST_F(ReconcilerTest, AFailedDeploymentIsRolledBackAlertedAndRetriedWithoutReissuing) {
  json failing = file_target();
  failing["reload"] = {{"argv", {"/bin/false"}}};
  auto m = create(spec("web", {"www.example.com"}, {{"targets", {failing}}}));
  auto first = reconciler_->reconcile(m.id);
  ASSERT_FALSE(first.has_value());
  m = get(m.id);
  EXPECT_EQ(m.state, ManagedState::kFailed);
  EXPECT_EQ(m.attempts, 1);
  EXPECT_FALSE(m.last_error.empty());
  ASSERT_TRUE(m.fingerprint.has_value());
  EXPECT_NE(m.deployed_fingerprint, m.fingerprint);
  // Rolled back: the files that were not there before are gone again.
  EXPECT_FALSE(std::filesystem::exists(files_.path() / "web.crt"));
  auto alerts = managed_->alerts(10, {}, admin());
  ASSERT_TRUE(alerts.has_value());
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].kind, "deploy_failed");
  EXPECT_EQ((*alerts)[0].managed_id, m.id);
  const auto kinds = timeline_kinds(m.id);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "deploy_failed"), kinds.end());
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "failed"), kinds.end());
  // The retry deploys the certificate it has: no second issuance.
  const auto certificates = inventory_count();
  EXPECT_FALSE(reconciler_->reconcile(m.id).has_value());
  EXPECT_EQ(inventory_count(), certificates);
  EXPECT_EQ(get(m.id).attempts, 2);
  ASSERT_TRUE(managed_->update(m.id, {{"targets", {file_target()}}}, admin()).has_value());
  reconcile(m.id);
  auto fixed = get(m.id);
  EXPECT_EQ(fixed.state, ManagedState::kActive);
  EXPECT_EQ(fixed.fingerprint, m.fingerprint);
  EXPECT_EQ(fixed.deployed_fingerprint, m.fingerprint);
  EXPECT_EQ(fixed.attempts, 0);
  EXPECT_EQ(inventory_count(), certificates);
  EXPECT_EQ(deployed_leaf().info().sha256_hex, *m.fingerprint);
}

TEST_F(ReconcilerTest, FailingIssuanceBacksOffAndAlertsOncePerStreak) {
  auto m = create(spec("web", {"www.example.com"}));
  ASSERT_TRUE(authorities_->set_enabled("issuing", false, "local:test").has_value());
  const SysTime t0 = clock_.now();
  EXPECT_FALSE(reconciler_->reconcile(m.id).has_value());
  auto failed = get(m.id);
  EXPECT_EQ(failed.state, ManagedState::kFailed);
  EXPECT_EQ(failed.attempts, 1);
  EXPECT_EQ(failed.next_check_at, t0 + settings_.retry_base);
  EXPECT_FALSE(reconciler_->reconcile(m.id).has_value());
  EXPECT_EQ(get(m.id).next_check_at, t0 + 2 * settings_.retry_base);
  EXPECT_EQ(managed_->alerts(10, {}, admin())->size(), 1u);
  ASSERT_TRUE(authorities_->set_enabled("issuing", true, "local:test").has_value());
  reconcile(m.id);
  auto recovered = get(m.id);
  EXPECT_EQ(recovered.state, ManagedState::kActive);
  EXPECT_EQ(recovered.attempts, 0);
  EXPECT_TRUE(recovered.last_error.empty());
}

TEST_F(ReconcilerTest, AdoptsAnInventoryCertificateAndSupersedesItWhenDue) {
  auto issued = ra_->enroll(request({"legacy.example.com"}));
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  const std::string adopted = issued->certificate.info().sha256_hex;
  auto m = create(spec("legacy", {}, {{"adopt", adopted}}));
  EXPECT_EQ(m.fingerprint, std::optional<std::string>(adopted));
  EXPECT_EQ(m.state, ManagedState::kActive);
  ASSERT_EQ(m.spec.sans.size(), 1u);
  EXPECT_EQ(m.spec.sans[0].value, "legacy.example.com");
  EXPECT_EQ(timeline_kinds(m.id), std::vector<std::string>{"adopted"});
  // One managed certificate takes it over, not two.
  auto twice = managed_->create(spec("legacy2", {}, {{"adopt", adopted}}), admin());
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
  reconcile(m.id);
  EXPECT_EQ(get(m.id).fingerprint, std::optional<std::string>(adopted));
  clock_.set(*m.renew_at);
  reconcile(m.id);
  auto renewed = get(m.id);
  ASSERT_NE(renewed.fingerprint, std::optional<std::string>(adopted));
  EXPECT_EQ(inventory_.get(adopted)->value().superseded_by, renewed.fingerprint);
}

TEST_F(ReconcilerTest, SeveralRunsAtOnceIssueExactlyOnce) {
  auto m = create(spec("web", {"www.example.com"}));
  const auto before = inventory_count();
  std::vector<std::thread> runs;
  for (int i = 0; i < 4; ++i) {
    runs.emplace_back([&] { (void)reconciler_->reconcile(m.id); });
  }
  for (auto& t : runs) t.join();
  EXPECT_EQ(inventory_count(), before + 1);
  EXPECT_EQ(get(m.id).state, ManagedState::kActive);
  const auto kinds = timeline_kinds(m.id);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "issued"), 1);
}

TEST_F(ReconcilerTest, RunsSideBySideShareCommitsAndFailAlone) {
  // Runs side by side, as a scheduler's workers make them: their claims, issuances and
  // outcomes share commits. One whose issuance the RA refuses (its profile is gone) fails
  // alone; several runs of one managed certificate lose their claims to one of them, which
  // issues it once, and the others are unaffected.
  std::vector<ManagedCertificate> ms;
  for (int i = 0; i < 6; ++i) {
    const std::string name = "m" + std::to_string(i);
    ms.push_back(create(spec(name, {name + ".example.com"}, {{"targets", {file_target(name)}}})));
  }
  const std::string refused = ms[1].id;
  certward::testing::exec_sql(
      *db_,
      "UPDATE managed_certificates SET spec = replace(spec, '\"tls-server\"', "
      "'\"gone\"') WHERE id = ?",
      store::params(refused));
  const std::string contested = ms[4].id;
  const auto before = inventory_count();
  std::vector<std::string> ids;
  for (const auto& m : ms) ids.push_back(m.id);
  for (int i = 0; i < 3; ++i) ids.push_back(contested);
  std::vector<Result<std::optional<NewJob>>> results(ids.size());
  std::vector<std::thread> runs;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    runs.emplace_back([&, i] { results[i] = reconciler_->reconcile(ids[i]); });
  }
  for (auto& t : runs) t.join();

  EXPECT_EQ(inventory_count(), before + 5);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == refused) {
      ASSERT_FALSE(results[i].has_value());
      EXPECT_EQ(results[i].error().code, ErrorCode::kNotFound) << results[i].error().message;
    } else {
      EXPECT_TRUE(results[i].has_value()) << results[i].error().message;
    }
  }
  for (const auto& m : ms) {
    const auto now = get(m.id);
    const auto kinds = timeline_kinds(m.id);
    if (m.id == refused) {
      EXPECT_EQ(now.state, ManagedState::kFailed);
      EXPECT_EQ(now.attempts, 1);
      EXPECT_FALSE(now.fingerprint.has_value());
      EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "failed"), 1);
      continue;
    }
    EXPECT_EQ(now.state, ManagedState::kActive) << now.last_error;
    ASSERT_TRUE(now.fingerprint.has_value());
    EXPECT_EQ(now.deployed_fingerprint, now.fingerprint);
    EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "issued"), 1) << m.spec.name;
    EXPECT_EQ(deployed_leaf(m.spec.name + ".crt").info().sha256_hex, *now.fingerprint);
  }
}

TEST_F(ReconcilerTest, DeletedOnesAreNotReconciled) {
  auto m = create(spec("web", {"www.example.com"}));
  ASSERT_TRUE(managed_->remove(m.id, admin()).has_value());
  auto next = reconciler_->reconcile(m.id);
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->has_value());
  EXPECT_FALSE(get(m.id).fingerprint.has_value());
}

TEST_F(ReconcilerTest, TheSchedulerRunsItAndTheSuccessorRenewsWhenDue) {
  Scheduler scheduler(clock_, jobs_, SchedulerOptions{.owner = "test"});
  ASSERT_TRUE(scheduler
                  .handle_chained(std::string(kReconcileJob),
                                  [this](const Job& job) { return reconciler_->handle(job); })
                  .has_value());
  auto m = create(spec("web", {"www.example.com"}, {{"validity", "10d"}}));
  ASSERT_EQ(scheduler.TEST_poll().value_or(-1), 1);
  m = get(m.id);
  const std::string first = *m.fingerprint;
  // The successor is pending for the renewal; nothing is due before it.
  EXPECT_EQ(scheduler.TEST_poll().value_or(-1), 0);
  clock_.set(*m.renew_at);
  ASSERT_EQ(scheduler.TEST_poll().value_or(-1), 1);
  EXPECT_NE(*get(m.id).fingerprint, first);
  // The sweep finds the pending successor and adds nothing.
  const auto jobs_before = certward::testing::count_rows(*db_, "jobs");
  ASSERT_EQ(reconciler_->sweep().value_or(-1), 0);
  EXPECT_EQ(certward::testing::count_rows(*db_, "jobs"), jobs_before);
}

TEST_F(ReconcilerTest, TheSweepSchedulesWhatHasNoJob) {
  auto a = create(spec("a", {"a.example.com"}));
  auto b = create(spec("b", {"b.example.com"}));
  // Their jobs are gone (run and done elsewhere, say): the sweep puts them back.
  certward::testing::exec_sql(*db_, "DELETE FROM jobs");
  ASSERT_EQ(reconciler_->sweep().value_or(-1), 2);
  auto jobs = jobs_.lease("test", {std::string(kReconcileJob)}, 10, seconds(60));
  ASSERT_TRUE(jobs.has_value());
  EXPECT_EQ(jobs->size(), 2u);
}

}  // namespace
}  // namespace certward::lifecycle
