#pragma once
// Managed certificates as the API, the CLI and the configuration change them: every change is
// checked before anything is stored (the caller's scope with the RA's own rules, the profile
// and authority, the deployment policy), stored with its timeline entry and audit event in one
// transaction, and hands the managed certificate to the reconciler (reconciler.h) as a job
// "managed.reconcile" under the dedupe key "managed:<id>" in that same transaction.
//
// Who may see what: a team-scoped caller (a requester: ca::Requester::scope set) sees and
// changes only its own team's managed certificates; the others are not found. Its managed
// certificates belong to its team and are issued within its team's grant, as it is at each
// renewal.
//
// Thread-safe; stateless besides its collaborators.

#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "auth/auth.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "common/config.h"
#include "inventory/inventory.h"
#include "lifecycle/agent_deploy.h"
#include "lifecycle/deploy/target.h"
#include "lifecycle/deps.h"
#include "lifecycle/jobs.h"
#include "lifecycle/managed.h"
#include "lifecycle/managed_store.h"

namespace certward::lifecycle {

// [lifecycle] as the deployment policy.
deploy::Policy deploy_policy(const LifecycleSettings& settings);

inline constexpr std::string_view kReconcileJob = "managed.reconcile";
std::string reconcile_key(std::string_view id);  // "managed:<id>"
// The reconciliation of managed certificate `id` at `run_at` (moved earlier, never later, when
// one is pending).
NewJob reconcile_job(std::string_view id, SysTime run_at, int max_attempts);

class ManagedService {
 public:
  explicit ManagedService(LifecycleDeps deps)
      : d_(deps), store_(deps.clock, deps.db), agents_(deps) {}

  // The tables of managed certificates and of their deployments to agents. The job queue's are
  // migrated by JobQueue::migrate.
  static Status migrate(store::Database& db) {
    CW_RETURN_IF_ERROR(ManagedStore::migrate(db));
    return AgentDeployments::migrate(db);
  }

  // The deployments to agent targets, as the agents see them (agent_deploy.h).
  const AgentDeployments& agent_deployments() const { return agents_; }

  // Stores a new managed certificate, to be issued at once (or, adopting an inventory
  // certificate, renewed when that one is due).
  // Errors: kInvalidArgument (spec, adopted certificate unusable), kNotFound (profile,
  // authority, adopted certificate), kUnauthorized (outside the caller's scope),
  // kPolicyRejected (profile rules, a target outside the deployment policy, an agent target
  // naming no agent the caller may deploy to: AgentDeployments::check_targets), kConflict (name,
  // or a target file another managed certificate writes).
  Result<ManagedCertificate> create(ManagedSpec spec, const ca::Requester& caller) const;
  // Applies a change (patch_managed_spec) with the checks of create(); a change of what is
  // issued re-issues at once, a change of targets redeploys.
  // Errors: as create(), kNotFound, kConflict (changed meanwhile: read it again; declared in
  // the configuration: change it there).
  Result<ManagedCertificate> update(const std::string& id, const nlohmann::json& patch,
                                    const ca::Requester& caller) const;
  // Marks it deleted (its timeline is kept; files already deployed stay where they are; what
  // awaited an agent is superseded).
  // Errors: kNotFound, kConflict (declared in the configuration: remove it there).
  Status remove(const std::string& id, const ca::Requester& caller) const;
  // Renews now, with a new key when `rotate_key` (whatever the key policy says).
  Result<ManagedCertificate> renew(const std::string& id, bool rotate_key,
                                   const ca::Requester& caller) const;

  // By id or name. Errors: kNotFound (also for another team's, to a team-scoped caller).
  Result<ManagedCertificate> get(const std::string& id_or_name, const ca::Requester& caller) const;
  Result<ManagedPage> list(ManagedFilter filter, const ca::Requester& caller) const;
  Result<std::vector<ManagedEvent>> timeline(const std::string& id, int limit,
                                             const ca::Requester& caller) const;
  Result<std::vector<Alert>> alerts(int limit, const std::optional<std::string>& before,
                                    const ca::Requester& caller) const;

  // Brings the managed certificates the configuration declares ([[managed]]) to what it says:
  // created or changed by name, marked declared; those no longer declared stay, undeclared.
  // Errors: the first declaration that fails, with where it is.
  Status sync_declared(const std::vector<ManagedDeclaration>& declarations) const;

 private:
  // What create() and update() refuse; fills in the caller's team. Targets also in `before`
  // (the stored spec, for a change) are not held to a requester's limits again.
  Status check(ManagedSpec& spec, const ca::Requester& caller,
               const ManagedSpec* before = nullptr) const;
  Status adopt(ManagedCertificate& m, const ca::Requester& caller) const;
  Result<ManagedCertificate> visible(store::Transaction& tx, const std::string& id_or_name,
                                     const ca::Requester& caller, bool lock) const;
  // Stores `m` as changed (generation-guarded), with its event, audit event and job.
  Status commit_change(store::Transaction& tx, ManagedCertificate& m, std::string_view event,
                       std::string_view action, const nlohmann::json& detail,
                       std::string_view actor, SysTime run_at) const;

  LifecycleDeps d_;
  ManagedStore store_;
  AgentDeployments agents_;
};

}  // namespace certward::lifecycle
