// Approval requests (/api/v1/approvals/...): list, show, approve, reject, cancel. Who may see
// and decide what is ca::ApprovalService's rule; these only translate. Requests are made by
// POST /api/v1/certificates with a profile that requires approval (certificates.cc: 202).

#include "api/body.h"
#include "api/json.h"
#include "api/rest_impl.h"
#include "x509/certificate.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

Result<ca::ApprovalService*> approvals(Services& s) {
  if (!s.approvals) return fail(ErrorCode::kUnavailable, "approvals are not served here");
  return s.approvals;
}

Result<http::Response> list_approvals(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"status", "team", "limit", "cursor"}));
  CW_ASSIGN_OR_RETURN(auto* service, approvals(s));
  ca::ApprovalFilter f;
  CW_ASSIGN_OR_RETURN(auto status, query_text(req, "status"));
  if (status) {
    CW_ASSIGN_OR_RETURN(f.status, ca::parse_approval_status(*status));
  }
  CW_ASSIGN_OR_RETURN(f.team, query_text(req, "team"));
  CW_ASSIGN_OR_RETURN(f.limit, query_limit(req, 50));
  CW_ASSIGN_OR_RETURN(f.cursor, query_text(req, "cursor"));
  CW_ASSIGN_OR_RETURN(auto page, service->list(f, id.requester()));
  json items = json::array();
  for (const auto& r : page.items) items.push_back(ca::approval_json(r));
  return ok_json({{"items", std::move(items)},
                  {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}});
}

Result<http::Response> get_approval(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto* service, approvals(s));
  CW_ASSIGN_OR_RETURN(auto r, service->get(req.params["id"], id.requester()));
  return ok_json(ca::approval_json(r));
}

// No body, or an empty JSON object: what is approved is the request as it is stored, nothing
// the approver adds.
Result<http::Response> approve(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  if (!req.body.empty()) {
    CW_RETURN_IF_ERROR(Body::parse(req, {}));
  }
  CW_ASSIGN_OR_RETURN(auto* service, approvals(s));
  CW_ASSIGN_OR_RETURN(auto approved, service->approve(req.params["id"], id.requester()));
  json j = ca::approval_json(approved.request);
  j["certificate_pem"] = approved.issued.certificate.pem();
  j["chain_pem"] = x509::to_pem(approved.issued.chain);
  j["serial"] = approved.issued.certificate.info().serial_hex;
  return ok_json(j);
}

Result<http::Response> reject(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"reason"}));
  CW_ASSIGN_OR_RETURN(auto reason, b.string("reason"));
  CW_ASSIGN_OR_RETURN(auto* service, approvals(s));
  CW_ASSIGN_OR_RETURN(auto r, service->reject(req.params["id"], reason, id.requester()));
  return ok_json(ca::approval_json(r));
}

// The body is optional: {"reason": "..."}.
Result<http::Response> cancel(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  std::string reason;
  if (!req.body.empty()) {
    CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"reason"}));
    CW_ASSIGN_OR_RETURN(auto given, b.opt_string("reason"));
    reason = given.value_or("");
  }
  CW_ASSIGN_OR_RETURN(auto* service, approvals(s));
  CW_ASSIGN_OR_RETURN(auto r, service->cancel(req.params["id"], reason, id.requester()));
  return ok_json(ca::approval_json(r));
}

}  // namespace

void add_approval_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/approvals", Permission::kReadInventory, BodyKind::kNone,
              list_approvals);
  add_guarded(r, s, "GET", "/api/v1/approvals/{id}", Permission::kReadInventory, BodyKind::kNone,
              get_approval);
  add_guarded(r, s, "POST", "/api/v1/approvals/{id}/approve", Permission::kApproveRequests,
              BodyKind::kNone, approve);
  add_guarded(r, s, "POST", "/api/v1/approvals/{id}/reject", Permission::kApproveRequests,
              BodyKind::kJson, reject);
  add_guarded(r, s, "POST", "/api/v1/approvals/{id}/cancel", Permission::kIssue, BodyKind::kNone,
              cancel);
}

}  // namespace certward::api
