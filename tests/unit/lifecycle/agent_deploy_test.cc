// Deployments to agent targets through the managed-certificate service and the reconciler:
// who may be named, the offer and its sealed key, the agent's fetch and its one report, the
// deadline, superseding, and what the managed certificate says meanwhile.

#include <gtest/gtest.h>

#include "lifecycle/agent_wire.h"
#include "unit/lifecycle/managed_fixture.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class AgentDeployTest : public testing::ManagedFixture {
 protected:
  void SetUp() override {
    ManagedFixture::SetUp();
    auth::Team db;
    db.name = "db";
    ASSERT_TRUE(auth_.create_team(db, "local:test").has_value());
    add_principal("web1-agent", auth::Role::kAgent, "web");
    add_principal("db1-agent", auth::Role::kAgent, "db");
    add_principal("shared-agent", auth::Role::kAgent, std::nullopt);
    add_principal("alice", auth::Role::kOperator, std::nullopt);
  }

  void add_principal(const std::string& name, auth::Role role, std::optional<std::string> team) {
    auth::Principal p;
    p.name = name;
    p.role = role;
    p.team = std::move(team);
    ASSERT_TRUE(auth_.create_principal(p, "local:test").has_value());
  }

  json agent_target(const std::string& agent, const std::string& name = "host") const {
    return {{"name", name},
            {"kind", "agent"},
            {"agent", agent},
            {"files", {{"key", "/etc/tls/web.key"}, {"fullchain", "/etc/tls/web.crt"}}}};
  }

  const AgentDeployments& agents() const { return managed_->agent_deployments(); }
  static AgentCaller as(const std::string& agent) { return {agent, "token:" + agent}; }

  // The deployment awaiting `agent` (exactly one).
  AgentDeployment awaiting(const std::string& agent) {
    auto list = agents().awaiting(as(agent), 10);
    CW_CHECK(list.has_value());
    CW_CHECK(list->size() == 1);
    return list->front();
  }

  deploy::Outcome success() const {
    deploy::Outcome o;
    o.deployed = true;
    o.steps = {{"write", true, "wrote 2 files", {}}};
    return o;
  }

  deploy::Outcome failure() const {
    deploy::Outcome o;
    o.rolled_back = true;
    o.steps = {{"write", true, "", {}}, {"reload", false, "exit status 1", {}}};
    o.error = Error{ErrorCode::kUnavailable, "reload failed"};
    return o;
  }

  std::int64_t audited(const std::string& action) {
    return certward::testing::count_rows(*db_, "audit_events WHERE action = '" + action + "'");
  }
};

template <typename T>
ErrorCode code_of(const Result<T>& r) {
  return r ? ErrorCode::kInternal : r.error().code;
}

TEST_F(AgentDeployTest, OnlyAnAgentOfTheCertificatesTeamMayBeNamed) {
  const auto with = [&](const std::string& agent) {
    return spec("web", {"www.example.com"}, {{"targets", {agent_target(agent)}}});
  };
  EXPECT_EQ(code_of(managed_->create(with("nobody"), admin())), ErrorCode::kPolicyRejected);
  EXPECT_EQ(code_of(managed_->create(with("alice"), admin())), ErrorCode::kPolicyRejected);
  // A requester of team web: its own team's agents only, never another's nor a shared one.
  EXPECT_EQ(code_of(managed_->create(with("db1-agent"), web())), ErrorCode::kPolicyRejected);
  EXPECT_EQ(code_of(managed_->create(with("shared-agent"), web())), ErrorCode::kPolicyRejected);
  // An administrator's certificate of team db does not go to team web's agent.
  auto db_spec = with("web1-agent");
  db_spec.team = "db";
  EXPECT_EQ(code_of(managed_->create(db_spec, admin())), ErrorCode::kPolicyRejected);
  EXPECT_EQ(managed_rows(), 0);
  // The server's allowed_paths do not apply: the paths are the agent host's.
  EXPECT_TRUE(managed_->create(with("web1-agent"), web()));
  EXPECT_TRUE(managed_->create(
      spec("shared", {"shared.example.com"}, {{"targets", {agent_target("shared-agent")}}}),
      admin()));
}

TEST_F(AgentDeployTest, TheAgentFetchesAndReportsAndOnlyThenItIsDeployed) {
  auto m = create(spec("web", {"www.example.com"},
                       {{"targets", {file_target("local"), agent_target("web1-agent")}}}));
  reconcile(m.id);
  m = get(m.id);
  EXPECT_EQ(m.state, ManagedState::kIssuing);
  EXPECT_NE(m.deployed_fingerprint, m.fingerprint);
  auto kinds = timeline_kinds(m.id);
  EXPECT_EQ(kinds, (std::vector<std::string>{"created", "issued", "deployed", "awaiting_agent"}));
  // The key is sealed at rest, not in the clear.
  const auto d = awaiting("web1-agent");
  EXPECT_EQ(d.fingerprint, *m.fingerprint);
  EXPECT_EQ(d.state, AgentDeploymentState::kPending);
  // Waiting changes nothing: the local target is not written again.
  reconcile(m.id);
  EXPECT_EQ(timeline_kinds(m.id).size(), kinds.size());

  // Another agent sees nothing of it.
  EXPECT_TRUE(agents().awaiting(as("db1-agent"), 10)->empty());
  EXPECT_EQ(code_of(agents().fetch(d.id, as("db1-agent"))), ErrorCode::kNotFound);
  EXPECT_EQ(code_of(agents().report(d.id, as("db1-agent"), success())), ErrorCode::kNotFound);
  // A report before the fetch is refused.
  EXPECT_EQ(code_of(agents().report(d.id, as("web1-agent"), success())), ErrorCode::kConflict);

  auto doc = agents().fetch(d.id, as("web1-agent"));
  ASSERT_TRUE(doc) << doc.error().message;
  auto delivery = parse_agent_delivery(*doc);
  ASSERT_TRUE(delivery) << delivery.error().message;
  EXPECT_EQ(delivery->fingerprint, *m.fingerprint);
  EXPECT_EQ(delivery->target.files.key, "/etc/tls/web.key");
  EXPECT_EQ(audited("managed.agent_fetch"), 1);

  auto reported = agents().report(d.id, as("web1-agent"), success());
  ASSERT_TRUE(reported) << reported.error().message;
  EXPECT_EQ(reported->state, AgentDeploymentState::kSucceeded);
  // Once: a replay is refused, and the key is gone.
  EXPECT_EQ(code_of(agents().report(d.id, as("web1-agent"), success())), ErrorCode::kConflict);
  EXPECT_EQ(code_of(agents().fetch(d.id, as("web1-agent"))), ErrorCode::kConflict);
  EXPECT_EQ(certward::testing::count_rows(*db_, "agent_deployments WHERE sealed_key IS NOT NULL"),
            0);
  reconcile(m.id);
  m = get(m.id);
  EXPECT_EQ(m.state, ManagedState::kActive);
  EXPECT_EQ(m.deployed_fingerprint, m.fingerprint);
  EXPECT_EQ(audited("managed.agent_report"), 1);
  EXPECT_EQ(audited("managed.deploy"), 1);
}

