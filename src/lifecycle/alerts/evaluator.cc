#include "lifecycle/alerts/evaluator.h"

#include <fmt/format.h>

#include "common/encoding.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "lifecycle/alerts/sender.h"

namespace certward::lifecycle::alerts {
namespace {

using nlohmann::json;

constexpr int kPage = 1000;
constexpr std::size_t kMaxReason = 512;

std::string delivery_key(std::string_view alert_id, std::string_view channel) {
  return "alert:" + std::string(alert_id) + ":" + std::string(channel);
}

std::string name_of(const inventory::CertificateRecord& r) {
  if (!r.common_name.empty()) return clip_text(r.common_name, kQuotedName);
  return r.subject.empty() ? r.fingerprint.substr(0, 16) : clip_text(r.subject, kQuotedName);
}

}  // namespace

std::string_view severity_for(int threshold_days) {
  if (threshold_days <= 1) return "critical";
  if (threshold_days <= 14) return "warning";
  return "info";
}

std::vector<ExpiryCandidate> expiry_candidates(
    const AlertSettings& s, std::span<const inventory::CertificateRecord> records, SysTime now,
    const ActiveSilences& silences) {
  std::vector<ExpiryCandidate> out;
  for (const auto& r : records) {
    if (r.revoked_at || r.superseded_by) continue;
    auto days = reached_threshold(s, r.not_before, r.not_after, now);
    if (!days) continue;
    if (silences.covers(r.fingerprint, r.meta.team)) continue;
    out.push_back({&r, *days});
  }
  return out;
}

Status schedule_deliveries(store::Transaction& tx, const JobQueue& jobs, const AlertStore& store,
                           const Alert& a, int max_attempts) {
  for (const auto& channel : a.channels) {
    CW_RETURN_IF_ERROR(store.add_delivery(tx, a.id, channel));
    NewJob job;
    job.kind = std::string(kDeliverJob);
    job.payload = {{"alert", a.id}, {"channel", channel}};
    job.dedupe_key = delivery_key(a.id, channel);
    job.on_pending = OnPending::kKeep;
    job.max_attempts = max_attempts;
    CW_RETURN_IF_ERROR(jobs.enqueue(tx, job));
  }
  return ok();
}

Alert AlertService::expiry_alert(const ExpiryCandidate& c, SysTime now) const {
  const auto& r = *c.record;
  const auto left = std::chrono::duration_cast<std::chrono::hours>(r.not_after - now);
  Alert a;
  a.at = now;
  a.id = new_alert_id(now);
  a.severity = std::string(severity_for(c.threshold_days));
  a.kind = "expiry";
  a.team = r.meta.team;
  a.fingerprint = r.fingerprint;
  a.dedupe_key = expiry_dedupe_key(r.fingerprint, c.threshold_days);
  a.message = fmt::format("certificate '{}' ({}) expires {} ({} days {} hours left; threshold {}d)",
                          name_of(r), r.fingerprint.substr(0, 16), format_time(r.not_after),
                          left.count() / 24, left.count() % 24, c.threshold_days);
  a.detail = {{"fingerprint", r.fingerprint},
              {"serial", r.serial},
              {"subject", clip_text(r.subject, kQuotedName)},
              {"issuer", clip_text(r.issuer, kQuotedName)},
              {"not_before", format_time(r.not_before)},
              {"not_after", format_time(r.not_after)},
              {"threshold_days", c.threshold_days},
              {"owner", r.meta.owner ? json(*r.meta.owner) : json(nullptr)}};
  a.channels = channels_for(d_.settings, c.threshold_days);
  return a;
}

Result<bool> AlertService::issuer_failover(std::string_view profile, std::string_view failed,
                                           std::string_view used, std::string_view error) const {
  const SysTime now = d_.clock.now();
  Alert a;
  a.at = now;
  a.id = new_alert_id(now);
  a.severity = "warning";
  a.kind = "issuer_failover";
  a.message = fmt::format("profile '{}': issuer '{}' failed, '{}' issued instead: {}", profile,
                          failed, used, clip_text(error, 400));
  a.detail = {{"profile", profile}, {"failed", failed}, {"used", used}, {"error", error}};
  a.channels = d_.settings.failure_channels;
  const auto hour = std::chrono::duration_cast<std::chrono::hours>(now.time_since_epoch()).count();
  a.dedupe_key = fmt::format("issuer_failover:{}:{}:{}:{}", profile, failed, used, hour);
  CW_ASSIGN_OR_RETURN(std::int64_t raised, raise({std::move(a)}));
  return raised > 0;
}

Result<std::int64_t> AlertService::raise(
    std::vector<Alert> alerts, const std::function<Status(store::Transaction&)>& also) const {
  if (alerts.empty() && !also) return 0;
  std::vector<std::string> keys;
  keys.reserve(alerts.size());
  for (const auto& a : alerts) keys.push_back(a.dedupe_key.value_or(""));
  // Read first, so that a page whose alerts were all raised before writes nothing; the
  // insert below is what guarantees once (ON CONFLICT), should another writer race.
  std::set<std::string> raised;
  {
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(raised, store_.existing_keys(*tx, keys));
  }
  if (raised.size() == keys.size() && !also) return 0;
  std::int64_t n = 0;
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  std::vector<const Alert*> fresh;
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    if (raised.contains(keys[i])) continue;
    CW_ASSIGN_OR_RETURN(bool inserted, store_.insert(*tx, alerts[i]));
    if (!inserted) continue;
    CW_RETURN_IF_ERROR(
        schedule_deliveries(*tx, d_.jobs, store_, alerts[i], d_.settings.max_attempts));
    fresh.push_back(&alerts[i]);
    ++n;
  }
  if (also) CW_RETURN_IF_ERROR(also(*tx));
  CW_RETURN_IF_ERROR(tx->commit());
  for (const Alert* a : fresh) {
    log::info("alert_raised", {{"alert", a->id},
                               {"kind", a->kind},
                               {"fingerprint", a->fingerprint.value_or("")},
                               {"key", a->dedupe_key.value_or("")},
                               {"channels", json(a->channels).dump()}});
  }
  return n;
}

