#include "lifecycle/failure.h"

#include <fmt/format.h>

#include "common/encoding.h"
#include "common/log.h"
#include "lifecycle/alerts/evaluator.h"

namespace certward::lifecycle {

using nlohmann::json;

Result<std::optional<ManagedCertificate>> record_failure(
    store::Transaction& tx, const LifecycleDeps& deps, const ManagedStore& store,
    const std::string& id, const Error& error, std::string_view alert_kind, const json& detail,
    const std::string& actor) {
  CW_ASSIGN_OR_RETURN(auto row, store.find(tx, id, /*lock=*/true));
  if (!row || row->state == ManagedState::kDeleted) {
    return std::optional<ManagedCertificate>();
  }
  ManagedCertificate m = *std::move(row);
  const std::string who = actor.empty() ? "managed:" + m.spec.name : actor;
  const SysTime now = deps.clock.now();
  m.state = ManagedState::kFailed;
  m.attempts += 1;
  m.last_error = error.message;
  std::chrono::seconds delay = deps.settings.retry_base;
  for (int i = 1; i < m.attempts && delay < deps.settings.retry_max; ++i) delay *= 2;
  m.next_check_at = now + std::min(delay, deps.settings.retry_max);
  CW_ASSIGN_OR_RETURN(auto stored, store.update(tx, m));
  // Locked above: only a bug could have changed it since.
  if (!stored) return fail(ErrorCode::kInternal, "managed certificate " + id + " changed");
  json event = detail;
  event["error"] = error.message;
  event["code"] = error_code_name(error.code);
  event["attempts"] = m.attempts;
  CW_RETURN_IF_ERROR(store.add_event(tx, m.id, "failed", who, event));
  CW_RETURN_IF_ERROR(deps.audit.append(tx, audit::Event{.actor = who,
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
    if (a.channels.empty() && deps.alerts) a.channels = deps.alerts->failure_channels;
    CW_RETURN_IF_ERROR(store.add_alert(tx, a));
    if (deps.alerts) {
      // Sent as expiry alerts are: one durable delivery per channel, in this transaction.
      CW_RETURN_IF_ERROR(alerts::schedule_deliveries(
          tx, deps.jobs, alerts::AlertStore(deps.clock, deps.db), a, deps.alerts->max_attempts));
    }
    CW_RETURN_IF_ERROR(deps.audit.append(tx, audit::Event{.actor = who,
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
  return std::optional<ManagedCertificate>(std::move(m));
}

}  // namespace certward::lifecycle
