// The look-outs beside expiry (evaluator.h): new policy violations and TLS endpoints that
// started showing a certificate only discovery knows.
#include <fmt/format.h>

#include <map>

#include "common/encoding.h"
#include "common/log.h"
#include "lifecycle/alerts/evaluator.h"

namespace certward::lifecycle::alerts {
namespace {

using nlohmann::json;

// Violations gathered before their digests are written: bounds memory and a transaction's size
// on a first look over a large inventory.
constexpr std::size_t kPolicyFlush = 5000;
// Violations a digest names one by one; the rest are counted.
constexpr std::size_t kDigestItems = 20;
constexpr std::string_view kDiscoveryMark = "discovery.tls";
// Read again on every look: a scan's transaction may commit after a later one's.
constexpr auto kDiscoveryOverlap = std::chrono::minutes(1);
// The first look (no mark yet) goes back this far.
constexpr auto kDiscoveryFirstLook = std::chrono::hours(24);
constexpr int kPage = 1000;

std::string_view alert_severity(policy::Severity s) {
  switch (s) {
    case policy::Severity::kCritical:
      return "critical";
    case policy::Severity::kHigh:
      return "warning";
    default:
      return "info";
  }
}

}  // namespace

// New violations of one rule by one team's certificates and keys, told of in one alert.
struct AlertService::PolicyDigest {
  std::string rule;
  std::optional<std::string> team;
  policy::Severity severity = policy::Severity::kHigh;
  std::vector<policy::Violation> items;
};

Result<std::int64_t> AlertService::evaluate_policy() const {
  if (!d_.settings.enabled || !d_.settings.policy_alerts || d_.policy == nullptr) return 0;
  const SysTime now = d_.clock.now();
  CW_ASSIGN_OR_RETURN(auto silences, store_.active_silences(now));
  // Keyed by rule and team, so that a digest goes to (and is seen by) one team.
  std::map<std::pair<std::string, std::string>, PolicyDigest> pending;
  std::size_t gathered = 0;
  std::int64_t told = 0;
  auto flush = [&]() -> Status {
    std::vector<PolicyDigest> digests;
    for (auto& [key, d] : pending) digests.push_back(std::move(d));
    pending.clear();
    gathered = 0;
    CW_ASSIGN_OR_RETURN(auto n, flush_policy(digests, now));
    told += n;
    return ok();
  };
  policy::ViolationFilter filter{.rule = std::nullopt,
                                 .min_severity = d_.settings.policy_min_severity,
                                 .team = std::nullopt};
  std::optional<std::string> cursor;
  do {
    CW_ASSIGN_OR_RETURN(auto page, d_.policy->violations(filter, kPage, cursor));
    for (auto& v : page.items) {
      // A silenced one is left unmarked: it is told of once the silence ends.
      if (silences.covers(v.subject_id, v.team)) continue;
      auto& d = pending[{v.rule, v.team.value_or("")}];
      if (d.items.empty()) {
        d.rule = v.rule;
        d.team = v.team;
        d.severity = v.severity;
      }
      d.items.push_back(std::move(v));
      ++gathered;
    }
    if (gathered >= kPolicyFlush) {
      CW_RETURN_IF_ERROR(flush());
    }
    cursor = page.next_cursor;
  } while (cursor);
  CW_RETURN_IF_ERROR(flush());
  return told;
}

Result<std::int64_t> AlertService::flush_policy(std::vector<PolicyDigest>& digests,
                                                SysTime now) const {
  // What earlier digests told of is dropped first, in a read: a look that finds nothing new
  // (every one after the first, mostly) writes nothing.
  {
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
    for (auto& d : digests) {
      std::vector<std::string> subjects;
      subjects.reserve(d.items.size());
      for (const auto& v : d.items) subjects.push_back(v.subject_id);
      CW_ASSIGN_OR_RETURN(auto seen, store_.policy_seen(*tx, d.rule, subjects));
      std::erase_if(d.items, [&](const policy::Violation& v) { return seen.contains(v.subject_id); });
    }
  }
  std::erase_if(digests, [](const PolicyDigest& d) { return d.items.empty(); });
  if (digests.empty()) return 0;
  std::int64_t told = 0;
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  std::vector<Alert> raised;
  for (auto& d : digests) {
    Alert a;
    a.at = now;
    a.id = new_alert_id(now);
    // Marked in the alert's transaction: a violation is told of by exactly one digest, even
    // when another replica looks at the same time (the second's marks find the rows taken).
    std::vector<const policy::Violation*> fresh;
    for (const auto& v : d.items) {
      CW_ASSIGN_OR_RETURN(bool marked, store_.mark_policy_seen(*tx, d.rule, v.subject_id, a.id));
      if (marked) fresh.push_back(&v);
    }
    if (fresh.empty()) continue;
    a.severity = std::string(alert_severity(d.severity));
    a.kind = "policy_violation";
    a.team = d.team;
    if (fresh.size() == 1) a.fingerprint = fresh.front()->subject_id;
    a.dedupe_key = "policy:" + d.rule + ":" + fresh.front()->subject_id;
    json items = json::array();
    for (std::size_t i = 0; i < fresh.size() && i < kDigestItems; ++i) {
      const auto& v = *fresh[i];
      items.push_back({{"type", v.subject_type},
                       {"fingerprint", v.subject_id},
                       {"subject", v.subject},
                       {"origin", v.origin},
                       {"message", v.message}});
    }
    const auto& first = *fresh.front();
    a.message = fresh.size() == 1
                    ? fmt::format("policy rule '{}' is broken by {} '{}': {}", d.rule,
                                  first.subject_type == "ssh_key" ? "SSH key" : "certificate",
                                  first.subject, first.message)
                    : fmt::format("policy rule '{}' is broken by {} certificates or keys{} "
                                  "not reported before (first: '{}': {})",
                                  d.rule, fresh.size(), d.team ? " of team '" + *d.team + "'" : "",
                                  first.subject, first.message);
    a.detail = {{"rule", d.rule},
                {"rule_severity", policy::severity_name(d.severity)},
                {"count", fresh.size()},
                {"violations", std::move(items)},
                {"more", fresh.size() > kDigestItems ? fresh.size() - kDigestItems : 0}};
    a.channels = channels_or_default(d_.settings, d_.settings.policy_channels);
    CW_ASSIGN_OR_RETURN(bool inserted, store_.insert(*tx, a));
    if (!inserted) {
      // The key names a violation this alert's marks just took: only a torn earlier write
      // could hold it. Refuse rather than mark without telling.
      return fail(ErrorCode::kConflict, "policy alert key " + *a.dedupe_key + " is taken");
    }
    CW_RETURN_IF_ERROR(schedule_deliveries(*tx, d_.jobs, store_, a, d_.settings.max_attempts));
    told += static_cast<std::int64_t>(fresh.size());
    raised.push_back(std::move(a));
  }
  CW_RETURN_IF_ERROR(tx->commit());
  for (const auto& a : raised) {
    log::info("alert_raised", {{"alert", a.id},
                               {"kind", a.kind},
                               {"key", a.dedupe_key.value_or("")},
                               {"count", a.detail.value("count", 0)},
                               {"channels", json(a.channels).dump()}});
  }
  return told;
}

Result<std::int64_t> AlertService::evaluate_discovery(SysTime now) const {
  if (!d_.settings.discovery_alerts || d_.sightings == nullptr) return 0;
  std::optional<SysTime> mark;
  {
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(mark, store_.mark(*tx, kDiscoveryMark));
  }
  const SysTime since = mark ? *mark - kDiscoveryOverlap : now - kDiscoveryFirstLook;
  CW_ASSIGN_OR_RETURN(auto silences, store_.active_silences(now));
  std::optional<std::pair<SysTime, std::string>> after;
  SysTime newest = mark.value_or(since);
  std::int64_t raised = 0;
  for (;;) {
    std::vector<inventory::PlaceChange> changes;
    {
      CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
      CW_ASSIGN_OR_RETURN(changes, d_.sightings->first_seen_since(*tx, "tls", since, after, kPage));
    }
    std::vector<Alert> alerts;
    for (const auto& c : changes) {
      const auto& s = c.sighting;
      newest = std::max(newest, s.first_seen);
      if (!c.previous || silences.covers(s.fingerprint, s.team)) continue;
      CW_ASSIGN_OR_RETURN(auto record, d_.inventory.get(s.fingerprint));
      // Known certificates (issued or imported through certward, or an upstream CA's it
      // recorded) replacing each other is renewal, not news.
      if (!record || record->meta.origin != inventory::Origin::kDiscovered) continue;
      Alert a;
      a.at = now;
      a.id = new_alert_id(now);
      a.severity = "warning";
      a.kind = "discovery_change";
      a.team = s.team;
      a.fingerprint = s.fingerprint;
      a.dedupe_key = "discovery:" + s.kind + ":" + s.location + ":" + s.fingerprint;
      a.message = fmt::format(
          "endpoint {} now serves a certificate certward does not know: '{}' ({}), issued by "
          "'{}'; it served {} before",
          s.location, record->subject, s.fingerprint.substr(0, 16), record->issuer,
          c.previous->substr(0, 16));
      a.detail = {{"location", s.location},
                  {"fingerprint", s.fingerprint},
                  {"previous_fingerprint", *c.previous},
                  {"subject", record->subject},
                  {"issuer", record->issuer},
                  {"not_after", format_time(record->not_after)},
                  {"first_seen", format_time(s.first_seen)}};
      a.channels = channels_or_default(d_.settings, d_.settings.discovery_channels);
      alerts.push_back(std::move(a));
    }
    const SysTime reached = newest;
    std::function<Status(store::Transaction&)> move_mark;
    if (!mark || reached > *mark) {
      move_mark = [&](store::Transaction& tx) {
        return store_.set_mark(tx, kDiscoveryMark, reached);
      };
    }
    CW_ASSIGN_OR_RETURN(auto n, raise(std::move(alerts), move_mark));
    raised += n;
    if (changes.size() < static_cast<std::size_t>(kPage)) break;
    after = std::make_pair(changes.back().sighting.first_seen, changes.back().sighting.id);
  }
  return raised;
}

}  // namespace certward::lifecycle::alerts
