#include "lifecycle/reconciler.h"

#include <fmt/format.h>

#include "common/encoding.h"
#include "common/log.h"
#include "lifecycle/failure.h"
#include "x509/csr.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

std::string_view why_name(int why) {
  static constexpr std::array<std::string_view, 5> kNames = {"initial", "changed", "requested",
                                                             "due", "renewal_info"};
  return kNames[static_cast<std::size_t>(why)];
}

std::string actor_for(const ManagedCertificate& m) { return "managed:" + m.spec.name; }

bool conflict(const Status& st) { return !st && st.error().code == ErrorCode::kConflict; }

}  // namespace

Result<std::optional<NewJob>> Reconciler::handle(const Job& job) const {
  const json id = job.payload.value("id", json());
  // A job no handler can ever run is done, not retried.
  if (!id.is_string()) return std::optional<NewJob>();
  return reconcile(id.get<std::string>());
}

NewJob Reconciler::next_run(const ManagedCertificate& m, SysTime at) const {
  return reconcile_job(m.id, at, d_.settings.max_attempts);
}

SysTime Reconciler::next_time(const ManagedCertificate& m, SysTime now,
                              const RenewalHint& hint) const {
  if (!m.renew_at || !m.not_before || !m.not_after) return now + std::chrono::hours(1);
  const auto jitter = renewal_jitter(m.id, *m.not_before, *m.not_after, m.spec.renew_before,
                                     d_.settings.jitter_percent);
  SysTime next = *m.renew_at - jitter;
  // A CA that tells when to renew may move that time earlier at any moment (after an incident):
  // it is asked again every few hours, and its own time counts when it comes first.
  if (hint.offered) next = std::min(next, now + kRenewalInfoInterval);
  if (hint.renew_at) next = std::min(next, *hint.renew_at);
  return std::max(now + std::chrono::seconds(1), next);
}

std::optional<Reconciler::Why> Reconciler::issuance_needed(const ManagedCertificate& m, SysTime now,
                                                           const RenewalHint& hint) const {
  if (!m.fingerprint) return Why::kInitial;
  if (m.issued_hash != desired_hash(m.spec)) return Why::kChanged;
  if (m.renew_request != RenewRequest::kNone) return Why::kRequested;
  // Due from the jittered time on: the run scheduled for then renews.
  if (m.renew_at && m.not_before && m.not_after &&
      now >= *m.renew_at - renewal_jitter(m.id, *m.not_before, *m.not_after, m.spec.renew_before,
                                          d_.settings.jitter_percent)) {
    return Why::kDue;
  }
  if (hint.renew_at && now >= *hint.renew_at) return Why::kRenewalInfo;
  return std::nullopt;
}

Result<std::optional<NewJob>> Reconciler::reconcile(const std::string& id) const {
  auto loaded = store_.get(id);
  if (!loaded && loaded.error().code == ErrorCode::kNotFound) return std::optional<NewJob>();
  CW_RETURN_IF_ERROR(loaded);
  ManagedCertificate m = *std::move(loaded);
  if (m.state == ManagedState::kDeleted) return std::optional<NewJob>();
  const SysTime now = d_.clock.now();
  // Changed by someone else while this ran (an API change, another replica): the certificate
  // was not recorded; run again at once with what the row says now.
  const auto again = [&] { return std::optional<NewJob>(next_run(m, now)); };

  RenewalHint hint;
  if (d_.renewal_hint && m.fingerprint) hint = d_.renewal_hint(*m.fingerprint);
  if (auto why = issuance_needed(m, now, hint)) {
    Status issued = issue(m, *why);
    if (conflict(issued)) return again();
    if (!issued) {
      record_failure(m.id, issued.error(), "reconcile_failed",
                     {{"step", "issue"}, {"reason", why_name(static_cast<int>(*why))}});
      return std::unexpected(issued.error());
    }
    // The hint was about the certificate just replaced; of the new one the CA said nothing yet.
    hint.renew_at.reset();
  }
  if (m.deployed_fingerprint != m.fingerprint || m.deployed_hash != targets_hash(m.spec)) {
    auto deployed = deploy(m);
    if (!deployed && deployed.error().code == ErrorCode::kConflict) return again();
    CW_RETURN_IF_ERROR(deployed);
    // Waiting for an agent: back at its deadline, or when it reports (its report wakes this).
    if (*deployed) {
      const SysTime back = std::max(**deployed, now) + std::chrono::seconds(1);
      return std::optional<NewJob>(next_run(m, std::min(back, next_time(m, now, hint))));
    }
  }
  const SysTime next = next_time(m, d_.clock.now(), hint);
  if (m.state != ManagedState::kActive || m.attempts != 0 || !m.last_error.empty() ||
      m.next_check_at != next) {
    ManagedCertificate settled = m;
    settled.state = ManagedState::kActive;
    settled.attempts = 0;
    settled.last_error.clear();
    settled.next_check_at = next;
    auto stored = write_row(settled);
    if (!stored && stored.error().code == ErrorCode::kConflict) return again();
    CW_ASSIGN_OR_RETURN(m, std::move(stored));
  }
  return std::optional<NewJob>(next_run(m, next));
}

