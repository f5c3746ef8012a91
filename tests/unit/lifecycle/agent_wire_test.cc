// Agent targets as specs, the agent host's allow-list (check_agent_host), and the two documents
// a deployment to an agent travels in, each read as hostile input.

#include "lifecycle/agent_wire.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "lifecycle/deploy/target.h"
#include "unit/lifecycle/deploy_support.h"

namespace certward::lifecycle {
namespace {

using deploy::testing::TempDir;
using deploy::testing::TestPki;
using nlohmann::json;

json agent_target(const std::string& dir, json extra = json::object()) {
  json j = {{"name", "web1"},
            {"kind", "agent"},
            {"agent", "web1-agent"},
            {"files", {{"key", dir + "/web.key"}, {"fullchain", dir + "/web.crt"}}}};
  for (const auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

template <typename T>
ErrorCode code_of(const Result<T>& r) {
  return r ? ErrorCode::kInternal : r.error().code;
}

TEST(AgentTargetSpec, ParsesAndRoundTrips) {
  auto spec = deploy::parse_target_spec(agent_target("/etc/nginx/tls"));
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->kind, deploy::TargetKind::kAgent);
  EXPECT_EQ(spec->agent, "web1-agent");
  EXPECT_EQ(deploy::parse_target_spec(deploy::target_spec_json(*spec))->agent, "web1-agent");
  EXPECT_EQ(deploy::target_spec_json(*spec)["kind"], "agent");
}

TEST(AgentTargetSpec, RefusesAgentlessAgentTargetsAndAgentsElsewhere) {
  json no_agent = agent_target("/etc/tls");
  no_agent.erase("agent");
  EXPECT_EQ(code_of(deploy::parse_target_spec(no_agent)), ErrorCode::kInvalidArgument);
  json files = agent_target("/etc/tls");
  files["kind"] = "files";
  EXPECT_EQ(code_of(deploy::parse_target_spec(files)), ErrorCode::kInvalidArgument);
  for (const json& bad :
       {json("Web1"), json("-x"), json(""), json(7), json(std::string(65, 'a'))}) {
    EXPECT_EQ(code_of(deploy::parse_target_spec(agent_target("/etc/tls", {{"agent", bad}}))),
              ErrorCode::kInvalidArgument)
        << bad.dump();
  }
  // Still strictly parsed: a relative path is refused though the server never writes it.
  EXPECT_EQ(code_of(deploy::parse_target_spec(agent_target("etc/tls"))),
            ErrorCode::kInvalidArgument);
}

TEST(AgentTargetSpec, TheServersPolicyDoesNotApplyAndItsDeployerRefusesIt) {
  auto spec = deploy::parse_target_spec(
      agent_target("/srv/elsewhere", {{"verify", {{"endpoint", "203.0.113.7:443"}}}}));
  ASSERT_TRUE(spec);
  deploy::Policy policy;
  policy.allowed_paths = {"/nowhere"};
  EXPECT_TRUE(deploy::check_target(*spec, policy));
  EXPECT_EQ(deploy::longest_deployment(*spec), std::chrono::seconds(0));
  FakeClock clock(certward::testing::kT0);
  TestPki pki;
  auto leaf = pki.leaf("www.example.com");
  const auto out = deploy::Deployer(clock, policy).deploy(*spec, leaf->material());
  EXPECT_FALSE(out.deployed);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(out.steps.empty());
}

class AgentHostTest : public ::testing::Test {
 protected:
  deploy::Policy policy() const {
    deploy::Policy p;
    p.allowed_paths = {allowed_.path().string()};
    p.team_reload_commands = {{"/usr/sbin/nginx", "-s", "reload"}};
    return p;
  }
  deploy::TargetSpec spec(json j) const {
    auto s = deploy::parse_target_spec(j);
    CW_CHECK(s.has_value());
    return *s;
  }
  TempDir allowed_, other_;
};

TEST_F(AgentHostTest, AllowsFilesUnderTheDeployDirAndAnAllowedReload) {
  auto local = deploy::check_agent_host(
      spec(agent_target(allowed_.path().string(),
                        {{"reload", {{"argv", {"/usr/sbin/nginx", "-s", "reload"}}}}})),
      policy());
  ASSERT_TRUE(local) << local.error().message;
  EXPECT_EQ(local->kind, deploy::TargetKind::kFiles);
  EXPECT_FALSE(local->agent);
}

TEST_F(AgentHostTest, RefusesWhatTheHostDoesNotAllow) {
  // A path outside the deploy directories.
  EXPECT_EQ(code_of(deploy::check_agent_host(spec(agent_target(other_.path().string())), policy())),
            ErrorCode::kPolicyRejected);
  // One that leaves them through a symbolic link.
  std::filesystem::create_directory_symlink(other_.path(), allowed_.path() / "out");
  EXPECT_EQ(code_of(deploy::check_agent_host(spec(agent_target((allowed_.path() / "out").string())),
                                             policy())),
            ErrorCode::kPolicyRejected);
  // A reload command not allowed exactly.
  EXPECT_EQ(code_of(deploy::check_agent_host(
                spec(agent_target(allowed_.path().string(),
                                  {{"reload", {{"argv", {"/bin/sh", "-c", "id"}}}}})),
                policy())),
            ErrorCode::kPolicyRejected);
  EXPECT_EQ(code_of(deploy::check_agent_host(
                spec(agent_target(allowed_.path().string(),
                                  {{"reload", {{"argv", {"/usr/sbin/nginx", "-s", "stop"}}}}})),
                policy())),
            ErrorCode::kPolicyRejected);
  // A PKCS#12 password file read from outside them.
  const std::string dir = allowed_.path().string();
  json p12 = agent_target(dir);
  p12["files"] = {{"pkcs12", dir + "/web.p12"}, {"pkcs12_password_file", "/etc/shadow"}};
  EXPECT_EQ(code_of(deploy::check_agent_host(spec(p12), policy())), ErrorCode::kPolicyRejected);
  // A verify endpoint outside the verify networks.
  EXPECT_EQ(
      code_of(deploy::check_agent_host(
          spec(agent_target(dir, {{"verify", {{"endpoint", "169.254.169.254:443"}}}})), policy())),
      ErrorCode::kPolicyRejected);
  // No deploy directory: nothing at all.
  deploy::Policy none = policy();
  none.allowed_paths.clear();
  EXPECT_EQ(code_of(deploy::check_agent_host(spec(agent_target(dir)), none)),
            ErrorCode::kPolicyRejected);
  // Not an agent target.
  json files = agent_target(dir);
  files["kind"] = "files";
  files.erase("agent");
  EXPECT_EQ(code_of(deploy::check_agent_host(spec(files), policy())), ErrorCode::kInvalidArgument);
}

TEST_F(AgentHostTest, GivesFilesOnlyToTheOwnersAndGroupsItAllows) {
  // A server that was taken over must not hand this host's files (an nginx.conf under a deploy
  // directory, say) to another local account, which could then write them.
  const std::string dir = allowed_.path().string();
  for (const json& files :
       {json{{"owner", "nobody"}}, json{{"group", "nogroup"}}, json{{"owner", "root"}}}) {
    json j = agent_target(dir);
    j["files"].update(files);
    EXPECT_EQ(code_of(deploy::check_agent_host(spec(j), policy())), ErrorCode::kPolicyRejected)
        << files.dump();
  }
  deploy::Policy allowing = policy();
  allowing.agent_accounts = {"root", "www-data"};
  json j = agent_target(dir);
  j["files"].update(json{{"owner", "root"}, {"group", "www-data"}});
  EXPECT_TRUE(deploy::check_agent_host(spec(j), allowing));
  j["files"]["group"] = "nogroup";
  EXPECT_EQ(code_of(deploy::check_agent_host(spec(j), allowing)), ErrorCode::kPolicyRejected);
}

class AgentDeliveryTest : public ::testing::Test {
 protected:
  json delivery() const {
    auto target = deploy::parse_target_spec(agent_target("/etc/tls"));
    CW_CHECK(target.has_value());
    auto pem = leaf_->key.to_pkcs8_pem();
    CW_CHECK(pem.has_value());
    return agent_delivery_json("00112233445566778899aabb", "web", *target, leaf_->certificate,
                               leaf_->chain, pem->chars(), certward::testing::kT0);
  }
  TestPki pki_;
  std::unique_ptr<deploy::testing::Issued> leaf_ = pki_.leaf("www.example.com");
  std::unique_ptr<deploy::testing::Issued> other_ = pki_.leaf("www.example.com");
};

TEST_F(AgentDeliveryTest, ReadsWhatTheServerWrites) {
  auto d = parse_agent_delivery(delivery());
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->id, "00112233445566778899aabb");
  EXPECT_EQ(d->fingerprint, leaf_->sha256());
  EXPECT_EQ(d->chain.size(), 2u);
  EXPECT_EQ(d->target.agent, "web1-agent");
  EXPECT_EQ(d->deadline, certward::testing::kT0);
}

TEST_F(AgentDeliveryTest, RefusesWhatDoesNotBelongTogether) {
  auto with = [&](const char* key, json value) {
    json j = delivery();
    if (value.is_null()) {
      j.erase(key);
    } else {
      j[key] = std::move(value);
    }
    return code_of(parse_agent_delivery(j));
  };
  auto other_key = other_->key.to_pkcs8_pem();
  ASSERT_TRUE(other_key);
  EXPECT_EQ(with("key", std::string(other_key->chars())), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with("fingerprint", other_->sha256()), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with("certificate", other_->certificate.pem() + leaf_->certificate.pem()),
            ErrorCode::kMalformed);
  EXPECT_EQ(with("id", "../../admin"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with("managed", "a b"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with("extra", true), ErrorCode::kMalformed);
  EXPECT_EQ(with("key", json(nullptr)), ErrorCode::kMalformed);
  EXPECT_EQ(with("key", "not a key"), ErrorCode::kMalformed);
  json files_target = delivery()["target"];
  files_target["kind"] = "files";
  files_target.erase("agent");
  EXPECT_EQ(with("target", files_target), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of(parse_agent_delivery(json::array())), ErrorCode::kMalformed);
}

TEST(AgentOutcome, RoundTripsAndRefusesInconsistentReports) {
  deploy::Outcome o;
  o.deployed = false;
  o.rolled_back = true;
  o.steps = {{"write", true, "wrote 2 files", std::chrono::milliseconds(3)},
             {"reload", false, "exit status 1:\nbad", std::chrono::milliseconds(9)},
             {"restore", true, "", {}}};
  o.error = Error{ErrorCode::kUnavailable, "reload failed"};
  auto parsed = parse_agent_outcome(agent_outcome_json(o));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_FALSE(parsed->deployed);
  EXPECT_TRUE(parsed->rolled_back);
  ASSERT_EQ(parsed->steps.size(), 3u);
  EXPECT_EQ(parsed->steps[1].detail, "exit status 1: bad");  // single line
  EXPECT_EQ(parsed->error->code, ErrorCode::kUnavailable);

  const json good = agent_outcome_json(o);
  auto refused = [&](json j) { return code_of(parse_agent_outcome(j)); };
  json deployed_with_error = good;
  deployed_with_error["deployed"] = true;
  deployed_with_error["rolled_back"] = false;
  EXPECT_EQ(refused(deployed_with_error), ErrorCode::kInvalidArgument);
  json no_error = good;
  no_error.erase("error");
  EXPECT_EQ(refused(no_error), ErrorCode::kInvalidArgument);
  json odd_step = good;
  odd_step["steps"][0]["name"] = "rm -rf";
  EXPECT_EQ(refused(odd_step), ErrorCode::kInvalidArgument);
  json odd_code = good;
  odd_code["error"]["code"] = "teapot";
  EXPECT_EQ(refused(odd_code), ErrorCode::kInvalidArgument);
  json many = good;
  many["steps"] = json::array();
  for (int i = 0; i < 17; ++i) many["steps"].push_back(good["steps"][0]);
  EXPECT_EQ(refused(many), ErrorCode::kInvalidArgument);
  json unknown = good;
  unknown["by"] = "me";
  EXPECT_EQ(refused(unknown), ErrorCode::kMalformed);
  EXPECT_EQ(refused(json("deployed")), ErrorCode::kMalformed);
}

}  // namespace
}  // namespace certward::lifecycle
