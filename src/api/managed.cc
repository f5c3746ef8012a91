// Managed certificates (/api/v1/managed/...): their desired state, renew now, their timeline,
// (their alerts are alerts.cc's). The rules (scope, policy,
// visibility) are lifecycle::ManagedService's; these only translate.

#include "api/body.h"
#include "api/rest_impl.h"
#include "lifecycle/service.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

Result<http::Response> create_managed(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(
      auto b, Body::parse(req, {"name", "common_name", "sans", "profile", "authority", "key",
                                "renew_before", "validity", "targets", "owner", "team", "tags",
                                "alerts", "adopt"}));
  CW_ASSIGN_OR_RETURN(auto spec, lifecycle::parse_managed_spec(b.json()));
  CW_ASSIGN_OR_RETURN(auto m, s.managed.create(std::move(spec), id.requester()));
  auto resp = ok_json(lifecycle::managed_json(m), 201);
  resp.set_header("Location", "/api/v1/managed/" + m.id);
  return resp;
}

Result<http::Response> list_managed(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(
      check_query(req, {"state", "team", "limit", "cursor", "deleted", "fingerprint"}));
  lifecycle::ManagedFilter f;
  CW_ASSIGN_OR_RETURN(auto state, query_text(req, "state"));
  if (state) {
    CW_ASSIGN_OR_RETURN(f.state, lifecycle::parse_managed_state(*state));
  }
  CW_ASSIGN_OR_RETURN(f.team, query_text(req, "team"));
  CW_ASSIGN_OR_RETURN(auto fingerprint, query_text(req, "fingerprint"));
  if (fingerprint) {
    CW_ASSIGN_OR_RETURN(f.fingerprint, auth::certificate_fingerprint(*fingerprint));
  }
  CW_ASSIGN_OR_RETURN(f.limit, query_limit(req, 50, 100000));
  CW_ASSIGN_OR_RETURN(f.cursor, query_text(req, "cursor"));
  CW_ASSIGN_OR_RETURN(auto deleted, query_text(req, "deleted"));
  if (deleted && *deleted != "true" && *deleted != "false") {
    return fail(ErrorCode::kMalformed, "deleted must be true or false");
  }
  f.include_deleted = deleted == "true";
  CW_ASSIGN_OR_RETURN(auto page, s.managed.list(f, id.requester()));
  json items = json::array();
  for (const auto& m : page.items) items.push_back(lifecycle::managed_json(m));
  return ok_json({{"items", std::move(items)},
                  {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}});
}

Result<http::Response> get_managed(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto m, s.managed.get(req.params["id"], id.requester()));
  return ok_json(lifecycle::managed_json(m));
}

Result<http::Response> update_managed(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"common_name", "sans", "profile", "authority",
                                                "key", "renew_before", "validity", "targets",
                                                "owner", "team", "tags", "alerts"}));
  CW_ASSIGN_OR_RETURN(auto m, s.managed.update(req.params["id"], b.json(), id.requester()));
  return ok_json(lifecycle::managed_json(m));
}

Result<http::Response> delete_managed(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(s.managed.remove(req.params["id"], id.requester()));
  return ok_json({{"id", req.params["id"]}, {"deleted", true}});
}

// The body is optional: an empty one renews with the key policy's key.
Result<http::Response> renew_managed(Services& s, http::Request& req, const Identity& id) {
  bool rotate = false;
  if (!req.body.empty()) {
    CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"rotate_key"}));
    CW_ASSIGN_OR_RETURN(auto r, b.opt_bool("rotate_key"));
    rotate = r.value_or(false);
  }
  CW_ASSIGN_OR_RETURN(auto m, s.managed.renew(req.params["id"], rotate, id.requester()));
  return ok_json(lifecycle::managed_json(m), 202);
}

Result<http::Response> managed_timeline(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"limit"}));
  CW_ASSIGN_OR_RETURN(const int limit, query_limit(req, 100));
  CW_ASSIGN_OR_RETURN(auto events, s.managed.timeline(req.params["id"], limit, id.requester()));
  json items = json::array();
  for (const auto& e : events) items.push_back(lifecycle::managed_event_json(e));
  return ok_json({{"id", req.params["id"]}, {"items", std::move(items)}});
}

}  // namespace

void add_managed_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "POST", "/api/v1/managed", Permission::kManage, BodyKind::kJson,
              create_managed);
  add_guarded(r, s, "GET", "/api/v1/managed", Permission::kReadInventory, BodyKind::kNone,
              list_managed);
  add_guarded(r, s, "GET", "/api/v1/managed/{id}", Permission::kReadInventory, BodyKind::kNone,
              get_managed);
  add_guarded(r, s, "PATCH", "/api/v1/managed/{id}", Permission::kManage, BodyKind::kJson,
              update_managed);
  add_guarded(r, s, "DELETE", "/api/v1/managed/{id}", Permission::kManage, BodyKind::kNone,
              delete_managed);
  add_guarded(r, s, "POST", "/api/v1/managed/{id}/renew", Permission::kManage, BodyKind::kNone,
              renew_managed);
  add_guarded(r, s, "GET", "/api/v1/managed/{id}/timeline", Permission::kReadInventory,
              BodyKind::kNone, managed_timeline);
}

}  // namespace certward::api