Result<crypto::PrivateKey> Reconciler::managed_key(const ManagedCertificate& m, bool fresh) const {
  if (fresh) return crypto::generate_key(m.spec.key.type);
  CW_ASSIGN_OR_RETURN(auto sealed, store_.key(m.id));
  if (!sealed) return fail(ErrorCode::kNotFound, "managed certificate " + m.id + " has no key");
  CW_ASSIGN_OR_RETURN(auto der, d_.wrapper.open(sealed->sealed, managed_key_aad(m.id)));
  return crypto::parse_private_key(der.span());
}

Status Reconciler::issue(ManagedCertificate& m, Why why) const {
  CW_ASSIGN_OR_RETURN(auto sealed, store_.key(m.id));
  const bool fresh = !sealed || sealed->type != m.spec.key.type || m.spec.key.rotate ||
                     m.renew_request == RenewRequest::kRotateKey;
  // Claim the issuance: from here on, only a run holding this generation records a
  // certificate. Concurrent runs' claims share one commit.
  {
    ManagedCertificate claiming = m;
    claiming.state = m.fingerprint ? ManagedState::kRenewing : ManagedState::kIssuing;
    CW_ASSIGN_OR_RETURN(m, write_row(claiming));
  }
  const std::int64_t claimed = m.generation;

  CW_ASSIGN_OR_RETURN(auto key, managed_key(m, fresh));
  std::optional<SealedKey> new_key;
  if (fresh) {
    CW_ASSIGN_OR_RETURN(auto der, key.to_pkcs8_der());
    CW_ASSIGN_OR_RETURN(auto blob, d_.wrapper.seal(der.span(), managed_key_aad(m.id)));
    new_key = SealedKey{m.spec.key.type, std::move(blob)};
  }
  CW_ASSIGN_OR_RETURN(auto csr_der, x509::make_csr_der(key, "", m.spec.sans));
  CW_ASSIGN_OR_RETURN(auto csr, x509::parse_csr(csr_der));

  // Made by a team-scoped requester: issued as its team, within the grant of the team the
  // managed certificate belongs to now (an operator may have moved it), as that grant is now:
  // a scope taken away is not kept by its renewals, and a team that is gone grants nothing.
  ca::Requester requester{.actor = actor_for(m), .team = {}, .scope = {}};
  if (m.creator_scoped) {
    requester.team = m.spec.team;
    auto scope = m.spec.team ? d_.auth.team_scope(*m.spec.team) : Result<ca::Scope>(ca::Scope{});
    if (!scope && scope.error().code != ErrorCode::kNotFound)
      return Status(std::unexpected(scope.error()));
    requester.scope = scope ? *scope : ca::Scope{};
  }
  ca::EnrollmentRequest request;
  request.csr = std::move(csr);
  request.common_name = m.spec.common_name;
  request.sans = m.spec.sans;
  request.profile = m.spec.profile;
  request.authority = m.spec.authority;
  request.validity = m.spec.validity;
  request.requester = requester;
  request.channel = ca::Channel::kRenewal;
  request.owner = m.spec.owner;
  request.team = m.spec.team;
  request.tags = m.spec.tags;

  const std::string wanted = desired_hash(m.spec);
  const std::optional<std::string> old = m.fingerprint;
  std::optional<ManagedCertificate> recorded;
  auto step = [&](store::Transaction& tx, const x509::Certificate& cert,
                  const crypto::PrivateKey*) -> Status {
    CW_ASSIGN_OR_RETURN(auto row, store_.find(tx, m.id, /*lock=*/true));
    if (!row || row->generation != claimed || row->state == ManagedState::kDeleted) {
      return fail(ErrorCode::kConflict, "managed certificate " + m.id +
                                            " changed while issuing: the certificate is not kept");
    }
    const auto& info = cert.info();
    json detail = {{"fingerprint", info.sha256_hex},
                   {"serial", info.serial_hex},
                   {"not_after", format_time(info.not_after)},
                   {"reason", why_name(static_cast<int>(why))},
                   {"key_rotated", fresh}};
    if (old && *old != info.sha256_hex) {
      Status superseded = d_.inventory.mark_superseded(tx, *old, info.sha256_hex);
      if (superseded) {
        detail["superseded"] = *old;
      } else if (superseded.error().code == ErrorCode::kConflict ||
                 superseded.error().code == ErrorCode::kNotFound) {
        detail["not_superseded"] = superseded.error().message;
      } else {
        return superseded;
      }
    }
    if (new_key) CW_RETURN_IF_ERROR(store_.put_key(tx, m.id, *new_key));
    row->fingerprint = info.sha256_hex;
    row->not_before = info.not_before;
    row->not_after = info.not_after;
    row->renew_at = renewal_due(info.not_before, info.not_after, row->spec.renew_before);
    row->issued_hash = wanted;
    row->renew_request = RenewRequest::kNone;
    CW_ASSIGN_OR_RETURN(auto stored, store_.update(tx, *row));
    if (!stored) return fail(ErrorCode::kConflict, "changed while issuing");
    const std::string_view kind = old ? "renewed" : "issued";
    CW_RETURN_IF_ERROR(store_.add_event(tx, m.id, kind, actor_for(m), detail));
    CW_RETURN_IF_ERROR(
        d_.audit.append(tx, audit::Event{.actor = actor_for(m),
                                         .action = old ? "managed.renew" : "managed.issue",
                                         .target_type = "managed_certificate",
                                         .target_id = m.id,
                                         .details = detail}));
    recorded = *std::move(row);
    return ok();
  };
  CW_ASSIGN_OR_RETURN(auto issued, d_.ra.enroll_and_record(std::move(request), step));
  if (!recorded) return fail(ErrorCode::kInternal, "the issuance was not recorded");
  m = *std::move(recorded);
  log::info("managed_issued", {{"id", m.id},
                               {"name", m.spec.name},
                               {"fingerprint", issued.certificate.info().sha256_hex},
                               {"reason", why_name(static_cast<int>(why))}});
  return ok();
}

