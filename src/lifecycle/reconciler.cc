#include "lifecycle/reconciler.h"

#include <fmt/format.h>

#include "common/encoding.h"
#include "common/log.h"
#include "lifecycle/alerts/evaluator.h"
#include "x509/csr.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

std::string_view why_name(int why) {
  static constexpr std::array<std::string_view, 4> kNames = {"initial", "changed", "requested",
                                                             "due"};
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

SysTime Reconciler::next_time(const ManagedCertificate& m, SysTime now) const {
  if (!m.renew_at || !m.not_before || !m.not_after) return now + std::chrono::hours(1);
  const auto jitter = renewal_jitter(m.id, *m.not_before, *m.not_after, m.spec.renew_before,
                                     d_.settings.jitter_percent);
  return std::max(now + std::chrono::seconds(1), *m.renew_at - jitter);
}

std::optional<Reconciler::Why> Reconciler::issuance_needed(const ManagedCertificate& m,
                                                           SysTime now) const {
  if (!m.fingerprint) return Why::kInitial;
  if (m.issued_hash != desired_hash(m.spec)) return Why::kChanged;
  if (m.renew_request != RenewRequest::kNone) return Why::kRequested;
  // Due from the jittered time on: the run scheduled for then renews.
  if (m.renew_at && m.not_before && m.not_after &&
      now >= *m.renew_at - renewal_jitter(m.id, *m.not_before, *m.not_after, m.spec.renew_before,
                                          d_.settings.jitter_percent)) {
    return Why::kDue;
  }
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

  if (auto why = issuance_needed(m, now)) {
    Status issued = issue(m, *why);
    if (conflict(issued)) return again();
    if (!issued) {
      record_failure(m.id, issued.error(), "reconcile_failed",
                     {{"step", "issue"}, {"reason", why_name(static_cast<int>(*why))}});
      return std::unexpected(issued.error());
    }
  }
  if (m.deployed_fingerprint != m.fingerprint || m.deployed_hash != targets_hash(m.spec)) {
    Status deployed = deploy(m);
    if (conflict(deployed)) return again();
    CW_RETURN_IF_ERROR(deployed);
  }
  const SysTime next = next_time(m, d_.clock.now());
  if (m.state != ManagedState::kActive || m.attempts != 0 || !m.last_error.empty() ||
      m.next_check_at != next) {
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
    m.state = ManagedState::kActive;
    m.attempts = 0;
    m.last_error.clear();
    m.next_check_at = next;
    CW_ASSIGN_OR_RETURN(auto stored, store_.update(*tx, m));
    if (!stored) return again();
    CW_RETURN_IF_ERROR(tx->commit());
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
  // certificate.
  {
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
    m.state = m.fingerprint ? ManagedState::kRenewing : ManagedState::kIssuing;
    CW_ASSIGN_OR_RETURN(auto claimed, store_.update(*tx, m));
    if (!claimed) return fail(ErrorCode::kConflict, "changed meanwhile");
    CW_RETURN_IF_ERROR(tx->commit());
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

Status Reconciler::deploy(ManagedCertificate& m) const {
  const std::string fingerprint = m.fingerprint.value_or("");
  json outcomes = json::array();
  std::optional<Error> first_error;
  std::vector<std::pair<std::string, json>> events;
  if (!m.spec.targets.empty()) {
    CW_ASSIGN_OR_RETURN(auto key, managed_key(m, /*fresh=*/false));
    CW_ASSIGN_OR_RETURN(auto rec, d_.inventory.get(fingerprint));
    if (!rec) return fail(ErrorCode::kNotFound, "certificate " + fingerprint + " is gone");
    CW_ASSIGN_OR_RETURN(auto cert, d_.inventory.certificate(fingerprint));
    CW_ASSIGN_OR_RETURN(auto full, d_.authorities.chain_for(cert, rec->meta.authority));
    const std::vector<x509::Certificate> chain(full.begin() + 1, full.end());
    const deploy::Material material{cert, chain, key};
    for (const auto& target : m.spec.targets) {
      const deploy::Outcome outcome = deployer_.deploy(target, material);
      json detail = {{"target", target.name},
                     {"fingerprint", fingerprint},
                     {"outcome", deploy::outcome_json(outcome)}};
      outcomes.push_back(detail);
      if (outcome.deployed) {
        events.emplace_back("deployed", detail);
        continue;
      }
      events.emplace_back("deploy_failed", detail);
      if (outcome.rolled_back) events.emplace_back("rolled_back", detail);
      if (!first_error) {
        const Error e = outcome.error.value_or(Error{ErrorCode::kInternal, "deployment failed"});
        first_error =
            Error{e.code, "deployment to target '" + target.name + "' failed: " + e.message};
      }
    }
  }
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  for (const auto& [kind, detail] : events) {
    CW_RETURN_IF_ERROR(store_.add_event(*tx, m.id, kind, actor_for(m), detail));
  }
  if (first_error) {
    CW_RETURN_IF_ERROR(tx->commit());
    record_failure(m.id, *first_error, "deploy_failed", {{"targets", outcomes}});
    return std::unexpected(*first_error);
  }
  m.deployed_fingerprint = m.fingerprint;
  m.deployed_hash = targets_hash(m.spec);
  m.state = ManagedState::kActive;
  m.attempts = 0;
  m.last_error.clear();
  CW_ASSIGN_OR_RETURN(auto stored, store_.update(*tx, m));
  if (!stored) {
    // The events stand (the files were written); the row is reconciled again as it is now.
    CW_RETURN_IF_ERROR(tx->commit());
    return fail(ErrorCode::kConflict, "changed while deploying");
  }
  if (!m.spec.targets.empty()) {
    CW_RETURN_IF_ERROR(d_.audit.append(
        *tx, audit::Event{.actor = actor_for(m),
                          .action = "managed.deploy",
                          .target_type = "managed_certificate",
                          .target_id = m.id,
                          .details = {{"fingerprint", fingerprint}, {"targets", outcomes}}}));
  }
  return tx->commit();
}

void Reconciler::record_failure(const std::string& id, const Error& error,
                                std::string_view alert_kind, const json& detail) const {
  auto recorded = [&]() -> Status {
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(auto row, store_.find(*tx, id, /*lock=*/true));
    if (!row || row->state == ManagedState::kDeleted) return ok();
    ManagedCertificate m = *std::move(row);
    const SysTime now = d_.clock.now();
    m.state = ManagedState::kFailed;
    m.attempts += 1;
    m.last_error = error.message;
    std::chrono::seconds delay = d_.settings.retry_base;
    for (int i = 1; i < m.attempts && delay < d_.settings.retry_max; ++i) delay *= 2;
    m.next_check_at = now + std::min(delay, d_.settings.retry_max);
    CW_RETURN_IF_ERROR(store_.update(*tx, m));
    json event = detail;
    event["error"] = error.message;
    event["code"] = error_code_name(error.code);
    event["attempts"] = m.attempts;
    CW_RETURN_IF_ERROR(store_.add_event(*tx, m.id, "failed", actor_for(m), event));
    CW_RETURN_IF_ERROR(d_.audit.append(*tx, audit::Event{.actor = actor_for(m),
                                                         .action = "managed.fail",
                                                         .target_type = "managed_certificate",
                                                         .target_id = m.id,
                                                         .details = event}));
    // A failed deployment was rolled back and needs someone; a failing issuance is raised once
    // per streak, not at every retry.
    const bool deploy_failure = alert_kind == "deploy_failed";
    if (m.spec.alerts.notify_on_failure && (deploy_failure || m.attempts == 1)) {
      Alert a;
      a.at = now;
      a.id = alerts::new_alert_id(now);
      a.severity = deploy_failure ? "critical" : "warning";
      a.kind = std::string(alert_kind);
      a.managed_id = m.id;
      a.managed_name = m.spec.name;
      a.team = m.spec.team;
      a.message = "managed certificate '" + m.spec.name + "': " + error.message;
      a.detail = event;
      a.channels = m.spec.alerts.channels;
      if (a.channels.empty() && d_.alerts) a.channels = d_.alerts->failure_channels;
      CW_RETURN_IF_ERROR(store_.add_alert(*tx, a));
      if (d_.alerts) {
        // Sent as expiry alerts are: one durable delivery per channel, in this transaction.
        CW_RETURN_IF_ERROR(alerts::schedule_deliveries(
            *tx, d_.jobs, alerts::AlertStore(d_.clock, d_.db), a, d_.alerts->max_attempts));
      }
      CW_RETURN_IF_ERROR(d_.audit.append(*tx, audit::Event{.actor = actor_for(m),
                                                           .action = "managed.alert",
                                                           .target_type = "managed_certificate",
                                                           .target_id = m.id,
                                                           .details = alert_json(a)}));
      log::warn("managed_alert", {{"id", m.id},
                                  {"name", m.spec.name},
                                  {"kind", a.kind},
                                  {"alert", a.id},
                                  {"error", error.message}});
    }
    return tx->commit();
  }();
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
