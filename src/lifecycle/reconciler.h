#pragma once
// The reconciler: brings each managed certificate's reality to its desired state, one job
// "managed.reconcile" (dedupe key "managed:<id>") at a time.
//
// One run: when there is no certificate yet, what is issued changed (desired_hash), a renewal
// was asked for, or the renewal is due, it issues through the RA (Channel::kRenewal, within the
// creator's scope) with the managed key (a new one, or the sealed one reused when the key
// policy says so); the certificate, the managed row moving to it, the superseded mark of the
// one it replaces, the sealed key and the timeline entry commit in the RA's transaction or not
// at all. Then, when the current certificate is not yet deployed to the current targets, it
// deploys it to each (deploy::Deployer) and records the outcome; an agent target is offered to
// its agent instead, and the managed certificate is deployed only once the agent reports
// success (agent_deploy.h): until then the run ends early and comes back by the offer's
// deadline. Then it names its next run: the renewal time less a jitter spread by id.
//
// Idempotent, as the at-least-once scheduler needs: a run that failed after issuing (a
// deployment failed) finds a fresh certificate the next time and only deploys. Exactly once
// per renewal across replicas: the job's lease keeps two replicas from running it at once, and
// the certificate is recorded only if the row's generation is still the one the run claimed,
// so a replica whose lease ran out mid-run cannot record a second certificate (the RA then
// stores none). A failure marks the managed certificate failed with its error, is retried with
// exponential backoff (the scheduler's), and raises an alert (a deployment failure always, a
// failing issuance once per streak).
//
// Its short writes (the claim, a deployment's outcome with the next check, a failure) go
// through a group commit of its own, and the RA group-commits the issuances: runs side by side
// (several schedulers, or a scheduler's workers) share their commits, and each still goes on
// only once what it wrote is durable. A unit that fails (a claim that lost to another writer)
// fails alone.
//
// Thread-safe: several schedulers may run reconcile() at once (for different ids).

#include <memory>
#include <optional>
#include <string>

#include "lifecycle/agent_deploy.h"
#include "lifecycle/deploy/target.h"
#include "lifecycle/scheduler.h"
#include "lifecycle/service.h"
#include "store/group_writer.h"

namespace certward::lifecycle {

class Reconciler {
 public:
  // `deployer` outlives the reconciler.
  Reconciler(LifecycleDeps deps, const deploy::Deployer& deployer)
      : d_(deps),
        store_(deps.clock, deps.db),
        agents_(deps),
        deployer_(deployer),
        writer_(std::make_unique<store::GroupWriter>(deps.db)) {}

  // The handler of kReconcileJob: reconciles payload "id" and returns its next run (nullopt
  // for a deleted or unknown one). An error: this run failed and is retried.
  Result<std::optional<NewJob>> handle(const Job& job) const;
  Result<std::optional<NewJob>> reconcile(const std::string& id) const;

  // The safety net (a recurring job): makes sure every live managed certificate has a pending
  // or running reconciliation, at its next_check_at. Returns how many it had to enqueue.
  Result<int> sweep() const;

  // The job of `m`'s next run at `at`.
  NewJob next_run(const ManagedCertificate& m, SysTime at) const;

  // How often a CA that offers renewal information is asked again about a certificate.
  static constexpr std::chrono::hours kRenewalInfoInterval{6};

 private:
  // kRenewalInfo: the issuing CA asked for the certificate's renewal (ACME renewal
  // information) before renew_before would have.
  enum class Why : std::uint8_t { kInitial, kChanged, kRequested, kDue, kRenewalInfo };
  std::optional<Why> issuance_needed(const ManagedCertificate& m, SysTime now,
                                     const RenewalHint& hint) const;
  // Issues and records; `m` is the row as it is afterwards.
  Status issue(ManagedCertificate& m, Why why) const;
  Result<crypto::PrivateKey> managed_key(const ManagedCertificate& m, bool fresh) const;
  // What deploy() works with: the current certificate, its issuers and its key.
  struct Loaded;
  Result<Loaded> load(const ManagedCertificate& m) const;
  // Deploys the current certificate to every target and records the outcome. Agent targets
  // are offered to their agents (agent_deploy.h) once the other targets are deployed, and
  // waited for: returns the earliest deadline of those still awaited, nullopt once every
  // target is deployed.
  Result<std::optional<SysTime>> deploy(ManagedCertificate& m) const;
  // The pieces of deploy(): the targets deployed here; what the agents of a round in progress
  // did (reported, awaited, expired, to offer again); and the record of it all in one
  // transaction (offers included).
  struct DeployRun;
  void deploy_here(const ManagedCertificate& m, const Loaded& loaded, DeployRun& run) const;
  void follow_agents(const std::vector<const deploy::TargetSpec*>& agent_targets,
                     const std::vector<AgentDeployment>& round, DeployRun& run) const;
  Result<std::optional<SysTime>> record_deployment(ManagedCertificate& m, DeployRun& run,
                                                   const std::optional<Loaded>& loaded) const;
  // record_deployment's writes in `tx`, one unit of the group commit; `outcome` says how it
  // ended when the unit succeeded.
  enum class Recorded : std::uint8_t { kDone, kChanged, kFailed };
  Status write_deployment(store::Transaction& tx, ManagedCertificate& m, DeployRun& run,
                          const std::optional<Loaded>& loaded, Recorded& outcome) const;
  // Writes `m` (as update() does) in the group commit and returns it as written.
  // Errors: kConflict (the row changed since `m` was read), store errors.
  Result<ManagedCertificate> write_row(const ManagedCertificate& m) const;
  // Records a failed run: state, error, attempts, an alert when it should raise one.
  void record_failure(const std::string& id, const Error& error, std::string_view alert_kind,
                      const nlohmann::json& detail) const;
  SysTime next_time(const ManagedCertificate& m, SysTime now, const RenewalHint& hint = {}) const;

  LifecycleDeps d_;
  ManagedStore store_;
  AgentDeployments agents_;
  const deploy::Deployer& deployer_;
  // The short writes of a run. Each unit may run more than once (a neighbour failed and the
  // transaction was run again without it), so units write only from what they captured.
  std::unique_ptr<store::GroupWriter> writer_;
};

}  // namespace certward::lifecycle
