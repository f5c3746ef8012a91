#include "cli/agent_deploy.h"

#include <iostream>

#include "cli/output.h"
#include "common/clock.h"
#include "common/log.h"
#include "lifecycle/agent_wire.h"
#include "lifecycle/service.h"

namespace certward::cli {
namespace {

using nlohmann::json;
namespace deploy = lifecycle::deploy;

// An outcome for what was refused before anything changed on this host.
deploy::Outcome refused(const Error& e) {
  deploy::Outcome o;
  o.steps.push_back({.name = "check", .ok = false, .detail = e.message, .took = {}});
  o.error = e;
  return o;
}

// Fetches, checks and applies one deployment; what is reported.
deploy::Outcome apply(const Remote& remote, const std::string& id, const deploy::Policy& policy,
                      std::string& label) {
  auto doc = remote.get("/api/v1/agent/deployments/" + id);
  if (!doc) return refused(doc.error());
  auto delivery = lifecycle::parse_agent_delivery(*doc);
  // The key in the answer is not kept beyond this point, whatever was made of it.
  if (auto key = doc->find("key"); key != doc->end() && key->is_string()) {
    crypto::cleanse(key->get_ref<std::string&>());
  }
  if (!delivery) {
    return refused({delivery.error().code,
                    "the server's deployment document was refused: " + delivery.error().message});
  }
  if (delivery->id != id) return refused({ErrorCode::kInvalidArgument, "the deployment's id"});
  label = delivery->managed + "/" + delivery->target.name;
  auto local = deploy::check_agent_host(delivery->target, policy);
  if (!local) return refused(local.error());
  SystemClock clock;
  const deploy::Deployer deployer(clock, policy);
  return deployer.deploy(*local, {delivery->certificate, delivery->chain, delivery->key});
}

}  // namespace

deploy::Policy agent_host_policy(const std::vector<std::string>& deploy_dirs,
                                 const std::vector<std::string>& allow_reload,
                                 const std::vector<std::string>& allow_owner) {
  LifecycleSettings s;
  s.allowed_paths = deploy_dirs;
  s.team_reload_commands = allow_reload;
  deploy::Policy p = lifecycle::deploy_policy(s);
  // Nothing of the server's kinds: an agent writes its own host's files only.
  p.allowed_ssh_hosts.clear();
  p.team_secrets_dir.clear();
  p.agent_accounts = allow_owner;
  return p;
}

Result<AgentDeployRound> receive_deployments(const Remote& remote, const deploy::Policy& policy,
                                             bool as_json) {
  CW_ASSIGN_OR_RETURN(auto list, remote.get("/api/v1/agent/deployments?limit=20"));
  const json items = list.value("items", json::array());
  if (!items.is_array()) return fail(ErrorCode::kMalformed, "the server's list is not a list");
  AgentDeployRound round;
  for (const auto& item : items) {
    const std::string id = item.is_object() ? json_text(item, "id") : "";
    // An id goes into a URL path: hex only, as the server makes them.
    if (id.empty() || id.size() > 64 ||
        id.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return fail(ErrorCode::kMalformed, "the server listed a deployment without a valid id");
    }
    std::string label = id;
    const deploy::Outcome outcome = apply(remote, id, policy, label);
    log::info("agent_deployment", {{"deployment", id},
                                   {"target", label},
                                   {"deployed", outcome.deployed},
                                   {"error", outcome.error ? outcome.error->message : ""}});
    auto reported = remote.post("/api/v1/agent/deployments/" + id + "/outcome",
                                lifecycle::agent_outcome_json(outcome));
    if (outcome.deployed) {
      ++round.deployed;
    } else {
      ++round.failed;
      if (!round.first_failure) round.first_failure = outcome.error;
    }
    if (as_json) {
      print_json({{"deployment", id},
                  {"target", label},
                  {"outcome", lifecycle::agent_outcome_json(outcome)},
                  {"reported", reported.has_value()}});
    } else {
      std::cout << "agent deployment " << id << " (" << printable(label) << "): "
                << (outcome.deployed ? "deployed" : "failed: " + printable(outcome.error->message))
                << (reported ? "" : "; not reported: " + printable(reported.error().message))
                << std::endl;
    }
  }
  return round;
}

}  // namespace certward::cli