struct Reconciler::Loaded {
  crypto::PrivateKey key;
  x509::Certificate certificate;
  std::vector<x509::Certificate> chain;
  deploy::Material material() const { return {certificate, chain, key}; }
};

Result<Reconciler::Loaded> Reconciler::load(const ManagedCertificate& m) const {
  const std::string fingerprint = m.fingerprint.value_or("");
  CW_ASSIGN_OR_RETURN(auto key, managed_key(m, /*fresh=*/false));
  CW_ASSIGN_OR_RETURN(auto rec, d_.inventory.get(fingerprint));
  if (!rec) return fail(ErrorCode::kNotFound, "certificate " + fingerprint + " is gone");
  CW_ASSIGN_OR_RETURN(auto cert, d_.inventory.certificate(fingerprint));
  CW_ASSIGN_OR_RETURN(auto full, d_.authorities.chain_for(cert, rec->meta.authority));
  return Loaded{std::move(key), std::move(cert),
                std::vector<x509::Certificate>(full.begin() + 1, full.end())};
}

// What one deployment run found, before it records it.
struct Reconciler::DeployRun {
  json outcomes = json::array();
  std::vector<std::pair<std::string, json>> events;  // timeline entries
  std::optional<Error> first_error;
  // A new round (the certificate or targets changed, or the last round failed): every target
  // is deployed, and what earlier rounds offered to agents is taken back.
  bool new_round = true;
  std::vector<const deploy::TargetSpec*> to_offer;  // agent targets to offer the certificate to
  std::vector<AgentDeployment> expired;             // offers whose deadline passed
  std::optional<SysTime> awaiting;                  // the earliest deadline still awaited

  void failed(const std::string& target, const Error& e) {
    if (!first_error) {
      first_error = Error{e.code, "deployment to target '" + target + "' failed: " + e.message};
    }
  }
  void await(SysTime deadline) { awaiting = std::min(awaiting.value_or(deadline), deadline); }
};

void Reconciler::deploy_here(const ManagedCertificate& m, const Loaded& loaded,
                             DeployRun& run) const {
  for (const auto& target : m.spec.targets) {
    if (target.kind == deploy::TargetKind::kAgent) continue;
    const deploy::Outcome outcome = deployer_.deploy(target, loaded.material());
    json detail = {{"target", target.name},
                   {"fingerprint", m.fingerprint.value_or("")},
                   {"outcome", deploy::outcome_json(outcome)}};
    run.outcomes.push_back(detail);
    if (outcome.deployed) {
      run.events.emplace_back("deployed", detail);
      continue;
    }
    run.events.emplace_back("deploy_failed", detail);
    if (outcome.rolled_back) run.events.emplace_back("rolled_back", detail);
    run.failed(target.name,
               outcome.error.value_or(Error{ErrorCode::kInternal, "deployment failed"}));
  }
}