Result<EvaluationReport> AlertService::evaluate() const {
  EvaluationReport report;
  if (!d_.settings.enabled) return report;
  const SysTime now = d_.clock.now();
  if (!d_.settings.thresholds.empty()) {
    CW_ASSIGN_OR_RETURN(report, evaluate_expiry(now));
  }
  CW_ASSIGN_OR_RETURN(auto changes, evaluate_discovery(now));
  report.raised += changes;
  return report;
}

Result<EvaluationReport> AlertService::evaluate_expiry(SysTime now) const {
  EvaluationReport report;
  CW_ASSIGN_OR_RETURN(auto silences, store_.active_silences(now, LookOut::kExpiry));
  inventory::Filter f;
  f.expires_after = now;
  f.expires_before =
      now + std::chrono::days(d_.settings.thresholds.front()) + std::chrono::hours(1);
  inventory::PageRequest page{.limit = kPage, .cursor = std::nullopt};
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto p, d_.inventory.query(f, page));
    report.examined += static_cast<std::int64_t>(p.items.size());
    const auto candidates = expiry_candidates(d_.settings, p.items, now, silences);
    report.reached += static_cast<std::int64_t>(candidates.size());
    std::vector<Alert> alerts;
    alerts.reserve(candidates.size());
    for (const auto& c : candidates) alerts.push_back(expiry_alert(c, now));
    CW_ASSIGN_OR_RETURN(auto n, raise(std::move(alerts)));
    report.raised += n;
    if (!p.next_cursor) break;
    page.cursor = p.next_cursor;
  }
  return report;
}

