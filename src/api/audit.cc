// The audit log: /api/v1/audit/events (filtered, newest first) and /api/v1/audit/verify.

#include <algorithm>

#include "api/json.h"
#include "api/rest_impl.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

Result<http::Response> audit_events(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {"actor", "action", "target_type", "target_id", "since",
                                       "until", "before_seq", "limit"}));
  audit::EventFilter f;
  CW_ASSIGN_OR_RETURN(f.actor, query_text(req, "actor"));
  CW_ASSIGN_OR_RETURN(f.action, query_text(req, "action"));
  CW_ASSIGN_OR_RETURN(f.target_type, query_text(req, "target_type"));
  CW_ASSIGN_OR_RETURN(f.target_id, query_text(req, "target_id"));
  CW_ASSIGN_OR_RETURN(auto since, query_text(req, "since"));
  if (since) {
    CW_ASSIGN_OR_RETURN(f.since, parse_time(*since));
  }
  CW_ASSIGN_OR_RETURN(auto until, query_text(req, "until"));
  if (until) {
    CW_ASSIGN_OR_RETURN(f.until, parse_time(*until));
  }
  CW_ASSIGN_OR_RETURN(f.after_seq, query_int(req, "before_seq"));
  CW_ASSIGN_OR_RETURN(auto limit, query_int(req, "limit"));
  if (limit) f.limit = static_cast<int>(std::clamp<std::int64_t>(*limit, -1, 100000));
  CW_ASSIGN_OR_RETURN(auto events, s.audit.list(f));
  json items = json::array();
  for (const auto& e : events) items.push_back(event_json(e));
  std::optional<std::string> next;
  if (static_cast<int>(events.size()) == f.limit && !events.empty())
    next = std::to_string(events.back().seq);
  return ok_json(
      {{"items", items}, {"next_before_seq", next ? json(std::stoll(*next)) : json(nullptr)}});
}

Result<http::Response> audit_verify(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {"checkpoint"}));
  CW_ASSIGN_OR_RETURN(auto text, query_text(req, "checkpoint"));
  std::optional<audit::Checkpoint> checkpoint;
  if (text) {
    CW_ASSIGN_OR_RETURN(checkpoint, audit::parse_checkpoint(*text));
  }
  CW_ASSIGN_OR_RETURN(auto report, s.audit.verify(checkpoint));
  return ok_json(verify_report_json(report, checkpoint.has_value()));
}

}  // namespace

void add_audit_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/audit/events", Permission::kReadAudit, BodyKind::kNone,
              audit_events);
  add_guarded(r, s, "GET", "/api/v1/audit/verify", Permission::kReadAudit, BodyKind::kNone,
              audit_verify);
}

}  // namespace certward::api
