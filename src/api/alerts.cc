// Alerts (/api/v1/alerts): those raised (expiry thresholds, managed certificates' failures)
// with their delivery on each channel, the silences, and the alert rules in force. The rules
// (team scope, what may be silenced) are lifecycle::alerts::AlertService's; these only
// translate.

#include "api/body.h"
#include "api/rest_impl.h"
#include "lifecycle/alerts/evaluator.h"
#include "lifecycle/service.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

Result<const lifecycle::alerts::AlertService*> alert_service(Services& s) {
  if (!s.alerts) return fail(ErrorCode::kUnavailable, "alerts are not served here");
  return s.alerts;
}

Result<http::Response> list_alerts(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"limit", "before"}));
  CW_ASSIGN_OR_RETURN(const int limit, query_limit(req, 100));
  CW_ASSIGN_OR_RETURN(auto before, query_text(req, "before"));
  std::vector<lifecycle::Alert> alerts;
  if (s.alerts) {
    CW_ASSIGN_OR_RETURN(alerts, s.alerts->list(limit, before, id.requester()));
  } else {
    CW_ASSIGN_OR_RETURN(alerts, s.managed.alerts(limit, before, id.requester()));
  }
  json items = json::array();
  for (const auto& a : alerts) items.push_back(lifecycle::alert_json(a));
  return ok_json(
      {{"items", std::move(items)},
       {"next_before", next_before(alerts.size(), limit, alerts.empty() ? "" : alerts.back().id)}});
}

Result<http::Response> create_silence(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto service, alert_service(s));
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"certificate", "team", "until", "reason"}));
  lifecycle::alerts::SilenceRequest r;
  CW_ASSIGN_OR_RETURN(r.certificate, b.opt_string("certificate"));
  CW_ASSIGN_OR_RETURN(r.team, b.opt_string("team"));
  CW_ASSIGN_OR_RETURN(auto until, b.string("until"));
  auto at = parse_time(until);
  if (!at) {
    // A duration ("7d") is from now.
    auto d = parse_duration(until);
    if (!d) return fail(ErrorCode::kInvalidArgument, "'until' must be a time or a duration");
    at = s.clock.now() + *d;
  }
  r.until = *at;
  CW_ASSIGN_OR_RETURN(auto reason, b.opt_string("reason"));
  r.reason = reason.value_or("");
  CW_ASSIGN_OR_RETURN(auto silence, service->silence(r, id.requester()));
  return ok_json(lifecycle::alerts::silence_json(silence), 201);
}

Result<http::Response> list_silences(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto service, alert_service(s));
  CW_ASSIGN_OR_RETURN(auto silences, service->silences(id.requester()));
  json items = json::array();
  for (const auto& x : silences) items.push_back(lifecycle::alerts::silence_json(x));
  return ok_json({{"items", std::move(items)}});
}

Result<http::Response> delete_silence(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto service, alert_service(s));
  CW_RETURN_IF_ERROR(service->unsilence(req.params["id"], id.requester()));
  return ok_json({{"id", req.params["id"]}, {"deleted", true}});
}

// The rules and channels in force (channels name where their secrets are, never hold them).
Result<http::Response> alert_rules(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto service, alert_service(s));
  return ok_json(lifecycle::alerts::alert_settings_json(service->settings()));
}

}  // namespace

void add_alert_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/alerts", Permission::kReadInventory, BodyKind::kNone,
              list_alerts);
  add_guarded(r, s, "GET", "/api/v1/alerts/rules", Permission::kCampaign, BodyKind::kNone,
              alert_rules);
  add_guarded(r, s, "GET", "/api/v1/alerts/silences", Permission::kReadInventory, BodyKind::kNone,
              list_silences);
  add_guarded(r, s, "POST", "/api/v1/alerts/silences", Permission::kEditInventory, BodyKind::kJson,
              create_silence);
  add_guarded(r, s, "DELETE", "/api/v1/alerts/silences/{id}", Permission::kEditInventory,
              BodyKind::kNone, delete_silence);
}

}  // namespace certward::api
