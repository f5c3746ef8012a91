#pragma once
// The table of deployments to agent targets (migrations module "agent_deployments"): one row
// per certificate offered to an agent for one target, its sealed key until the agent reports,
// and the agent's report. SQL only; AgentDeployments (agent_deploy.h) decides and audits.
//
// Thread-safe; stateless besides its collaborators.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "lifecycle/deploy/target.h"
#include "store/store.h"

namespace certward::lifecycle {

enum class AgentDeploymentState : std::uint8_t {
  kPending,     // offered; the agent has not fetched it yet
  kFetched,     // the agent fetched it (key released) and has not reported yet
  kSucceeded,   // the agent reported it deployed
  kFailed,      // the agent reported it failed
  kExpired,     // the agent did not report before the deadline
  kSuperseded,  // a newer certificate or target replaced it before it was reported
};
std::string_view agent_deployment_state_name(AgentDeploymentState s);  // "pending", ...
// Pending or fetched: an agent may still report it.
bool awaiting_report(AgentDeploymentState s);

struct AgentDeployment {
  std::string id;  // 24 lower-case hex digits
  std::string managed_id;
  std::string managed_name;
  std::string target;  // the target's name within the managed certificate
  std::string agent;   // the agent principal
  std::string fingerprint;
  // targets_hash() of the managed certificate when offered: with the fingerprint, the round of
  // deployments the reconciler waits on.
  std::string round;
  deploy::TargetSpec spec;  // as stored (kAgent)
  AgentDeploymentState state = AgentDeploymentState::kPending;
  SysTime offered_at{};
  SysTime deadline{};
  std::optional<SysTime> fetched_at;
  std::optional<SysTime> reported_at;
  nlohmann::json outcome;  // the agent's report (agent_outcome_json), or null
};
// Without secrets: what lists, timelines and audit events show.
nlohmann::json agent_deployment_json(const AgentDeployment& d);

// What the agent is given besides the row: public material and the sealed key.
struct AgentDeploymentMaterial {
  std::string certificate_pem;
  std::string chain_pem;  // issuers, nearest first
  Bytes sealed_key;       // crypto::KeyWrapper::seal of the PKCS#8 DER, agent_deployment_aad(id)
};
std::string agent_deployment_aad(std::string_view id);  // "agent-deployment:<id>"

class AgentDeployStore {
 public:
  explicit AgentDeployStore(store::Database& db) : db_(db) {}

  static Status migrate(store::Database& db);

  Status insert(store::Transaction& tx, const AgentDeployment& d,
                const AgentDeploymentMaterial& material) const;
  // With `lock`, locked for the caller's write transaction.
  Result<std::optional<AgentDeployment>> find(store::Transaction& tx, std::string_view id,
                                              bool lock = false) const;
  // Errors: kNotFound when the row has no key any more (it was reported or superseded).
  Result<AgentDeploymentMaterial> material(store::Transaction& tx, std::string_view id) const;
  // The newest deployment of each target of managed certificate `managed_id` in the round
  // (fingerprint, round).
  Result<std::vector<AgentDeployment>> round(store::Transaction& tx, std::string_view managed_id,
                                             std::string_view fingerprint,
                                             std::string_view round) const;
  // What `agent` may fetch and report, oldest first, at most `limit`.
  Result<std::vector<AgentDeployment>> awaiting(std::string_view agent, int limit) const;

  // Marks the deployments of `managed_id` still awaiting a report superseded (with `target`,
  // that target's only) and drops their keys. Returns how many.
  Result<std::int64_t> supersede(store::Transaction& tx, std::string_view managed_id,
                                 const std::optional<std::string>& target) const;
  // Writes `d`'s state, fetched_at, reported_at and outcome if the row is still awaiting a
  // report; one that leaves that state loses its key. Returns false (nothing written) when it
  // is no longer awaiting one: a report is recorded once.
  Result<bool> update(store::Transaction& tx, const AgentDeployment& d) const;

 private:
  store::Database& db_;
};

}  // namespace certward::lifecycle