TEST_F(AgentDeployTest, AFailedReportFailsItWithAnAlertAndItIsOfferedAgain) {
  auto m = create(spec("web", {"www.example.com"}, {{"targets", {agent_target("web1-agent")}}}));
  reconcile(m.id);
  const auto d = awaiting("web1-agent");
  ASSERT_TRUE(agents().fetch(d.id, as("web1-agent")));
  ASSERT_TRUE(agents().report(d.id, as("web1-agent"), failure()));
  m = get(m.id);
  EXPECT_EQ(m.state, ManagedState::kFailed);
  EXPECT_NE(m.last_error.find("reload failed"), std::string::npos);
  auto alerts = managed_->alerts(10, {}, admin());
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ(alerts->front().severity, "critical");
  auto kinds = timeline_kinds(m.id);
  EXPECT_EQ(std::vector<std::string>(kinds.end() - 3, kinds.end()),
            (std::vector<std::string>{"deploy_failed", "rolled_back", "failed"}));
  // Retried: a new offer of the same certificate.
  clock_.advance(seconds(60));
  reconcile(m.id);
  const auto again = awaiting("web1-agent");
  EXPECT_NE(again.id, d.id);
  EXPECT_EQ(again.fingerprint, d.fingerprint);
}

TEST_F(AgentDeployTest, AnUnreportedDeploymentExpiresWithAnAlert) {
  settings_.agent_deploy_timeout = seconds(600);
  auto m = create(spec("web", {"www.example.com"}, {{"targets", {agent_target("web1-agent")}}}));
  auto next = reconcile(m.id);
  ASSERT_TRUE(next);
  const auto d = awaiting("web1-agent");
  // Back by the deadline.
  EXPECT_LE(next->run_at, d.deadline + seconds(1));
  ASSERT_TRUE(agents().fetch(d.id, as("web1-agent")));
  clock_.advance(seconds(601));
  // Late: refused, whatever the agent did.
  EXPECT_EQ(code_of(agents().report(d.id, as("web1-agent"), success())), ErrorCode::kConflict);
  EXPECT_FALSE(reconciler_->reconcile(m.id));
  m = get(m.id);
  EXPECT_EQ(m.state, ManagedState::kFailed);
  EXPECT_NE(m.last_error.find("did not report"), std::string::npos);
  EXPECT_EQ(managed_->alerts(10, {}, admin())->size(), 1u);
  EXPECT_TRUE(agents().awaiting(as("web1-agent"), 10)->empty());
}

TEST_F(AgentDeployTest, ANewerCertificateSupersedesWhatWasOffered) {
  auto m = create(spec("web", {"www.example.com"}, {{"targets", {agent_target("web1-agent")}}}));
  reconcile(m.id);
  const auto first = awaiting("web1-agent");
  ASSERT_TRUE(agents().fetch(first.id, as("web1-agent")));
  ASSERT_TRUE(managed_->renew(m.id, false, admin()));
  reconcile(m.id);
  const auto second = awaiting("web1-agent");
  EXPECT_NE(second.fingerprint, first.fingerprint);
  EXPECT_EQ(code_of(agents().report(first.id, as("web1-agent"), success())), ErrorCode::kConflict);
  // Deleting the managed certificate supersedes what awaited its agent.
  ASSERT_TRUE(managed_->remove(m.id, admin()));
  EXPECT_TRUE(agents().awaiting(as("web1-agent"), 10)->empty());
}

TEST_F(AgentDeployTest, ATargetNoLongerTheAgentsTakesBackWhatAwaitedIt) {
  auto m = create(spec("web", {"www.example.com"}, {{"targets", {agent_target("web1-agent")}}}));
  reconcile(m.id);
  const auto d = awaiting("web1-agent");
  ASSERT_TRUE(managed_->update(m.id, {{"targets", {file_target("local")}}}, admin()));
  reconcile(m.id);
  EXPECT_EQ(get(m.id).state, ManagedState::kActive);
  EXPECT_TRUE(agents().awaiting(as("web1-agent"), 10)->empty());
  EXPECT_EQ(code_of(agents().fetch(d.id, as("web1-agent"))), ErrorCode::kConflict);
}

}  // namespace
}  // namespace certward::lifecycle
