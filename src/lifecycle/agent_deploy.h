#pragma once
// Deployments to agent targets (deploy::TargetKind::kAgent): a certificate that goes to a host
// certward does not reach itself, where `certward agent` runs with a token of role agent.
//
// The reconciler does not deploy an agent target: it offers the certificate to the agent (a
// row of agent_deployments holding the certificate, its chain and the key sealed at rest under
// the master key, never in the clear) and waits. The agent lists what awaits it, fetches one
// (the key is unsealed for that answer only) and applies it on its host under its own
// allow-list, then reports the outcome. The report is recorded once: the managed certificate's
// timeline gets the steps, a failure marks it failed and raises a critical alert, as a failed
// local deployment does, and the reconciler is woken to finish (deployed once every target is).
// An offer not reported by its deadline ([lifecycle] agent_deploy_timeout) expires and fails
// the same way. A newer certificate, a changed target or a deleted managed certificate
// supersedes what was offered before; a report for it is refused (kConflict).
//
// An agent sees only its own deployments: another agent's id is not found (kNotFound), never
// forbidden, so ids leak nothing. Every change is audited.
//
// Thread-safe; stateless besides its collaborators.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lifecycle/agent_deploy_store.h"
#include "lifecycle/deploy/target.h"
#include "lifecycle/deps.h"
#include "lifecycle/managed.h"
#include "lifecycle/managed_store.h"

namespace certward::lifecycle {

// The agent asking: its principal (whose deployments it may see) and its audit identity.
struct AgentCaller {
  std::string principal;
  std::string actor;
};

class AgentDeployments {
 public:
  explicit AgentDeployments(LifecycleDeps deps)
      : d_(deps), store_(deps.db), managed_(deps.clock, deps.db) {}

  static Status migrate(store::Database& db) { return AgentDeployStore::migrate(db); }

  // What ManagedService holds a spec's agent targets to when it is created or changed: each
  // names an enabled principal of role agent; a team-scoped caller's names an agent of its own
  // team, and a managed certificate of a team goes to that team's agents (or to agents of no
  // team) only: its key is the team's. Errors: kPolicyRejected.
  Status check_targets(const ManagedSpec& spec, const ca::Requester& caller) const;

  // ---- for the reconciler ----

  // The newest deployment of each agent target in `m`'s current round (its certificate and
  // targets as they are).
  Result<std::vector<AgentDeployment>> current_round(const ManagedCertificate& m) const;
  // Offers `material` to `target`'s agent, superseding what that target awaited before.
  // The key is sealed for this row alone.
  Result<AgentDeployment> offer(store::Transaction& tx, const ManagedCertificate& m,
                                const deploy::TargetSpec& target,
                                const deploy::Material& material) const;
  // Marks `d` expired (its deadline passed). Returns false when it was reported meanwhile.
  Result<bool> expire(store::Transaction& tx, AgentDeployment& d) const;
  // Supersedes every offer of `managed_id` still awaiting a report (deleted, or a new round).
  Status supersede_all(store::Transaction& tx, std::string_view managed_id) const;

  // ---- for the agent (REST) ----

  // What awaits the agent, oldest first. `limit` 1..100.
  Result<std::vector<AgentDeployment>> awaiting(const AgentCaller& agent, int limit) const;
  // The delivery document (agent_wire.h) of deployment `id`, with the key in it. Errors:
  // kNotFound (no such deployment of this agent), kConflict (superseded, reported, expired or
  // past its deadline).
  Result<nlohmann::json> fetch(const std::string& id, const AgentCaller& agent) const;
  // Records the agent's report of deployment `id` (fetched first). Errors: kNotFound (as
  // fetch), kConflict (not fetched, already reported, superseded, expired, past its deadline).
  Result<AgentDeployment> report(const std::string& id, const AgentCaller& agent,
                                 deploy::Outcome outcome) const;

 private:
  Result<AgentDeployment> own(store::Transaction& tx, const std::string& id,
                              const AgentCaller& agent) const;
  // Offers of an older round are superseded when the next is made; this catches one that was
  // left behind (its managed certificate deleted, renewed or retargeted meanwhile): marked
  // superseded and committed, true. False when `d` is still of the current round.
  Result<bool> superseded(store::Transaction& tx, AgentDeployment& d) const;

  LifecycleDeps d_;
  AgentDeployStore store_;
  ManagedStore managed_;
};

}  // namespace certward::lifecycle