void Reconciler::follow_agents(const std::vector<const deploy::TargetSpec*>& agent_targets,
                               const std::vector<AgentDeployment>& round, DeployRun& run) const {
  const SysTime now = d_.clock.now();
  for (const auto* target : agent_targets) {
    const auto row = std::ranges::find(round, target->name, &AgentDeployment::target);
    if (row == round.end() ||
        !(awaiting_report(row->state) || row->state == AgentDeploymentState::kSucceeded)) {
      run.to_offer.push_back(target);  // failed, expired or superseded: offered again
    } else if (row->state == AgentDeploymentState::kSucceeded) {
      run.outcomes.push_back(agent_deployment_json(*row));
    } else if (now < row->deadline) {
      run.await(row->deadline);
    } else {
      const Error e{ErrorCode::kUnavailable, "agent '" + row->agent + "' did not report within " +
                                                 format_duration(d_.settings.agent_deploy_timeout)};
      run.expired.push_back(*row);
      json detail = agent_deployment_json(*row);
      detail["error"] = e.message;
      run.events.emplace_back("deploy_failed", detail);
      run.outcomes.push_back(detail);
      run.failed(target->name, e);
    }
  }
}

Result<std::optional<SysTime>> Reconciler::deploy(ManagedCertificate& m) const {
  // A round in progress was offered to its agents once the other targets were deployed: those
  // are not deployed again while the agents' reports are awaited.
  std::vector<const deploy::TargetSpec*> agent_targets;
  for (const auto& t : m.spec.targets) {
    if (t.kind == deploy::TargetKind::kAgent) agent_targets.push_back(&t);
  }
  std::vector<AgentDeployment> round;
  if (!agent_targets.empty()) {
    CW_ASSIGN_OR_RETURN(round, agents_.current_round(m));
  }
  DeployRun run;
  run.new_round = !std::ranges::any_of(round, [](const AgentDeployment& d) {
    return awaiting_report(d.state) || d.state == AgentDeploymentState::kSucceeded;
  });
  std::optional<Loaded> loaded;
  if (run.new_round) {
    if (!m.spec.targets.empty()) {
      CW_ASSIGN_OR_RETURN(loaded, load(m));
      deploy_here(m, *loaded, run);
    }
    run.to_offer = agent_targets;
  } else {
    follow_agents(agent_targets, round, run);
    if (!run.to_offer.empty() && !run.first_error) {
      CW_ASSIGN_OR_RETURN(loaded, load(m));
    }
  }
  return record_deployment(m, run, loaded);
}

Result<std::optional<SysTime>> Reconciler::record_deployment(
    ManagedCertificate& m, DeployRun& run, const std::optional<Loaded>& loaded) const {
  // Each attempt of the unit starts from `m` and `run` as they are now; they take its results
  // once it committed.
  ManagedCertificate row;
  DeployRun attempt;
  Recorded outcome = Recorded::kDone;
  Status written = writer_->run([&](store::Transaction& tx) -> Status {
    row = m;
    attempt = run;
    outcome = Recorded::kDone;
    return write_deployment(tx, row, attempt, loaded, outcome);
  });
  CW_RETURN_IF_ERROR(written);
  m = std::move(row);
  run = std::move(attempt);
  if (outcome == Recorded::kFailed) return std::unexpected(*run.first_error);
  if (outcome == Recorded::kChanged) return fail(ErrorCode::kConflict, "changed while deploying");
  return run.awaiting;
}