Status AlertService::deliver(const Job& job) const {
  const std::string alert_id = job.payload.value("alert", "");
  const std::string channel = job.payload.value("channel", "");
  if (alert_id.empty() || channel.empty()) {
    return fail(ErrorCode::kMalformed, "a delivery job names an alert and a channel");
  }
  CW_ASSIGN_OR_RETURN(auto alert, store_.get(alert_id));
  if (!alert) return ok();  // nothing left to send
  const ChannelSpec* spec = d_.settings.channel(channel);
  if (!spec) {
    // Retrying cannot help: the configuration no longer has (or never had) the channel.
    log::warn("alert_delivery_failed",
              {{"alert", alert_id}, {"channel", channel}, {"error", "no such channel"}});
    return store_.record_attempt(alert_id, channel, "failed", "no channel named " + channel);
  }
  Status sent = send_alert(*spec, *alert, d_.clock.now());
  if (sent) {
    log::info("alert_sent", {{"alert", alert_id}, {"channel", channel}, {"attempt", job.attempts}});
    return store_.record_attempt(alert_id, channel, "sent", "");
  }
  const bool final = job.attempts >= job.max_attempts;
  log::warn(final ? "alert_delivery_failed" : "alert_delivery_retrying",
            {{"alert", alert_id},
             {"channel", channel},
             {"attempt", job.attempts},
             {"error", sent.error().message}});
  CW_RETURN_IF_ERROR(store_.record_attempt(alert_id, channel, final ? "failed" : "retrying",
                                           sent.error().message));
  return sent;
}

Result<std::vector<Alert>> AlertService::list(int limit, const std::optional<std::string>& before,
                                              const ca::Requester& caller) const {
  if (caller.scope && !caller.team) return std::vector<Alert>{};
  return store_.list(caller.scope ? caller.team : std::nullopt, limit, before);
}

Result<Silence> AlertService::silence(const SilenceRequest& r, const ca::Requester& caller) const {
  const SysTime now = d_.clock.now();
  if (r.certificate.has_value() == r.team.has_value()) {
    return fail(ErrorCode::kInvalidArgument, "silence either a certificate or a team");
  }
  if (r.until <= now || r.until > now + std::chrono::days(366)) {
    return fail(ErrorCode::kInvalidArgument, "'until' must be in the future, within a year");
  }
  if (r.reason.size() > kMaxReason) return fail(ErrorCode::kInvalidArgument, "reason too long");
  Silence s;
  s.id = new_alert_id(now);
  s.until = r.until;
  s.reason = r.reason;
  s.created_by = caller.actor;
  s.created_at = now;
  s.reach = caller.scope ? SilenceReach::kExpiry : SilenceReach::kAll;
  if (r.certificate) {
    // A scoped caller resolves among its team's certificates only: another team's is not
    // found, as if absent.
    std::optional<std::string> only_team;
    if (caller.scope) {
      if (!caller.team) return fail(ErrorCode::kNotFound, "no certificate " + *r.certificate);
      only_team = caller.team;
    }
    CW_ASSIGN_OR_RETURN(auto rec, d_.inventory.resolve(*r.certificate, only_team));
    s.fingerprint = rec.fingerprint;
    s.team = rec.meta.team;
  } else {
    if (r.team->empty() || r.team->size() > 256) {
      return fail(ErrorCode::kInvalidArgument, "bad team name");
    }
    if (caller.scope && caller.team != r.team) {
      return fail(ErrorCode::kUnauthorized, "a requester may silence only its own team");
    }
    s.team = r.team;
  }
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(store_.add_silence(*tx, s));
  CW_RETURN_IF_ERROR(d_.audit.append(*tx, audit::Event{.actor = caller.actor,
                                                       .action = "alert.silence",
                                                       .target_type = "alert_silence",
                                                       .target_id = s.id,
                                                       .details = silence_json(s)}));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info("alert_silenced", {{"silence", s.id}, {"actor", caller.actor}});
  return s;
}

Status AlertService::unsilence(std::string_view id, const ca::Requester& caller) const {
  if (caller.scope && !caller.team)
    return fail(ErrorCode::kNotFound, "no silence " + std::string(id));
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(store_.remove_silence(*tx, id, caller.scope ? caller.team : std::nullopt));
  CW_RETURN_IF_ERROR(d_.audit.append(*tx, audit::Event{.actor = caller.actor,
                                                       .action = "alert.unsilence",
                                                       .target_type = "alert_silence",
                                                       .target_id = std::string(id),
                                                       .details = nlohmann::json::object()}));
  return tx->commit();
}

Result<std::vector<Silence>> AlertService::silences(const ca::Requester& caller) const {
  if (caller.scope && !caller.team) return std::vector<Silence>{};
  return store_.silences(caller.scope ? caller.team : std::nullopt);
}

}  // namespace certward::lifecycle::alerts
