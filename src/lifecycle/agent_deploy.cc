#include "lifecycle/agent_deploy.h"

#include "common/encoding.h"
#include "common/log.h"
#include "lifecycle/agent_wire.h"
#include "lifecycle/failure.h"
#include "lifecycle/service.h"
#include "x509/bundle.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

json report_detail(const AgentDeployment& d) {
  return {{"target", d.target},
          {"agent", d.agent},
          {"deployment", d.id},
          {"fingerprint", d.fingerprint},
          {"outcome", d.outcome}};
}

}  // namespace

Status AgentDeployments::check_targets(const ManagedSpec& spec, const ca::Requester& caller) const {
  for (const auto& t : spec.targets) {
    if (t.kind != deploy::TargetKind::kAgent || !t.agent) continue;
    // A requester learns no more than "not one of yours" about another team's principals.
    const auto refused = [&](std::string why) {
      return fail(ErrorCode::kPolicyRejected,
                  "target " + t.name + ": " +
                      (caller.scope ? "'" + *t.agent + "' is not an agent of team '" +
                                          caller.team.value_or("") + "'"
                                    : std::move(why)));
    };
    auto principal = d_.auth.principal(*t.agent);
    if (!principal) {
      if (principal.error().code != ErrorCode::kNotFound) {
        return std::unexpected(principal.error());
      }
      return refused("no principal '" + *t.agent + "'");
    }
    if (principal->role != auth::Role::kAgent) {
      return refused("principal '" + *t.agent + "' is not an agent");
    }
    if (principal->disabled) return refused("agent '" + *t.agent + "' is disabled");
    if (caller.scope && (!caller.team || principal->team != caller.team)) return refused("");
    if (spec.team && principal->team && principal->team != spec.team) {
      return refused("agent '" + *t.agent + "' is of team '" + *principal->team +
                     "', the certificate of team '" + *spec.team + "'");
    }
  }
  return ok();
}

Result<std::vector<AgentDeployment>> AgentDeployments::current_round(
    const ManagedCertificate& m) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
  return store_.round(*tx, m.id, m.fingerprint.value_or(""), targets_hash(m.spec));
}

Result<AgentDeployment> AgentDeployments::offer(store::Transaction& tx, const ManagedCertificate& m,
                                                const deploy::TargetSpec& target,
                                                const deploy::Material& material) const {
  if (target.kind != deploy::TargetKind::kAgent || !target.agent) {
    return fail(ErrorCode::kInternal, "target " + target.name + " is not an agent target");
  }
  const SysTime now = d_.clock.now();
  AgentDeployment d;
  d.id = to_hex(crypto::random_bytes(12));
  d.managed_id = m.id;
  d.managed_name = m.spec.name;
  d.target = target.name;
  d.agent = *target.agent;
  d.fingerprint = material.certificate.info().sha256_hex;
  d.round = targets_hash(m.spec);
  d.spec = target;
  d.offered_at = now;
  d.deadline = now + d_.settings.agent_deploy_timeout;
  CW_ASSIGN_OR_RETURN(auto der, material.key.to_pkcs8_der());
  AgentDeploymentMaterial stored;
  CW_ASSIGN_OR_RETURN(stored.sealed_key, d_.wrapper.seal(der.span(), agent_deployment_aad(d.id)));
  stored.certificate_pem = material.certificate.pem();
  stored.chain_pem = x509::to_pem(material.chain);
  CW_RETURN_IF_ERROR(store_.supersede(tx, m.id, target.name));
  CW_RETURN_IF_ERROR(store_.insert(tx, d, stored));
  return d;
}

Result<bool> AgentDeployments::expire(store::Transaction& tx, AgentDeployment& d) const {
  d.state = AgentDeploymentState::kExpired;
  return store_.update(tx, d);
}

Status AgentDeployments::supersede_all(store::Transaction& tx, std::string_view managed_id) const {
  CW_RETURN_IF_ERROR(store_.supersede(tx, managed_id, std::nullopt));
  return ok();
}

Result<std::vector<AgentDeployment>> AgentDeployments::awaiting(const AgentCaller& agent,
                                                                int limit) const {
  if (limit < 1 || limit > 100) return fail(ErrorCode::kInvalidArgument, "limit is 1 to 100");
  return store_.awaiting(agent.principal, limit);
}

Result<AgentDeployment> AgentDeployments::own(store::Transaction& tx, const std::string& id,
                                              const AgentCaller& agent) const {
  CW_ASSIGN_OR_RETURN(auto d, store_.find(tx, id, /*lock=*/true));
  if (!d || d->agent != agent.principal) {
    return fail(ErrorCode::kNotFound, "no deployment '" + id + "'");
  }
  if (!awaiting_report(d->state)) {
    return fail(ErrorCode::kConflict,
                "deployment " + id + " is " + std::string(agent_deployment_state_name(d->state)));
  }
  if (d_.clock.now() >= d->deadline) {
    return fail(ErrorCode::kConflict, "deployment " + id + " is past its deadline");
  }
  return *std::move(d);
}

Result<bool> AgentDeployments::superseded(store::Transaction& tx, AgentDeployment& d) const {
  CW_ASSIGN_OR_RETURN(auto m, managed_.find(tx, d.managed_id, /*lock=*/true));
  if (m && m->state != ManagedState::kDeleted && m->fingerprint == d.fingerprint &&
      targets_hash(m->spec) == d.round) {
    return false;
  }
  d.state = AgentDeploymentState::kSuperseded;
  CW_RETURN_IF_ERROR(store_.update(tx, d));
  CW_RETURN_IF_ERROR(tx.commit());
  return true;
}