Status Reconciler::write_deployment(store::Transaction& tx, ManagedCertificate& m, DeployRun& run,
                                    const std::optional<Loaded>& loaded, Recorded& outcome) const {
  for (auto& d : run.expired) {
    CW_ASSIGN_OR_RETURN(auto expired_now, agents_.expire(tx, d));
    // Reported meanwhile: this run's view is stale.
    if (!expired_now) return fail(ErrorCode::kConflict, "an agent reported meanwhile");
  }
  // What earlier rounds offered (an older certificate, a target changed or removed) is not to
  // be applied any more, whatever becomes of this one.
  if (run.new_round) CW_RETURN_IF_ERROR(agents_.supersede_all(tx, m.id));
  for (const auto& [kind, detail] : run.events) {
    CW_RETURN_IF_ERROR(store_.add_event(tx, m.id, kind, actor_for(m), detail));
  }
  if (run.first_error) {
    // The outcomes and the failure, one commit.
    CW_RETURN_IF_ERROR(lifecycle::record_failure(tx, d_, store_, m.id, *run.first_error,
                                                 "deploy_failed", {{"targets", run.outcomes}}));
    outcome = Recorded::kFailed;
    return ok();
  }
  for (const auto* target : run.to_offer) {
    CW_ASSIGN_OR_RETURN(auto offered, agents_.offer(tx, m, *target, loaded->material()));
    CW_RETURN_IF_ERROR(
        store_.add_event(tx, m.id, "awaiting_agent", actor_for(m), agent_deployment_json(offered)));
    run.await(offered.deadline);
  }
  if (run.awaiting) {
    const ManagedState waiting =
        m.deployed_fingerprint ? ManagedState::kRenewing : ManagedState::kIssuing;
    // Still waiting, as recorded: nothing to write.
    if (run.events.empty() && run.to_offer.empty() && m.state == waiting &&
        m.next_check_at == run.awaiting) {
      return ok();
    }
    m.state = waiting;
    m.next_check_at = *run.awaiting;
    CW_ASSIGN_OR_RETURN(auto stored, store_.update(tx, m));
    // The offers stand; the row is reconciled again as it is now.
    if (!stored) outcome = Recorded::kChanged;
    return ok();
  }
  m.deployed_fingerprint = m.fingerprint;
  m.deployed_hash = targets_hash(m.spec);
  m.state = ManagedState::kActive;
  m.attempts = 0;
  m.last_error.clear();
  // With its next check: a run that deployed needs no write of its own after this one.
  m.next_check_at = next_time(m, d_.clock.now());
  CW_ASSIGN_OR_RETURN(auto stored, store_.update(tx, m));
  if (!stored) {
    // The events stand (the files were written); the row is reconciled again as it is now.
    outcome = Recorded::kChanged;
    return ok();
  }
  if (!m.spec.targets.empty()) {
    CW_RETURN_IF_ERROR(
        d_.audit.append(tx, audit::Event{.actor = actor_for(m),
                                         .action = "managed.deploy",
                                         .target_type = "managed_certificate",
                                         .target_id = m.id,
                                         .details = {{"fingerprint", m.fingerprint.value_or("")},
                                                     {"targets", run.outcomes}}}));
  }
  return ok();
}

Result<ManagedCertificate> Reconciler::write_row(const ManagedCertificate& m) const {
  std::optional<ManagedCertificate> stored;
  Status written = writer_->run([&](store::Transaction& tx) -> Status {
    ManagedCertificate row = m;
    CW_ASSIGN_OR_RETURN(auto updated, store_.update(tx, row));
    if (!updated) {
      return fail(ErrorCode::kConflict, "managed certificate " + m.id + " changed meanwhile");
    }
    stored = std::move(row);
    return ok();
  });
  CW_RETURN_IF_ERROR(written);
  return *std::move(stored);
}

void Reconciler::record_failure(const std::string& id, const Error& error,
                                std::string_view alert_kind, const json& detail) const {
  Status recorded = writer_->run([&](store::Transaction& tx) -> Status {
    CW_RETURN_IF_ERROR(lifecycle::record_failure(tx, d_, store_, id, error, alert_kind, detail));
    return ok();
  });
  if (!recorded) {
    log::error("managed_failure_not_recorded",
               {{"id", id}, {"error", error.message}, {"why", recorded.error().message}});
  }
}

Result<int> Reconciler::sweep() const {
  int enqueued = 0;
  std::string after;
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto batch, store_.due_after(after, 500));
    if (batch.empty()) break;
    after = batch.back().id;
    // Read first: nearly every managed certificate has its job, and the sweep writes nothing
    // for those.
    std::vector<std::string> keys;
    for (const auto& m : batch) keys.push_back(reconcile_key(m.id));
    CW_ASSIGN_OR_RETURN(auto live, d_.jobs.live_keys(keys));
    if (live.size() == batch.size()) continue;
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
    for (const auto& m : batch) {
      if (live.contains(reconcile_key(m.id))) continue;
      NewJob job =
          reconcile_job(m.id, m.next_check_at.value_or(d_.clock.now()), d_.settings.max_attempts);
      job.on_pending = OnPending::kKeep;
      CW_RETURN_IF_ERROR(d_.jobs.enqueue(*tx, job));
      ++enqueued;
    }
    CW_RETURN_IF_ERROR(tx->commit());
  }
  return enqueued;
}

}  // namespace certward::lifecycle