Result<json> AgentDeployments::fetch(const std::string& id, const AgentCaller& agent) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto d, own(*tx, id, agent));
  CW_ASSIGN_OR_RETURN(const bool stale, superseded(*tx, d));
  if (stale) return fail(ErrorCode::kConflict, "deployment " + id + " is superseded");
  CW_ASSIGN_OR_RETURN(auto m, store_.material(*tx, id));
  CW_ASSIGN_OR_RETURN(auto der, d_.wrapper.open(m.sealed_key, agent_deployment_aad(id)));
  CW_ASSIGN_OR_RETURN(auto key, crypto::parse_private_key(der.span()));
  CW_ASSIGN_OR_RETURN(auto pem, key.to_pkcs8_pem());
  CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(bytes_of(m.certificate_pem)));
  std::vector<x509::Certificate> chain;
  if (!m.chain_pem.empty()) {
    CW_ASSIGN_OR_RETURN(chain, x509::parse_certificates(bytes_of(m.chain_pem)));
  }
  if (certs.size() != 1) return fail(ErrorCode::kInternal, "deployment " + id + ": certificate");
  const bool first = !d.fetched_at;
  if (first) {
    d.state = AgentDeploymentState::kFetched;
    d.fetched_at = d_.clock.now();
    CW_ASSIGN_OR_RETURN(auto updated, store_.update(*tx, d));
    if (!updated) return fail(ErrorCode::kConflict, "deployment " + id + " changed meanwhile");
    CW_RETURN_IF_ERROR(managed_.add_event(*tx, d.managed_id, "agent_fetched", agent.actor,
                                          {{"target", d.target},
                                           {"agent", d.agent},
                                           {"deployment", d.id},
                                           {"fingerprint", d.fingerprint}}));
  }
  // Every release of the key is audited, a second fetch (an agent that restarted) too.
  CW_RETURN_IF_ERROR(d_.audit.append(*tx, audit::Event{.actor = agent.actor,
                                                       .action = "managed.agent_fetch",
                                                       .target_type = "managed_certificate",
                                                       .target_id = d.managed_id,
                                                       .details = {{"deployment", d.id},
                                                                   {"target", d.target},
                                                                   {"fingerprint", d.fingerprint},
                                                                   {"first", first}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  return agent_delivery_json(d.id, d.managed_name, d.spec, certs[0], chain, pem.chars(),
                             d.deadline);
}

Result<AgentDeployment> AgentDeployments::report(const std::string& id, const AgentCaller& agent,
                                                 deploy::Outcome outcome) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto d, own(*tx, id, agent));
  if (d.state != AgentDeploymentState::kFetched) {
    return fail(ErrorCode::kConflict, "deployment " + id + " was not fetched");
  }
  const SysTime now = d_.clock.now();
  CW_ASSIGN_OR_RETURN(const bool stale, superseded(*tx, d));
  if (stale) return fail(ErrorCode::kConflict, "deployment " + id + " is superseded");
  outcome.started = now;
  d.state = outcome.deployed ? AgentDeploymentState::kSucceeded : AgentDeploymentState::kFailed;
  d.reported_at = now;
  d.outcome = agent_outcome_json(outcome);
  CW_ASSIGN_OR_RETURN(auto updated, store_.update(*tx, d));
  if (!updated) return fail(ErrorCode::kConflict, "deployment " + id + " was reported meanwhile");
  const json detail = report_detail(d);
  CW_RETURN_IF_ERROR(managed_.add_event(
      *tx, d.managed_id, outcome.deployed ? "deployed" : "deploy_failed", agent.actor, detail));
  if (outcome.rolled_back) {
    CW_RETURN_IF_ERROR(managed_.add_event(*tx, d.managed_id, "rolled_back", agent.actor, detail));
  }
  CW_RETURN_IF_ERROR(d_.audit.append(*tx, audit::Event{.actor = agent.actor,
                                                       .action = "managed.agent_report",
                                                       .target_type = "managed_certificate",
                                                       .target_id = d.managed_id,
                                                       .details = detail}));
  SysTime run_at = now;
  if (!outcome.deployed) {
    const Error e = outcome.error.value_or(Error{ErrorCode::kInternal, "deployment failed"});
    const Error failure{e.code, "deployment to target '" + d.target + "' by agent '" + d.agent +
                                    "' failed: " + e.message};
    CW_ASSIGN_OR_RETURN(auto failed,
                        record_failure(*tx, d_, managed_, d.managed_id, failure, "deploy_failed",
                                       {{"targets", json::array({detail})}}, agent.actor));
    if (failed && failed->next_check_at) run_at = *failed->next_check_at;
  }
  // The reconciler finishes the round (deployed once every target is) or retries it.
  CW_RETURN_IF_ERROR(
      d_.jobs.enqueue(*tx, reconcile_job(d.managed_id, run_at, d_.settings.max_attempts)));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info("managed_agent_report", {{"id", d.managed_id},
                                     {"deployment", d.id},
                                     {"agent", d.agent},
                                     {"deployed", outcome.deployed}});
  return d;
}

}  // namespace certward::lifecycle
